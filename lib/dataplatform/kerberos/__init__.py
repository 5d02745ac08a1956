"""Kerberos for the platform: a local test realm (`kdc`), the ticket sidecar (`sidecar`), the
ticket cache reader they share (`ccache`), the services.yaml checks (`config`), the diagnosis
behind `invoke doctor` and `invoke kerberos.test-login` (`diagnose`), and that login's run from
inside the platform, in a client container (`inside`).

`ccache`, `kdc` and `sidecar` use the standard library only: the kdc and kerberos-sidecar images
run these very files with Debian's python3 (this folder is their build context)."""
