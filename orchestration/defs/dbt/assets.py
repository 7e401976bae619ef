"""The dbt project as Dagster assets: staging, intermediate and marts; dbt tests appear as asset checks.

The comparison parameters are the run config of the dbt step (:class:`ComparisonConfig`), so every run records
the focus municipality it was built for; they reach dbt as ``--vars`` through ``pipeline.transform.dbt_runner.vars_args``.
dbt's target and logs go under the home (``<home>/dbt/target/build``, ``<home>/dbt/logs``), never into the
repository; only the parsed manifest (``dbt_project/target/manifest.json``, ``make dbt-parse``) is read there.
"""

import os
from collections import Counter
from collections.abc import Mapping
from functools import cache
from typing import Any

import dagster as dg
import orjson
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliEventMessage,
    DbtProject,
    dbt_assets,
)
from pydantic import Field

from orchestration.resources import HomeResource, KostraDbtCliResource
from pipeline.config import (
    COMPARATORS_ENV,
    COMPARISON_GROUP_ENV,
    DBT_PROJECT_DIR,
    FOCUS_ENV,
    Comparison,
    Home,
)
from pipeline.transform import reference_state
from pipeline.transform.dbt_runner import dbt_vars, home_dbt_env, link_project, vars_args

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

# dbt folder → Dagster group; seeds are reference data the staging layer reads.
GROUP_BY_FOLDER = {"staging": "staging", "intermediate": "staging", "marts": "marts"}
# Deeper folders that are a system of their own: marts/quality holds the data-quality marts.
GROUP_BY_SUBFOLDER = {("marts", "quality"): "quality"}


class KostraDbtTranslator(DagsterDbtTranslator):
    """Groups by dbt folder, and maps the ``raw`` source onto the Python asset that loads it."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "staging"
        fqn = dbt_resource_props.get("fqn", [])
        if tuple(fqn[1:3]) in GROUP_BY_SUBFOLDER:
            return GROUP_BY_SUBFOLDER[tuple(fqn[1:3])]
        for part in fqn[1:]:
            if part in GROUP_BY_FOLDER:
                return GROUP_BY_FOLDER[part]
        return "marts"

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_asset_check_spec(
        self, asset_spec: dg.AssetSpec, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> dg.AssetCheckSpec | None:
        # Tests on what analysts and the quality stage read (the marts and the sources) are asset checks.
        # Tests on seeds, staging and intermediate models run in the same dbt build, fail it as they fail
        # dbt, and are summarised in the step's log (_run_dbt): each asset check is two stored Dagster
        # events, about 20 ms each with the SQLite instance, and 144 of the 213 tests guard internals.
        if asset_spec.group_name == INTERNAL_GROUP and asset_spec.key not in _source_keys(manifest):
            return None
        return super().get_asset_check_spec(asset_spec, manifest, unique_id, project)


INTERNAL_GROUP = "staging"


def _source_keys(manifest: Mapping[str, Any]) -> set[dg.AssetKey]:
    return {dg.AssetKey([s["source_name"], s["name"]]) for s in manifest["sources"].values()}


# Every dbt test is an asset check of the step that runs it, with nothing for dagster-dbt to warn about on the
# terminal: the tests on the sources (raw.cells, quality.findings) check those assets, and a singular test that
# reads several relations names the one it checks in its config (meta.dagster.ref).
TRANSLATOR = KostraDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))

# Read when the definitions load (``dagster dev``'s code server, ``kostra``): the UI's launchpad shows them.
_FROM_ENV = Comparison.from_env()


class ComparisonConfig(dg.Config):
    """The analysis parameters of a build: run config of the dbt step, passed to dbt as vars.

    The defaults come from the environment of the process that loads the definitions (``KOSTRA_FOCUS``,
    ``KOSTRA_COMPARATORS``, ``KOSTRA_COMPARISON_GROUP``; see :meth:`pipeline.config.Comparison.from_env`);
    ``kostra build`` and ``kostra run`` always pass all three, read from the environment at the call.
    """

    focus_municipality: str = Field(
        default=_FROM_ENV.focus_municipality,
        description=f"The municipality the profile is built for: a 4-digit code (default ${FOCUS_ENV}).",
    )
    extra_comparators: list[str] = Field(
        default=list(_FROM_ENV.extra_comparators),
        description=f"Municipalities compared beside the group, 4-digit codes (default ${COMPARATORS_ENV}).",
    )
    comparison_group: str = Field(
        default=_FROM_ENV.comparison_group,
        description=(
            "'asss', a KOSTRA group ('EKG13' or 'kostra:2020:EKG12'), a list ('list:0301,4601') or 'similar' "
            f"(the focus municipality's nearest by structure) (default ${COMPARISON_GROUP_ENV})."
        ),
    )

    @classmethod
    def from_comparison(cls, comparison: Comparison) -> "ComparisonConfig":
        dbt_vars(comparison)  # a bad code fails here, before any run starts
        return cls(
            focus_municipality=comparison.focus_municipality,
            extra_comparators=list(comparison.extra_comparators),
            comparison_group=comparison.comparison_group,
        )

    def comparison(self) -> Comparison:
        return Comparison(
            focus_municipality=self.focus_municipality,
            comparison_group=self.comparison_group,
            extra_comparators=tuple(self.extra_comparators),
        )


def dbt_build_args(comparison: Comparison) -> list[str]:
    """The dbt command of both dbt steps: build with the (validated) comparison parameters; dagster-dbt adds
    each step's selection.

    The unit tests check the models' logic on fixed rows, which no release changes: they run in the test
    suite (tests/test_run_history.py), not in every build, as dbt's documentation advises for production."""
    return ["build", *vars_args(comparison), "--exclude-resource-type", "unit_test"]


