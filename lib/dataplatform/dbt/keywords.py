"""Words each dbt target's SQL reserves: a column named like one cannot be written bare in a
query (`select user from …` is PostgreSQL's current role, `select order from …` a syntax error).

One place for them, per target of `dataplatform.dbt.runner.TARGETS`, so generated models can
give such a column a name a downstream query can write bare. The lists are the engines' own:
DuckDB's `duckdb_keywords()` words with no category but `reserved`/`type_function`, and
PostgreSQL's `pg_get_keywords()` words of catcode `R` (reserved) or `T` (reserved, but can be a
function or type name). tests/test_cdc_dbt.py checks them against the real engines: every
keyword not listed works as a bare column reference, and every listed one does not.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


RESERVED: dict[str, frozenset[str]] = {
    "duckdb": _words("""
        all analyse analyze and anti any array as asc asof asymmetric at authorization
        binary both by case cast check collate collation column concurrently constraint
        create cross default deferrable desc describe distinct do else end except false
        fetch for foreign freeze from full glob group having ilike in initially inner
        intersect into is isnull join lambda lateral leading left like limit natural not
        notnull null offset on only or order outer overlaps pivot pivot_longer pivot_wider
        placing positional primary qualify references returning right select semi show
        similar some summarize symmetric table tablesample then to trailing true union
        unique unpack unpivot using variadic verbose when where window with
    """),
    "postgres": _words("""
        all analyse analyze and any array as asc asymmetric authorization binary both case
        cast check collate collation column concurrently constraint create cross
        current_catalog current_date current_role current_schema current_time
        current_timestamp current_user default deferrable desc distinct do else end except
        false fetch for foreign freeze from full grant group having ilike in initially inner
        intersect into is isnull join lateral leading left like limit localtime
        localtimestamp natural not notnull null offset on only or order outer overlaps
        placing primary references returning right select session_user similar some
        symmetric table tablesample then to trailing true union unique user using variadic
        verbose when where window with
    """),
}
SUFFIX = "_"


def bare_column(name: str) -> str:
    """`name` (lowercase) if every target can use it as a bare column name, else a name that
    can be: a reserved word gets a trailing `_` (`user` → `user_`; one model runs on every
    target, so a word any of them reserves is renamed), a name starting with a digit a
    leading `_` (`1st_contact` → `_1st_contact`, as a digit cannot start a bare name)."""
    if name[:1].isdigit():
        return "_" + name
    return name + SUFFIX if any(name in words for words in RESERVED.values()) else name
