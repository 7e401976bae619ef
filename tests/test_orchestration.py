"""The Dagster definitions: they load, and every asset carries a group, a description and kinds."""

import json

import dagster as dg
import pytest

from orchestration.partitions import release_partitions
from pipeline.config import Comparison
from pipeline.reference.catalogue import load_catalogue
from pipeline.ssb.calendar import releases

pytestmark = pytest.mark.slow  # loads the Dagster definitions


@pytest.fixture(scope="module")
def defs():
    from orchestration.definitions import defs

    return defs


def test_definitions_load(defs):
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    assert repo.get_all_jobs()  # the implicit asset job at least


def test_every_asset_has_group_description_and_kinds(defs):
    specs = list(defs.resolve_all_asset_specs())
    assert specs
    for spec in specs:
        assert spec.group_name and spec.group_name != "default", spec.key
        assert spec.description, spec.key
        assert spec.kinds, spec.key


def test_one_ingest_asset_per_catalogue_table_partitioned_by_release(defs):
    tables = set(load_catalogue()["table_id"].astype(str)) - {""}  # derived indicators have no source table
    ingest = {
        s.key.path[-1].removeprefix("table_"): s
        for s in defs.resolve_all_asset_specs()
        if s.group_name == "ingest" and s.key.path[0] == "ssb"
    }
    assert set(ingest) == tables
    from orchestration.definitions import ingest_assets

    keys = ingest_assets[0].partitions_def.get_partition_keys()
    assert keys[:2] == ["2016-03", "2016-06"]
    assert {r.key for r in releases(2015, 2024)} <= set(keys)
    # One partitions definition for every ingest asset, computed from the calendar when evaluated.
    assert {a.partitions_def for a in ingest_assets} == {release_partitions}
    assert isinstance(release_partitions, dg.TimeWindowPartitionsDefinition)
    for a in ingest_assets:
        assert a.backfill_policy is not None
        assert a.op.retry_policy is None  # the step asks for its retries (see test_retry_layers)


def test_ingest_completeness_checks_are_blocking(defs):
    from orchestration.definitions import ingest_checks

    specs = [s for c in ingest_checks for s in c.check_specs]
    assert specs and all(s.blocking for s in specs)


def test_groups_follow_the_pipeline_stages(defs):
    groups = {s.key.to_user_string(): s.group_name for s in defs.resolve_all_asset_specs()}
    assert groups["raw/cells"] == "ingest"
    assert groups["raw/releases"] == "ingest"
    assert groups["staging/stg_ssb__cells"] == "staging"
    assert groups["intermediate/int_indicator_values__harmonised"] == "staging"
    assert groups["marts/service_profile"] == "marts"
    assert groups["warehouse/published"] == "publish"
    assert groups["quality/findings"] == "quality"
    assert groups["marts/dq_findings"] == "quality"
    assert groups["marts/dq_indicator_flags"] == "quality"
    assert groups["reports/quality_report"] == "reports"


def test_dbt_build_args_carry_the_comparison_parameters():
    from orchestration.defs.dbt.assets import dbt_build_args

    args = dbt_build_args(Comparison(focus_municipality="4601", extra_comparators=("3203", "3205")))
    assert args[0] == "build"
    assert json.loads(args[args.index("--vars") + 1]) == {
        "comparison_group": "ASSS",
        "extra_comparators": ["3203", "3205"],
        "focus_municipality": "4601",
    }


def test_every_writer_of_the_build_file_shares_one_pool(defs):
    from orchestration.definitions import (
        kostra_dbt_models,
        kostra_dbt_quality_models,
        published,
        quality_findings,
        raw_tables,
    )

    for assets_def in (raw_tables, kostra_dbt_models, quality_findings, kostra_dbt_quality_models, published):
        assert assets_def.op.pool == "duckdb_build", assets_def.node_def.name


def test_instance_config_limits_pools_to_one():
    import yaml

    from pipeline.config import REPO_ROOT

    config = yaml.safe_load((REPO_ROOT / "orchestration" / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1


@pytest.mark.slow
def test_dagster_cli_validates_the_code_location(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "orchestration.definitions"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "All code locations passed validation" in done.stderr + done.stdout


def test_the_dbt_resource_starts_no_dbt_but_the_step_s_own(defs, monkeypatch, tmp_path):
    """No ``dbt --version`` process and no in-process dbt adapter before a dbt step (seconds each, unused)."""
    import dagster_dbt.core.resource as stock
    from dbt.version import __version__ as dbt_version

    from orchestration.resources import KostraDbtCliResource

    resource = defs.resources["dbt"]
    assert isinstance(resource, KostraDbtCliResource)
    started = []
    monkeypatch.setattr(stock, "check_output", lambda args, **kw: started.append(args) or b"")
    invocation = resource.cli(["list", "--select", "stg_ssb__releases"], target_path=tmp_path / "target")
    assert invocation.wait().is_successful()
    assert invocation.adapter is None
    assert started == []  # the stock resource runs `dbt --version` here
    assert str(resource._cli_version) == dbt_version


def test_a_run_in_a_background_command_leaves_sigterm_as_it_found_it(tmp_path):
    """A command started in the background from a script has SIGINT ignored; Dagster, ending a run, sets
    SIGTERM to whatever SIGINT has. Without the run layer giving SIGTERM back, every later `kill` of that
    `kostra run &` was ignored."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import signal
        import dagster as dg
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        from orchestration import run as runner

        @dg.op
        def nothing():
            return None

        @dg.job
        def tiny():
            nothing()

        class OneJob:
            def resolve_job_def(self, name):
                return tiny

        runner.d.defs = OneJob()
        with dg.DagsterInstance.ephemeral() as instance:
            assert runner._execute("tiny", instance).success
        print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN, signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["True", "True"]
