"""Incremental by release: a build after a new release gives what a full build of the same cells gives.

From the shared demo home (four releases, built by ``kostra run``): take its raw cells without the newest June
release and the quality stage's findings, build the dbt models, add that release's cells and build again (the
incremental models add only what depends on it), and compare every model with the demo home's own build, which
``kostra run`` built from nothing on all four releases: row counts and a content hash per relation, rows in
order (doubles within 1e-9, see :func:`tests.build_compare.differences`). ``built_at`` and ``run_id`` (when
and by which dbt run a row was built) are bookkeeping and left out.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline.config import Comparison
from pipeline.transform.dbt_runner import run_dbt_process
from tests.build_compare import BUILD, FINDINGS, INCREMENTAL, add_release, comments, differences, raw_copy

pytestmark = pytest.mark.slow


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
    raw_copy(source, incremental, before=since)
    target = tmp_path / "target"
    run_dbt_process(
        "build", incremental, comparison, target_path=target / "first", log_path=tmp_path, extra=BUILD
    )
    assert set(comments(incremental)) >= INCREMENTAL, "every incremental model keeps its state"
    assert add_release(source, incremental, since) > 0
    run_dbt_process(
        "build", incremental, comparison, target_path=target / "second", log_path=tmp_path, extra=BUILD
    )

    tables, differ = differences(incremental, source)
    assert set(tables) >= INCREMENTAL
    assert not differ, f"incremental build differs from kostra run's full build: {differ}"
