"""CDC replication from SQL Server to PostgreSQL through Redpanda, generated from YAML.

`types` holds one record per SQL Server type (its PostgreSQL type, how it is read and how it
travels), `metadata` the `__cdc_*` columns every replica has, `naming` the topic and identifier
rules, `layout` where inputs and outputs live (and the generator version), `model` and `loader`
read the source groups and a pipeline's tables, `outputs` lists every name an input becomes,
`statements` writes the T-SQL change queries and the sink's upserts, `connect` assembles the
Redpanda Connect configs and `lint` checks them against Redpanda Connect's specification,
`dbt_staging` writes the dbt sources and staging models, `generate` renders a whole pipeline's
files. The replicas' DDL is the warehouse generator's (`dataplatform.warehouse`).
"""
