"""The dbt project as Dagster assets: staging, intermediate and marts; dbt tests appear as asset checks."""

import json
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from orchestration.resources import HomeResource
from pipeline.config import DBT_PROJECT_DIR, Comparison
from pipeline.dbt_runner import dbt_env, dbt_vars

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
    """The one dbt invocation of a pipeline run: build everything with the (validated) comparison parameters."""
    return ["build", "--vars", json.dumps(dbt_vars(comparison), sort_keys=True)]


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=KostraDbtTranslator(),
    pool="duckdb_build",
)
def kostra_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, home: HomeResource):
    """Seeds, staging, intermediate and marts built and tested on the private build file."""
    # The profile reads the build file's path from the environment, so every home builds its own file.
    os.environ.update(dbt_env(home.home().build_db))
    os.environ.setdefault("DBT_USE_COLORS", "false")  # logs go to files and CI, not only terminals
    yield from dbt.cli(dbt_build_args(Comparison.from_env()), context=context).stream()
