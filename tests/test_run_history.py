"""A CLI run is a run of the Dagster job: with ``DAGSTER_HOME`` set it is in that instance's run history.

``kostra build`` runs the ``build_and_publish`` job with the comparison parameters as run config (so the run
records the focus municipality it was built for), and dbt writes its target and logs under ``$KOSTRA_HOME``.
``kostra run``'s ingest is the ``ingest_release`` job over a range of release partitions, in one run. The
builds are the shared homes' own (tests/demo_build.py builds them with a Dagster instance each).
"""

from __future__ import annotations

import shutil
import socket
from collections import Counter
from pathlib import Path

import dagster as dg
import duckdb
import orjson
import pytest

from orchestration.defs.schedules.jobs_and_triggers import BUILD_JOB_NAME, INGEST_JOB_NAME
from pipeline.config import DBT_PROJECT_DIR, REPO_ROOT, Home
from tests.demo_build import TINY_COMPARISON_ENV, dagster_home_of
from tests.jsonstat_factory import make_doc

pytestmark = pytest.mark.slow


@pytest.fixture()
def dagster_home(tmp_path, monkeypatch):
    path = tmp_path / "dagster_home"
    path.mkdir()
    # The instance settings `make dev` uses: one op at a time per pool, no telemetry.
    shutil.copy(REPO_ROOT / "orchestration" / "dagster.yaml", path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(path))
    return path


def _runs(job_name: str) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.get() as instance:
        return [r for r in instance.get_runs() if r.job_name == job_name]


def test_kostra_build_is_in_the_run_history_with_the_focus_municipality_in_its_config(
    tiny_built_home: Path, monkeypatch
):
    """The shared tiny home: `kostra ingest-file`, then `kostra build` with KOSTRA_FOCUS=4601,
    KOSTRA_COMPARATORS=0301 and KOSTRA_COMPARISON_GROUP=ASSS, in a Dagster instance of its own."""
    assert TINY_COMPARISON_ENV == {
        "KOSTRA_FOCUS": "4601",
        "KOSTRA_COMPARATORS": "0301",
        "KOSTRA_COMPARISON_GROUP": "ASSS",
    }
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home_of(tiny_built_home)))
    home = Home(tiny_built_home)

    (run,) = _runs(BUILD_JOB_NAME)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.run_config["ops"]["kostra_dbt_models"]["config"] == {
        "focus_municipality": "4601",
        "extra_comparators": ["0301"],
        "comparison_group": "ASSS",
    }
    assert run.run_config["resources"]["home"]["config"]["root"] == str(home.root)

    # The config reached dbt: the published profile is Bergen's.
    con = duckdb.connect(str(home.published_db), read_only=True)
    try:
        focus = con.execute(
            "select distinct municipality_id from marts.service_profile where is_focus"
        ).fetchall()
    finally:
        con.close()
    assert focus == [("4601",)]

    # dbt's target and log are the home's, not the repository's.
    target = home.root / "dbt" / "target" / "build"
    assert (target / "run_results.json").is_file() and (target / "partial_parse.msgpack").is_file()
    assert [p.name for p in (home.root / "dbt" / "target").iterdir()] == [
        "build"
    ]  # one folder, not one per run
    log = home.root / "dbt" / "logs" / "dbt.log"
    # dbt.log at info by default (pipeline.transform.dbt_runner): every node's result, not every query of it.
    levels = Counter(orjson.loads(line)["info"]["level"] for line in log.read_text().splitlines())
    assert levels["info"] > 100 and "debug" not in levels, levels
    assert not list((DBT_PROJECT_DIR / "target").glob(f"*{run.run_id[:7]}*"))


def test_kostra_run_is_one_ingest_run_over_its_release_range_and_one_build_run(
    demo_built_home: Path, monkeypatch
):
    """The shared demo home: `kostra run --releases 2024-03,2024-06,2025-03,2025-06` with DAGSTER_HOME set."""
    from orchestration import run as runner

    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home_of(demo_built_home)))
    (ingest,) = _runs(INGEST_JOB_NAME)
    assert ingest.status == dg.DagsterRunStatus.SUCCESS
    assert ingest.tags[runner.PARTITION_RANGE_START] == "2024-03"
    assert ingest.tags[runner.PARTITION_RANGE_END] == "2025-06"
    assert ingest.run_config["resources"]["statbank"]["config"]["asof_root"].startswith("http://127.0.0.1:")
    assert not ingest.asset_selection  # no subset of the job: every catalogue table

    (build,) = _runs(BUILD_JOB_NAME)
    assert build.status == dg.DagsterRunStatus.SUCCESS
    config = build.run_config["ops"]["kostra_dbt_models"]["config"]
    assert config["focus_municipality"] == "3201"  # the default
    assert build.run_config["resources"]["home"]["config"]["root"] == str(demo_built_home)


