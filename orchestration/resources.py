"""Resources shared by the asset groups: the warehouse home, where SSB's statbank is, and dbt."""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging.version import Version

from pipeline.config import SSB_V0_ROOT, SSB_V2_ROOT, Home


class HomeResource(dg.ConfigurableResource):
    """The warehouse home folder (``KOSTRA_HOME`` or ``warehouse/``)."""

    root: str = ""

    def home(self) -> Home:
        return (Home(Path(self.root)) if self.root else Home.from_env()).ensure()


class StatbankResource(dg.ConfigurableResource):
    """Where the statbank API is: SSB itself, or the local demo server.

    The demo server can show the statbank as it was on a past release (``/asof/<release>/``), which the
    live API cannot: live, only the current release of a table can be fetched.

    ``retries``, ``backoff_factor`` and ``backoff_max`` configure the client's urllib3 retries of single
    requests (429 after ``Retry-After``, 5xx, time-outs); a whole step is retried by Dagster when the ingest
    step asks for it (``RetryRequested`` with ``INGEST_RETRY``'s delays).
    """

    v0_root: str = SSB_V0_ROOT
    v2_root: str = SSB_V2_ROOT
    asof_root: str = ""  # e.g. http://127.0.0.1:8765 for the demo server; empty = live SSB
    retries: int = 5
    backoff_factor: float = 1.0
    backoff_max: float = 120.0

    @property
    def is_live(self) -> bool:
        return not self.asof_root

    def roots_for(self, release_key: str) -> tuple[str, str]:
        if self.is_live:
            return self.v0_root, self.v2_root
        root = self.asof_root.rstrip("/")
        base = f"{root}/asof/{release_key}" if release_key else root  # no key: the statbank as it is now
        return f"{base}/api/v0", f"{base}/api/pxwebapi/v2"

    def client(self, release_key: str):
        from pipeline.ssb.client import SsbClient

        v0, v2 = self.roots_for(release_key)
        return SsbClient(
            v0,
            v2,
            retries=self.retries,
            backoff_factor=self.backoff_factor,
            backoff_max=self.backoff_max,
            progress=False,
        )


class KostraDbtCliResource(DbtCliResource):
    """dagster-dbt's ``DbtCliResource`` without the two set-up costs of every dbt step this project never uses.

    Before each ``dbt.cli(...)`` the stock resource (dagster-dbt 0.29) runs ``dbt --version`` once per run
    (a second Python start that imports dbt and asks PyPI for the latest version, measured 3.2 s) and builds
    an in-process dbt adapter on every call (measured 3.0 s and 1.8 s), which serves only
    ``fetch_row_counts()``/``fetch_column_metadata()``: neither is called here. dagster-dbt offers no setting
    for either, so this subclass overrides the two private methods; ``dagster-dbt`` is pinned below 0.30 in
    pyproject.toml and ``tests/test_orchestration.py`` fails if an upgrade brings either cost back.
    """

    @cached_property
    def _cli_version(self) -> Version:
        # The dbt beside this interpreter (dbt_executable) is this venv's dbt-core: its installed version.
        return Version(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # noqa: ARG002 (signature of the base)
        return None

    def in_folder(self, project_dir: Path) -> KostraDbtCliResource:
        """This dbt, run from ``project_dir``: a home's links to the project
        (``pipeline.transform.dbt_runner.link_project``), which dagster-dbt makes dbt's working directory."""
        return type(self)(**{**self.model_dump(), "project_dir": os.fspath(project_dir)})
