"""The warehouse: declarative bronze/silver/gold tables with system-time history, the SQL that
makes them, and plan/deploy of that SQL to PostgreSQL with a ledger."""
