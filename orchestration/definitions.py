"""Dagster definitions for kostra-warehouse: ingest → raw cells → dbt → quality → dbt → publish.

Assembled per system by ``dg.load_from_defs_folder`` (pyproject's ``[tool.dg]``) from ``orchestration/defs/<system>/`` (dagster-open-platform's
layout), not listed by hand: a new asset, check, job, schedule or sensor in a system's module is part of the
code location. Loaded by ``dagster dev`` (pyproject's ``[tool.dagster]``) and by ``kostra run``/``kostra
build``, which execute the same jobs in-process (``orchestration.run``): with ``DAGSTER_HOME`` set, their runs
are in that instance's run history like the UI's own. The names below are re-exported for ``orchestration.run``
and the tests.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration.defs.dbt.assets import kostra_dbt_models, kostra_dbt_quality_models
from orchestration.defs.quality.assets import quality_findings, quality_report
from orchestration.defs.ssb.assets import ingest_assets, ingest_checks
from orchestration.defs.warehouse.assets import published, raw_tables


def _once(objects) -> list:
    # A system module that imports another's asset (to depend on its keys) shows it to the loader again.
    return list({id(o): o for o in objects or []}.values())


def _load() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).resolve().parent)
    return dg.Definitions(
        assets=_once(loaded.assets),
        asset_checks=_once(loaded.asset_checks),
        jobs=_once(loaded.jobs),
        schedules=_once(loaded.schedules),
        sensors=_once(loaded.sensors),
        resources=loaded.resources,
    )


defs = _load()

__all__ = [
    "defs",
    "ingest_assets",
    "ingest_checks",
    "kostra_dbt_models",
    "kostra_dbt_quality_models",
    "published",
    "quality_findings",
    "quality_report",
    "raw_tables",
]