def _internal_test_counts(run_id: str) -> dict[str, int]:
    """The statuses the dbt steps summed up in the run's log for the dbt tests that are not asset checks."""
    with dg.DagsterInstance.get() as instance:
        messages = [r.user_message for r in instance.all_logs(run_id) if not r.dagster_event]
    counts: dict[str, int] = {}
    for line in messages:
        _, sep, tail = line.partition("staging and intermediate models (not asset checks): ")
        if sep:
            for part in tail.split(", "):
                n, status = part.split(" ", 1)
                counts[status] = counts.get(status, 0) + int(n)
    return counts


def test_every_dbt_test_runs_those_on_marts_and_sources_as_asset_checks_with_no_warning_on_the_terminal(
    demo_built_home: Path, monkeypatch
):
    """dagster-dbt logs a test it cannot place as an asset check (a source's test, or a singular test that
    reads several relations) as an observation, with a warning of four lines on the terminal. The tests on the
    marts and the sources are asset checks of the step that runs them; the ones on seeds, staging and
    intermediate models run in the same dbt build and are summed up in the run's log (the Dagster UI's), one line per
    step."""
    import orjson

    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home_of(demo_built_home)))
    (build,) = _runs(BUILD_JOB_NAME)
    with dg.DagsterInstance.get() as instance:
        events = [r.dagster_event for r in instance.all_logs(build.run_id) if r.dagster_event]
    assert [e for e in events if e.event_type == dg.DagsterEventType.ASSET_OBSERVATION] == []
    checked = {
        (tuple(e.event_specific_data.asset_key.path), e.event_specific_data.check_name)
        for e in events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }
    manifest = orjson.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_bytes())
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    checked_groups = {path[0] for path, _ in checked}
    assert checked_groups == {"marts", "raw", "quality"}
    assert len(tests) > 150
    # every test ran: the asset checks as checks, every other one in the log's summary
    from orchestration.defs.dbt.assets import kostra_dbt_models, kostra_dbt_quality_models

    as_checks = {
        spec.metadata["dagster_dbt/unique_id"]
        for assets in (kostra_dbt_models, kostra_dbt_quality_models)
        for spec in assets.check_specs
    }
    assert {n["name"] for n in tests if n["unique_id"] in as_checks} <= {name for _, name in checked}
    assert sum(_internal_test_counts(build.run_id).values()) == len(tests) - len(as_checks)
    (log,) = (demo_built_home / "logs").glob("*-run.log")
    text = log.read_text(encoding="utf-8")
    assert "Logging an `AssetObservation`" not in text and " - dagster - WARNING - " not in text


def test_the_demo_build_passes_every_dbt_test_warnings_included(demo_built_home: Path, monkeypatch):
    """A warning that fires on every build is noise an analyst learns to skip: on the demo release every dbt
    test passes, the warn-only ones too (assert_catalogue_matches_one_cell_per_function flagged all 164,544
    age sums of 07459 while it counted one cell per function and none per age)."""
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home_of(demo_built_home)))
    (build,) = _runs(BUILD_JOB_NAME)
    with dg.DagsterInstance.get() as instance:
        evaluations = [
            r.dagster_event.event_specific_data
            for r in instance.all_logs(build.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        ]
    assert len(evaluations) > 50
    assert sorted(e.check_name for e in evaluations if not e.passed) == []
    counts = _internal_test_counts(build.run_id)
    assert counts.get("pass", 0) > 100 and set(counts) == {"pass"}, counts


def test_the_dbt_unit_tests_pass_on_the_demo_build(demo_built_home: Path, tmp_path):
    """The builds leave the unit tests out (dbt_build_args); they run here, on a copy of the demo's build
    file (they read the relations their models ref for column types)."""
    import orjson

    from orchestration.defs.dbt.assets import dbt_build_args
    from pipeline.config import Comparison
    from pipeline.transform.dbt_runner import run_dbt_process

    assert dbt_build_args(Comparison())[-2:] == ["--exclude-resource-type", "unit_test"]
    build = tmp_path / "kostra_build.duckdb"
    shutil.copy(Home(demo_built_home).build_db, build)
    run_dbt_process(
        "test", build, target_path=tmp_path / "target", log_path=tmp_path / "logs", select=["test_type:unit"]
    )
    results = orjson.loads((tmp_path / "target" / "run_results.json").read_bytes())["results"]
    manifest = orjson.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_bytes())
    results = [r for r in results if r["unique_id"].startswith("unit_test.")]  # not the on-run-start hook
    assert sorted(r["unique_id"] for r in results) == sorted(manifest["unit_tests"])
    assert len(results) >= 7 and {r["status"] for r in results} == {"pass"}


