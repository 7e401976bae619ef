"""Homes built once per test run and shared between the test modules (and the xdist workers) that need them.

A build (Dagster run, dbt build, quality checks, publish) costs most of a minute whatever the data, so the
suite builds each kind of home once: :func:`shared_home` builds it under a file lock in a directory every
xdist worker of this run sees, and every later caller, in any worker, gets the finished home. Tests read a
shared home only; a test that changes its home (ingests, builds, kills a run) works on
:func:`copy_home` of it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

from tests.jsonstat_factory import make_doc

KOSTRA = str(Path(sys.executable).with_name("kostra"))

# Every JSON-stat2 dataset among the recorded SSB responses (SOURCES.md), and the release each one is.
REALDATA_RESPONSES = {
    "KSAnalyse__ks-json-stat.java/resultatTest.json": ("12367", "2021-06-13T22:00:00Z"),
    "KSAnalyse__ks-json-stat.java/resultatTest3.json": ("12191", "2021-06-13T22:00:00Z"),
    "KSAnalyse__ks-json-stat.java/resultatTest2.json": ("08655", None),
    "NFG-J__is114-tema05/derived_13502_KOSandel120000.jsonstat2.json": ("13502", None),
    "Alksalt__omsorgsradar/ssb_12209_g2_fixture.json": ("12209", "2026-03-16T07:00:00Z"),
    "vegard1104__kommunebarometer/derived_12134_v2_response.json": ("12134", "2026-03-16T07:00:00Z"),
}
# The KOSTRA ones (08655 is not a KOSTRA table): what the shared real-data home lands and builds.
REALDATA_KOSTRA = [rel for rel, (table_id, _) in REALDATA_RESPONSES.items() if table_id != "08655"]

# The small home the run-safety tests start from: one 13502 release (four regions, two years), built.
TINY_TABLE = "13502"
TINY_DIMS = {
    "KOKkommuneregion0000": ["0301", "4601", "3201", "EAK"],
    "ContentsCode": ["KOSandel120000"],
    "Tid": ["2023", "2024"],
}
TINY_RELEASE = "2025-03-17T07:00:00Z"
# The tiny home is built for Bergen with Oslo beside it (not the defaults), so the run history shows that the
# environment reached the build's run config and dbt.
TINY_COMPARISON_ENV = {
    "KOSTRA_FOCUS": "4601",
    "KOSTRA_COMPARATORS": "0301",
    "KOSTRA_COMPARISON_GROUP": "ASSS",
}


def dagster_home_of(home: Path) -> Path:
    """The Dagster instance a shared home was built with (beside the home, so copies of it leave it out)."""
    return home.parent / "dagster"


def _new_dagster_home(home: Path) -> Path:
    from pipeline.config import REPO_ROOT

    path = dagster_home_of(home)
    path.mkdir(parents=True, exist_ok=True)
    # The instance settings `make dev` uses: one op at a time per pool, no telemetry.
    shutil.copy(REPO_ROOT / "orchestration" / "dagster.yaml", path / "dagster.yaml")
    return path


def _shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of this test run that every xdist worker sees (each worker's base temp is a child of the
    run's); without xdist, the run's own base temp."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-homes"
    root.mkdir(parents=True, exist_ok=True)
    return root


def shared_home(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """The home ``name``, built by ``build(home)`` the first time any worker of this run asks for it."""
    root = _shared_root(tmp_path_factory)
    home = root / name / "home"
    with FileLock(str(root / f"{name}.lock")):
        if not (root / f"{name}.done").exists():
            shutil.rmtree(root / name, ignore_errors=True)  # a build that failed half-way in another worker
            build(home)
            (root / f"{name}.done").touch()
    return home


def copy_home(home: Path, dest: Path) -> Path:
    """A private copy of a shared home (published warehouse, build file, landing store, reports)."""
    shutil.copytree(home, dest, symlinks=True, ignore=shutil.ignore_patterns("*.lock", ".kostra.*.tmp"))
    return dest


def kostra(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([KOSTRA, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _build_tiny(home: Path, env_extra: dict[str, str] | None = None) -> None:
    """The tiny release ingested and built in ``home``, with the environment ``env_extra`` adds (the proof
    suites build it with the defaults and no Dagster instance; the tests' shared one in :func:`tiny_home`)."""
    home.parent.mkdir(parents=True, exist_ok=True)
    doc = home.parent / "tiny.json"
    doc.write_bytes(make_doc(TINY_TABLE, TINY_DIMS, updated=TINY_RELEASE))
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.update(KOSTRA_HOME=str(home), **(env_extra or {}))
    for args in (["ingest-file", str(doc)], ["build"]):
        done = kostra(env, *args)
        assert done.returncode == 0, done.stderr[-3000:]


def tiny_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 13502 release ingested with `kostra ingest-file` and built with `kostra build` for Bergen
    (:data:`TINY_COMPARISON_ENV`), in the Dagster instance :func:`dagster_home_of` (shared; copy it)."""

    def build(home: Path) -> None:
        _build_tiny(home, {**TINY_COMPARISON_ENV, "DAGSTER_HOME": str(_new_dagster_home(home))})

    return shared_home(tmp_path_factory, "tiny13502", build)


def _build_realdata(snapshots: Path) -> Callable[[Path], None]:
    def build(home: Path) -> None:
        from pipeline.cli import main

        mp = pytest.MonkeyPatch()
        mp.setenv("KOSTRA_HOME", str(home))
        try:
            assert main(["ingest-file", *(str(snapshots / f) for f in REALDATA_KOSTRA)]) == 0
            assert main(["build"]) == 0
        finally:
            mp.undo()

    return build


def realdata_home(tmp_path_factory: pytest.TempPathFactory, snapshots: Path) -> Path:
    """The recorded KOSTRA responses through `kostra ingest-file` and `kostra build` (shared, read-only)."""
    return shared_home(tmp_path_factory, "realdata", _build_realdata(snapshots))


# The demo releases the shared demo home is run on: data years 2023 and 2024, unrevised and revised.
DEMO_RELEASES = "2024-03,2024-06,2025-03,2025-06"


def _build_demo(home: Path) -> None:
    from pipeline.cli import main

    mp = pytest.MonkeyPatch()
    mp.setenv("KOSTRA_HOME", str(home))
    mp.setenv("DAGSTER_HOME", str(_new_dagster_home(home)))
    # dbt's own setting, which the steps keep to (default info): the parse test reads dbt's debug messages.
    mp.setenv("DBT_LOG_LEVEL_FILE", "debug")
    try:
        assert main(["run", "--releases", DEMO_RELEASES]) == 0
    finally:
        mp.undo()


def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`kostra run --releases DEMO_RELEASES` on the embedded demo statbank (served over HTTP, landed, built,
    checked, published) in the Dagster instance :func:`dagster_home_of`, once per test run; read-only, copy
    it to change it."""
    return shared_home(tmp_path_factory, "demo", _build_demo)
