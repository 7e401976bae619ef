"""Incremental by release: a build after a new release gives what a full build of the same cells gives.

From the shared demo home (four releases, built by ``kostra run``): take its raw cells without the newest June
release and the quality stage's findings, build the dbt models, add that release's cells and build again (the
incremental models add only what depends on it), and compare every model with the demo home's own build, which
``kostra run`` built from nothing on all four releases: row counts and a content hash per relation, rows in
order (doubles within 1e-9, see :func:`_differences`). ``built_at`` and ``run_id`` (when and by which dbt run a
row was built) are bookkeeping and left out. A second test builds the incremental models (and what they read)
with other comparison vars on the shared tiny home, built with the default vars: they must hold what a full
build with the new vars gives (every other model is a table or a view, built whole every time).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline.config import Comparison
from pipeline.transform.dbt_runner import run_dbt_process

pytestmark = pytest.mark.slow

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
    "intermediate.int_indicator_values__by_code",
    "intermediate.int_indicator_values__harmonised",
    "marts.indicator_values",
    "marts.revisions",
}


def _raw_copy(source: Path, dest: Path, *, before: str | None = None) -> None:
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


def test_incremental_build_after_a_new_release_equals_the_full_build_of_kostra_run(
    demo_built_home: Path, tmp_path: Path
):
    source = demo_built_home / "build" / "kostra_build.duckdb"
    con = duckdb.connect(str(source), read_only=True)
    try:
        newest = con.execute("select max(release_updated) from raw.releases").fetchone()[0]
        assert newest.month == 6, newest  # the newest release of the demo home is a June one
        assert con.execute(f"select count(*) from {FINDINGS}").fetchone()[0] > 0
    finally:
        con.close()
    since = newest.strftime("%Y-%m-%d %H:%M:%S")
    comparison = Comparison.from_env()  # what the demo home's `kostra run` was built with

    incremental = tmp_path / "incremental.duckdb"
    _raw_copy(source, incremental, before=since)
    target = tmp_path / "target"
    run_dbt_process(
        "build", incremental, comparison, target_path=target / "first", log_path=tmp_path, extra=BUILD
    )
    assert set(_comments(incremental)) >= INCREMENTAL, "every incremental model keeps its state"
    assert _add_release(source, incremental, since) > 0
    run_dbt_process(
        "build", incremental, comparison, target_path=target / "second", log_path=tmp_path, extra=BUILD
    )

    tables, differ = _differences(incremental, source)
    assert set(tables) >= INCREMENTAL
    assert not differ, f"incremental build differs from kostra run's full build: {differ}"


def test_a_build_with_other_comparison_vars_equals_a_full_build_with_them(
    tiny_built_home: Path, tmp_path: Path
):
    source = tiny_built_home / "build" / "kostra_build.duckdb"
    after_vars = Comparison(focus_municipality="0301", extra_comparators=("4601",))
    assert after_vars != Comparison.from_env()  # the tiny home was built with other vars

    selected = [*BUILD, "--select", "+config.materialized:incremental"]
    rebuilt = tmp_path / "rebuilt.duckdb"
    shutil.copy(source, rebuilt)
    target = tmp_path / "target"
    run_dbt_process(
        "build", rebuilt, after_vars, target_path=target / "again", log_path=tmp_path, extra=BUILD
    )

    full = tmp_path / "full.duckdb"
    _raw_copy(source, full)
    run_dbt_process(
        "build",
        full,
        after_vars,
        target_path=target / "full",
        log_path=tmp_path,
        extra=[*selected, "--full-refresh"],
    )

    tables, differ = _differences(rebuilt, full)
    assert set(tables) >= INCREMENTAL
    assert not differ, f"a build with new vars differs from a full build with them: {differ}"