# The models built from the quality stage's findings (marts.dq_findings, the flags and every flagged mart)
# run after it; everything else runs before it. One selection string serves dbt and Dagster.
QUALITY_MODELS = "source:quality+"
BUILD_TARGET = "build"


def _run_dbt(
    context: dg.AssetExecutionContext, dbt: KostraDbtCliResource, home: HomeResource, config: ComparisonConfig
):
    h = home.home()
    # dbt runs in the home's project folder, where the profile's path to the build file is relative: every
    # home builds its own file, and every home renders the same profile, so the parse state of
    # `make dbt-parse` (or of the home's last step) serves this step. dbt is a process of its own here,
    # which may keep the file open until it exits.
    project = link_project(h)
    os.environ.update(home_dbt_env())
    os.environ.setdefault("DBT_USE_COLORS", "false")  # logs go to files and CI, not only terminals
    log_dir = h.dbt_log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    args = [*dbt_build_args(config.comparison()), "--log-path", str(log_dir)]
    reference = _reference_plan(context, h, config)
    if reference is not None and reference.skip:
        args += ["--exclude", " ".join(reference.nodes.names)]
        context.log.info(
            f"reference data unchanged since the build file's last build ({reference.fingerprint[:12]}): "
            f"{len(reference.nodes.names)} seeds, reference models and their tests left as they are"
        )
        yield from _unchanged_outputs(context, reference)
    # One target folder per home, shared by both steps and every run: dbt's partial parse in it saves the
    # parse of the next step (seconds each), and nothing piles up run after run.
    invocation = dbt.in_folder(project).cli(
        args, context=context, target_path=h.dbt_target_dir / BUILD_TARGET
    )
    checked = {
        spec.metadata.get(DBT_UNIQUE_ID)
        for spec in context.assets_def.node_check_specs_by_output_name.values()
    }
    internal: Counter[str] = Counter()
    for event in invocation.stream_raw_events():
        test_id = _test_result_id(event)
        if test_id is not None and test_id not in checked:
            status = str(event.raw_event["data"].get("status") or "").lower()
            internal[status] += 1
            if status not in {"pass", "success"}:
                # a failing one (severity error) also fails dbt, so the step fails with dbt's message
                context.log.warning(f"dbt test {test_id}: {status}")
            continue
        yield from event.to_default_asset_events(
            manifest=invocation.manifest,
            dagster_dbt_translator=invocation.dagster_dbt_translator,
            context=context,
            target_path=invocation.target_path,
            project=invocation.project,
        )
    if internal:
        context.log.info(
            "dbt tests on seeds, staging and intermediate models (not asset checks): "
            + ", ".join(f"{n} {status}" for status, n in sorted(internal.items()))
        )
    if reference is not None and not reference.skip:
        reference_state.record(h.build_db, reference.fingerprint)


