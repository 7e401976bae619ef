"""Incremental by release: a build after a new release gives what a full rebuild of the same cells gives.

From the raw cells of the shared demo build (four releases): build the dbt models on every release but the
newest June one, add that release's cells, build again (the incremental models add only what depends on it),
and compare every model with a ``--full-refresh`` build of all four releases: row counts and a content hash
per relation, rows in order (doubles within 1e-9, see :func:`_contents`). ``built_at`` and ``run_id`` (when and by
which dbt run a row was built) are bookkeeping and left out. The second build also changes the comparison vars, which must give what a full
build with the new vars gives.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline.config import Comparison
from pipeline.transform.dbt_runner import run_dbt_process

pytestmark = pytest.mark.slow

RAW_TABLES = ("cells", "releases", "dimension_labels", "landing_objects")
SCHEMAS = ("staging", "intermediate", "marts")
# When a row was built, and the dbt invocation that built it (the findings models stamp their run).
BOOKKEEPING = {"built_at", "run_id"}
# Models only: the data tests have their own modules (test_dbt_models and others run them on the demo build).
BUILD = ["--exclude", "resource_type:test", "resource_type:unit_test"]
INCREMENTAL = {
    "staging.stg_ssb__cells",
    "intermediate.int_cells__catalogue_matched",
    "intermediate.int_indicator_values__by_code",
    "intermediate.int_indicator_values__harmonised",
    "marts.indicator_values",
    "marts.revisions",
}


def _raw_copy(source: Path, dest: Path, *, before: str | None = None) -> None:
    """A build file with only the raw tables of ``source`` (the releases before ``before`` if given)."""
    con = duckdb.connect(str(dest))
    try:
        con.execute("attach ? as src (read_only)", [str(source)])
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


def _add_release(source: Path, dest: Path, since: str) -> int:
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


def _differences(got_db: Path, want_db: Path) -> tuple[list[str], dict[str, str]]:
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


def _comments(db: Path) -> dict[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select schema_name || '.' || table_name, comment from duckdb_tables() where comment is not null"
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


def test_incremental_build_after_a_new_release_equals_a_full_rebuild(demo_built_home: Path, tmp_path: Path):
    source = demo_built_home / "build" / "kostra_build.duckdb"
    con = duckdb.connect(str(source), read_only=True)
    try:
        newest = con.execute("select max(release_updated) from raw.releases").fetchone()[0]
        assert newest.month == 6, newest  # the newest release of the demo home is a June one
    finally:
        con.close()
    since = newest.strftime("%Y-%m-%d %H:%M:%S")
    before_vars, after_vars = Comparison(), Comparison(focus_municipality="0301", extra_comparators=("4601",))

    incremental = tmp_path / "incremental.duckdb"
    _raw_copy(source, incremental, before=since)
    target = tmp_path / "target"
    run_dbt_process(
        "build", incremental, before_vars, target_path=target / "first", log_path=tmp_path, extra=BUILD
    )
    assert set(_comments(incremental)) >= INCREMENTAL, "every incremental model keeps its state"
    assert _add_release(source, incremental, since) > 0
    run_dbt_process(
        "build", incremental, after_vars, target_path=target / "second", log_path=tmp_path, extra=BUILD
    )

    full = tmp_path / "full.duckdb"
    _raw_copy(source, full)
    run_dbt_process(
        "build",
        full,
        after_vars,
        target_path=target / "full",
        log_path=tmp_path,
        extra=[*BUILD, "--full-refresh"],
    )

    tables, differ = _differences(incremental, full)
    assert set(tables) >= INCREMENTAL
    assert not differ, f"incremental build differs from the full rebuild: {differ}"
