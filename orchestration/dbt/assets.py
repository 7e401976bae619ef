"""The dbt project as Dagster assets: staging, intermediate and marts; dbt tests appear as asset checks."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from orchestration.resources import HomeResource
from pipeline.config import DBT_PROJECT_DIR, Comparison

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

# dbt folder → Dagster group; seeds are reference data the staging layer reads.
GROUP_BY_FOLDER = {"staging": "staging", "intermediate": "staging", "marts": "marts"}


class KostraDbtTranslator(DagsterDbtTranslator):
    """Groups by dbt folder, and maps the ``raw`` source onto the Python asset that loads it."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "staging"
        fqn = dbt_resource_props.get("fqn", [])
        for part in fqn[1:]:
            if part in GROUP_BY_FOLDER:
                return GROUP_BY_FOLDER[part]
        return "marts"

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)


def dbt_build_args(comparison: Comparison) -> list[str]:
    """The one dbt invocation of a pipeline run: build everything with the comparison parameters."""
    return ["build", "--vars", json.dumps(comparison.dbt_vars(), sort_keys=True)]


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=KostraDbtTranslator(),
    pool="duckdb_build",
)
def kostra_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, home: HomeResource):
    """Seeds, staging, intermediate and marts built and tested on the private build file."""
    # The profile reads the build file's path from the environment, so every home builds its own file.
    os.environ["KOSTRA_BUILD_DB"] = str(home.home().build_db)
    yield from dbt.cli(dbt_build_args(Comparison.from_env()), context=context).stream()