def test_a_bad_focus_municipality_fails_before_any_run(home: Home, dagster_home, monkeypatch, capsys):
    from pipeline.cli import main

    monkeypatch.setenv("KOSTRA_FOCUS", "Bergen")
    assert main(["build"]) == 1
    assert "focus_municipality" in capsys.readouterr().err
    assert _runs(BUILD_JOB_NAME) == []


@pytest.mark.parametrize("limit", ["lots", "0"])
def test_a_bad_duckdb_memory_limit_fails_before_any_run(home: Home, dagster_home, monkeypatch, capsys, limit):
    from pipeline.cli import main

    monkeypatch.setenv("KOSTRA_DUCKDB_MEMORY_LIMIT", limit)
    assert main(["build"]) == 1
    err = capsys.readouterr().err
    assert f"KOSTRA_DUCKDB_MEMORY_LIMIT={limit!r} is not a DuckDB memory limit" in err
    assert "Traceback" not in err
    assert _runs(BUILD_JOB_NAME) == []


@pytest.mark.slow
@pytest.mark.parametrize("limit, shown", [("700MB", "667.5 MiB"), ("", None)])
def test_a_duckdb_memory_limit_reaches_dbt_s_duckdb(tmp_path, monkeypatch, limit, shown):
    import json

    from pipeline.config import duckdb_memory_limit
    from pipeline.transform.dbt_runner import run_dbt_process

    monkeypatch.setenv("KOSTRA_DUCKDB_MEMORY_LIMIT", limit)
    assert duckdb_memory_limit() == (limit or None)
    done = run_dbt_process(
        "show",
        tmp_path / "kostra_build.duckdb",
        target_path=tmp_path / "target",
        log_path=tmp_path / "logs",
        extra=["--inline", "select current_setting('memory_limit') as memory_limit", "--output", "json"],
    )
    # DuckDB reports the limit in its own units (700 MB is 667.5 MiB); set but empty is DuckDB's default.
    default = duckdb.connect().execute("select current_setting('memory_limit')").fetchone()[0]
    assert f'"memory_limit": {json.dumps(shown or default)}' in done.stdout, done.stdout[-2000:]


def test_an_ingest_of_some_tables_selects_their_assets(home: Home, dagster_home):
    from orchestration import run as runner
    from orchestration.resources import StatbankResource
    from pipeline.landing.ingest import catalogue_filters
    from pipeline.reference import seeds
    from tests.pxweb_fixtures import recorded_server

    dims = {
        "KOKkommuneregion0000": sorted(set(seeds.all_codes(2024, 2024))),
        "ContentsCode": catalogue_filters()["13502"]["ContentsCode"],
        "Tid": ["2024"],
    }
    with recorded_server(make_doc("13502", dims, updated="2025-03-17T07:00:00Z"), max_calls=1000) as server:
        runner.ingest(home, StatbankResource(asof_root=server.url), ["2025-03"], table_ids=["13502"])

    (run,) = _runs(INGEST_JOB_NAME)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags["dagster/partition"] == "2025-03"  # one release: a partition, not a range
    assert run.run_config["resources"]["statbank"]["config"]["asof_root"] == server.url
    assert run.asset_selection == {dg.AssetKey(["ssb", "table_13502"])}


def test_a_cli_run_killed_hard_is_failed_and_frees_its_pool_slot_for_the_next_run(dagster_home):
    import subprocess
    import sys

    from orchestration import run as runner

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid whose process has exited
    with dg.DagsterInstance.get() as instance:
        run = instance.add_run(
            dg.DagsterRun(
                job_name=BUILD_JOB_NAME,
                status=dg.DagsterRunStatus.STARTED,
                tags={runner.HOST_TAG: socket.gethostname(), runner.PID_TAG: str(gone.pid)},
            )
        )
        storage = instance.event_log_storage
        storage.set_concurrency_slots("duckdb_build", 1)
        assert storage.claim_concurrency_slot("duckdb_build", run.run_id, "kostra_dbt_models").is_claimed

        assert runner.fail_abandoned_runs(instance) == [run.run_id]
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        assert storage.claim_concurrency_slot("duckdb_build", "next-run", "raw_tables").is_claimed
        assert runner.fail_abandoned_runs(instance) == []  # a failed run is left alone