def _unchanged_outputs(context: dg.AssetExecutionContext, reference: reference_state.Plan):
    """The seeds and reference models left out, each reported current with the fingerprint it was built from
    as its data version: the steps that read them run (an asset with no output in a run skips them), and
    Dagster sees them unchanged. First and in dbt's order, as Dagster takes a multi-asset's outputs."""
    key_by_id = {spec.metadata.get(DBT_UNIQUE_ID): spec.key for spec in context.assets_def.specs}
    for unique_id in reference.nodes.in_order:
        if unique_id in key_by_id:
            yield dg.Output(
                None,
                output_name=context.assets_def.get_output_name_for_asset_key(key_by_id[unique_id]),
                data_version=dg.DataVersion(reference.fingerprint[:16]),
                metadata={"kostra/left_as_is": "reference data unchanged since the build file's last build"},
            )


@cache
def _reference_nodes() -> reference_state.ReferenceNodes:
    return reference_state.ReferenceNodes.of(orjson.loads(dbt_project.manifest_path.read_bytes()))


def _reference_plan(
    context: dg.AssetExecutionContext, h: Home, config: ComparisonConfig
) -> reference_state.Plan | None:
    """For a step that builds every one of its nodes and holds the reference nodes: whether they are left
    out (``pipeline.transform.reference_state``), after forgetting a fingerprint they are about to be rebuilt
    from. None for a subset (a UI selection builds what it names) or the quality step, which holds none."""
    nodes = _reference_nodes()
    whole = context.selected_asset_keys == context.assets_def.keys and set(
        context.selected_asset_check_keys
    ) == set(context.assets_def.check_keys)
    step_nodes = {spec.metadata.get(DBT_UNIQUE_ID) for spec in context.assets_def.specs}
    if not whole or not step_nodes & nodes.unique_ids:
        return None
    return reference_state.plan(h.build_db, nodes, DBT_PROJECT_DIR, dbt_vars(config.comparison()))


DBT_UNIQUE_ID = "dagster_dbt/unique_id"


def _test_result_id(event: DbtCliEventMessage) -> str | None:
    """The unique id of the dbt test whose result ``event`` is, else None."""
    if event.raw_event.get("info", {}).get("name") != "LogTestResult":
        return None
    unique_id = event.raw_event.get("data", {}).get("node_info", {}).get("unique_id")
    return unique_id if unique_id and unique_id.startswith("test.") else None


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=TRANSLATOR,
    exclude=QUALITY_MODELS,
    pool="duckdb_build",
)
def kostra_dbt_models(
    context: dg.AssetExecutionContext, dbt: KostraDbtCliResource, home: HomeResource, config: ComparisonConfig
):
    """Seeds, staging, intermediate and marts built and tested on the private build file, before the quality
    stage reads them."""
    from pipeline.quality import gx_suites

    # Loaded while this step waits on dbt, ready by the quality step; not earlier, so that GX's memory
    # (about 120 MB) is not held through the raw load's peak.
    gx_suites.import_in_background()
    yield from _run_dbt(context, dbt, home, config)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=TRANSLATOR,
    select=QUALITY_MODELS,
    pool="duckdb_build",
)
def kostra_dbt_quality_models(
    context: dg.AssetExecutionContext, dbt: KostraDbtCliResource, home: HomeResource, config: ComparisonConfig
):
    """marts.dq_findings, marts.dq_indicator_flags and the marts that carry a quality_flag (service_profile,
    production_contributions, sector_indices and what reads them), built from the quality stage's findings."""
    yield from _run_dbt(context, dbt, home, config)
