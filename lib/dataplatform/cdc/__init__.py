"""CDC replication from SQL Server to PostgreSQL through Redpanda, generated from YAML.

`types` maps SQL Server types to PostgreSQL, `naming` makes topic and identifier names,
`model` and `loader` read the source groups and a pipeline's tables, `tsql` and `pgsql` write
the statements, `connect` assembles the Redpanda Connect configs, `generate` renders a whole
pipeline's files.
"""
