"""Pipelines: discovery of `pipelines/<name>/pipeline.yaml` and what each declares."""
