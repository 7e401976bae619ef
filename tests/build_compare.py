"""Two build files compared model by model: what the incremental-build tests share.

:func:`raw_copy` makes a build file of another's raw cells (and the quality stage's findings), to be built by
dbt; :func:`differences` compares every table of dbt's schemas in two build files, row by row.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

RAW_TABLES = ("cells", "releases", "dimension_labels", "landing_objects")
# What the quality stage wrote for the build: the models of the second dbt step read it.
FINDINGS = "quality.findings"
SCHEMAS = ("staging", "intermediate", "marts")
# When a row was built, and the dbt invocation that built it (the findings models stamp their run).
BOOKKEEPING = {"built_at", "run_id"}
# Models only: the data tests have their own modules (test_dbt_models and others run them on the demo build).
BUILD = ["--exclude", "resource_type:test", "resource_type:unit_test"]
INCREMENTAL = {
    "staging.stg_ssb__cells",
    "intermediate.int_cells__catalogue_matched",
    "intermediate.int_cells__current",
    "intermediate.int_indicator_values__by_code",
    "intermediate.int_indicator_values__harmonised",
    "marts.indicator_values",
    "marts.revisions",
}


def raw_copy(source: Path, dest: Path, *, before: str | None = None) -> None:
    """A build file with only the raw tables of ``source`` (the releases before ``before`` if given) and the
    quality stage's findings."""
    con = duckdb.connect(str(dest))
    try:
        con.execute("attach ? as src (read_only)", [str(source)])
        con.execute("create schema quality")
        con.execute(f"create table {FINDINGS} as select * from src.{FINDINGS}")
        con.execute("create schema raw")
        for table in RAW_TABLES:
            where = "" if before is None else " where release_updated < cast(? as timestamp)"
            con.execute(
                f"create table raw.{table} as select * from src.raw.{table}{where}",
                [] if before is None else [before],
            )
        con.execute("detach src")
    finally:
        con.close()


def add_release(source: Path, dest: Path, since: str) -> int:
    con = duckdb.connect(str(dest))
    try:
        con.execute("attach ? as src (read_only)", [str(source)])
        for table in RAW_TABLES:
            con.execute(
                f"insert into raw.{table} select * from src.raw.{table} where release_updated >= cast(? as timestamp)",
                [since],
            )
        added = con.execute(
            "select count(*) from raw.cells where release_updated >= cast(? as timestamp)", [since]
        )
        n = added.fetchone()[0]
        con.execute("detach src")
    finally:
        con.close()
    return n


def differences(got_db: Path, want_db: Path) -> tuple[list[str], dict[str, str]]:
    """The tables of the dbt schemas in ``want_db``, and per table that ``got_db`` has otherwise: what differs.

    Rows are compared in order (sorted by every column), bookkeeping columns left out; doubles within 1e-9
    (relative or absolute), not exactly: a sum of doubles is not associative, and DuckDB adds them in whatever
    order its threads reach them, so two full builds of the same cells differ in the last bits too.
    """
    con = duckdb.connect()
    try:
        con.execute("attach ? as got (read_only)", [str(got_db)])
        con.execute("attach ? as want (read_only)", [str(want_db)])
        tables = [
            f"{s}.{t}"
            for s, t in con.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = 'want' "
                "and schema_name in ? order by 1, 2",
                [list(SCHEMAS)],
            ).fetchall()
        ]
        differ = {}
        for name in tables:
            schema, table = name.split(".")
            columns = [
                (c, kind)
                for c, kind in con.execute(
                    "select column_name, data_type from duckdb_columns() where database_name = 'want' "
                    "and schema_name = ? and table_name = ? order by column_index",
                    [schema, table],
                ).fetchall()
                if c not in BOOKKEEPING
            ]
            exact = [f'"{c}"' for c, kind in columns if kind not in ("DOUBLE", "FLOAT")]
            doubles = [f'"{c}"' for c, kind in columns if kind in ("DOUBLE", "FLOAT")]
            key = f"cast(({', '.join(exact)},) as varchar)" if exact else "''"
            order = ", ".join(["k", *(f"round({c}, 3)" for c in doubles)])
            side = "select row_number() over (order by {order}) as rn, * from (select {key} as k{cols} from {db}.{name})"
            cols = "".join(f", {c}" for c in doubles)
            mismatch = " or ".join(
                [
                    "g.k is distinct from w.k",
                    *(
                        f"not (g.{c} is not distinct from w.{c} or abs(g.{c} - w.{c}) <= 1e-9 * (1 + abs(w.{c})))"
                        for c in doubles
                    ),
                ]
            )
            rows_got, rows_want, bad = con.execute(
                f"""
                with g as ({side.format(order=order, key=key, cols=cols, db="got", name=name)}),
                     w as ({side.format(order=order, key=key, cols=cols, db="want", name=name)})
                select (select count(*) from g), (select count(*) from w),
                       (select count(*) from g full join w using (rn) where {mismatch})
                """
            ).fetchone()
            if (rows_got, bad) != (rows_want, 0):
                differ[name] = f"{rows_got} rows against {rows_want}, {bad} differ"
    finally:
        con.close()
    return tables, differ


def comments(db: Path) -> dict[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select schema_name || '.' || table_name, comment from duckdb_tables() where comment is not null"
        ).fetchall()
    finally:
        con.close()
    return dict(rows)
