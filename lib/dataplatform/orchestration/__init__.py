"""Per-pipeline orchestration: the `orchestration:` section of `pipeline.yaml`, the Airflow DAG
and Dagster definitions generated from it, their validation in a managed environment, and the
platform's assembled dags folder and Dagster workspace."""
