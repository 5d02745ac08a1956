"""The labels that mark what belongs to this project on a Docker engine.

Every image, container, network and volume the toolkit creates carries `PROJECT`; nothing
without it is ever stopped, removed or pruned.
"""

PROJECT = "dataplatform.project"
IMAGE = "dataplatform.image"
FINGERPRINT = "dataplatform.fingerprint"
# On a service's container: which service it runs and the hash of its definition
# (services/desired.py), which `up` compares to keep or recreate it.
SERVICE = "dataplatform.service"
CONFIG_HASH = "dataplatform.config-hash"
# On a volume: "true" when `down` keeps it (only `down --volumes --yes` removes it); VOLUME names
# a top-level (shared) volume's key in services.yaml, SERVICE the owner of a per-service one.
PERSISTENT = "dataplatform.persistent"
VOLUME = "dataplatform.volume"
# On a service's container, so `down` can stop in reverse dependency order with the service's
# grace period even when services.yaml does not load (its stop signal is the container's own).
DEPENDS_ON = "dataplatform.depends-on"  # comma-separated service names
STOP_GRACE = "dataplatform.stop-grace-period"  # seconds
# Not a label but a tag repository: `<CURRENT_MARK>/<image>:<checkout id>` marks the image a
# checkout currently uses (images/checkouts.py), so cleaning one clone spares another's.
CURRENT_MARK = "dataplatform-current"
