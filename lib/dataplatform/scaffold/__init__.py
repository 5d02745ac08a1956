"""create-pipeline: name rules, rendering `pipelines/_templates/<template>` with cookiecutter,
and template provenance (which template, at which fingerprint, each pipeline came from)."""
