"""Other comparison vars on a built home: the incremental models (and what they read) built with the new vars
on the shared tiny home, built with the default ones, hold what a full build with the new vars gives. Every
other model is a table or a view, built whole every time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.config import Comparison
from pipeline.transform.dbt_runner import run_dbt_process
from tests.build_compare import BUILD, INCREMENTAL, differences, raw_copy

pytestmark = pytest.mark.slow


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
    raw_copy(source, full)
    run_dbt_process(
        "build",
        full,
        after_vars,
        target_path=target / "full",
        log_path=tmp_path,
        extra=[*selected, "--full-refresh"],
    )

    tables, differ = differences(rebuilt, full)
    assert set(tables) >= INCREMENTAL
    assert not differ, f"a build with new vars differs from a full build with them: {differ}"
