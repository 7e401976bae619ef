"""Dagster definitions for kostra-warehouse: ingest → raw cells → dbt → publish.

Loaded by ``dagster dev`` (see pyproject's ``[tool.dagster]``) and by ``kostra run``/``kostra build``, which
execute the same two jobs (``ingest_release``, ``build_and_publish``) in-process (``orchestration.run``): with
``DAGSTER_HOME`` set, their runs are in that instance's run history like the UI's own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.dbt.assets import dbt_project, kostra_dbt_models, kostra_dbt_quality_models
from orchestration.quality.assets import DQ_FINDINGS, quality_findings_asset, quality_report_asset
from orchestration.resources import HomeResource, StatbankResource
from orchestration.schedules import (
    build_after_ingest,
    build_job,
    ingest_release_job,
    new_release_sensor,
    publication_day_schedule,
)
from orchestration.ssb.assets import ingest_definitions
from orchestration.warehouse.assets import publish_asset, raw_tables_asset

ingest_assets, ingest_checks = ingest_definitions()
raw_tables = raw_tables_asset([a.key for a in ingest_assets])
quality_findings = quality_findings_asset(list(kostra_dbt_models.keys))
# The publish waits for the quality models, which wait for the checks: a FATAL finding fails the findings'
# blocking check and nothing after it runs.
published = publish_asset([*kostra_dbt_models.keys, *kostra_dbt_quality_models.keys])
quality_report = quality_report_asset([published.key, DQ_FINDINGS])

defs = dg.Definitions(
    assets=[
        *ingest_assets,
        raw_tables,
        kostra_dbt_models,
        quality_findings,
        kostra_dbt_quality_models,
        published,
        quality_report,
    ],
    asset_checks=ingest_checks,
    jobs=[ingest_release_job, build_job],
    schedules=[publication_day_schedule],
    sensors=[new_release_sensor, build_after_ingest],
    resources={
        "home": HomeResource(),
        "statbank": StatbankResource(),
        # The dbt beside this interpreter: the venv's, even when the venv is not on PATH.
        "dbt": DbtCliResource(
            project_dir=dbt_project,
            profiles_dir=str(dbt_project.profiles_dir),
            dbt_executable=str(Path(sys.executable).with_name("dbt")),
        ),
    },
)
