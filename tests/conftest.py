"""Shared fixtures.

Tests marked ``realdata`` read SSB's recorded responses in ``../shared/data``. They skip when the folder
is absent (a user's fresh clone); CI sets ``KOSTRA_REQUIRE_REALDATA=1`` so that a missing folder fails.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("KOSTRA_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def _marked_slow_as_a_whole(path: Path) -> bool:
    """Whether the module's ``pytestmark`` (a mark or a list of marks) includes ``pytest.mark.slow``."""
    for node in ast.parse(path.read_bytes()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets):
            marks = node.value.elts if isinstance(node.value, ast.List | ast.Tuple) else [node.value]
            return any(ast.unparse(m) == "pytest.mark.slow" for m in marks)
    return False


def pytest_ignore_collect(collection_path: Path, config):
    # `make test-fast` (-m "not slow") would import every slow module, Dagster and dbt with them, only to
    # deselect all of its tests: leave such modules uncollected (about 4 s of every worker's start).
    if config.getoption("markexpr", "").strip() != "not slow":
        return None
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        return True if _marked_slow_as_a_whole(collection_path) else None
    return None


def pytest_collection_modifyitems(config, items):
    if SHARED_DATA.is_dir():
        return
    if os.environ.get("KOSTRA_REQUIRE_REALDATA") == "1":
        raise pytest.UsageError(
            f"KOSTRA_REQUIRE_REALDATA=1 but the recorded SSB data is missing: {SHARED_DATA}"
        )
    skip = pytest.mark.skip(reason=f"recorded SSB data not found at {SHARED_DATA}")
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED_DATA


@pytest.fixture(scope="session")
def snapshots(shared_data: Path) -> Path:
    return shared_data / "ssb-snapshots"


@pytest.fixture()
def home(tmp_path, monkeypatch):
    """A private KOSTRA_HOME for one test."""
    from pipeline.config import Home

    monkeypatch.setenv("KOSTRA_HOME", str(tmp_path / "home"))
    return Home.from_env().ensure()


@pytest.fixture(scope="session")
def tiny_built_home(tmp_path_factory) -> Path:
    """A home with one small 13502 release, built and published once per run; tests copy it before writing."""
    from tests.demo_build import tiny_home

    return tiny_home(tmp_path_factory)


@pytest.fixture(scope="session")
def realdata_built_home(tmp_path_factory, snapshots: Path) -> Path:
    """The recorded KOSTRA responses landed, built and published once per run; read-only."""
    from tests.demo_build import realdata_home

    return realdata_home(tmp_path_factory, snapshots)


@pytest.fixture(scope="session")
def demo_built_home(tmp_path_factory) -> Path:
    """The demo warehouse (`kostra run` over four demo releases), built once per run; read-only."""
    from tests.demo_build import demo_home

    return demo_home(tmp_path_factory)
