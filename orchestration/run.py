"""Run the Dagster jobs in-process, without a Dagster server: what `kostra run` and `kostra build` do.

Both execute the jobs defined in ``orchestration.defs.schedules.jobs_and_triggers`` (``ingest_release``, ``build_and_publish``), the
same jobs the schedule, the sensors and the UI launch, so a CLI run is a run of the job like any other: with
``DAGSTER_HOME`` set it is recorded in that instance (and listed in the UI's run history), otherwise in an
ephemeral instance that is gone afterwards.

Two runs: the ingest job over a range of release partitions (one run, single-run backfill), then the build
job (raw cells, dbt, quality, publish) with the comparison parameters as its run config. Dagster and dbt each
start once per call, never per table.

A backfill of every release and the one new publication take the same path: one run over the partition range
from the oldest to the newest key asked for (a single release is the run of that one partition).

A run stopped by SIGINT or SIGTERM (``pipeline.interrupt``: Dagster's handler interrupts the step, dagster-dbt
forwards the signal to dbt) returns here as a failed result; the run is then marked CANCELED in the instance
and :class:`~pipeline.interrupt.Stopped` raised, so the CLI says it stopped rather than that the run failed.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from orchestration import definitions as d
from orchestration.defs.dbt.assets import ComparisonConfig
from orchestration.defs.schedules.jobs_and_triggers import BUILD_JOB_NAME, INGEST_JOB_NAME
from orchestration.partitions import release_partition_range
from orchestration.resources import HomeResource, StatbankResource
from pipeline import interrupt
from pipeline.config import Comparison, Home
from pipeline.errors import RunFailed, TablesFailed

# The tags Dagster itself puts on a single-run backfill's run (the backfill daemon sets them for an asset with
# ``BackfillPolicy.single_run()``, and the run's context reads them back as its partition key range).
# ``JobDefinition.execute_in_process`` (Dagster 1.13) takes one ``partition_key`` but no range argument.
PARTITION_RANGE_START = "dagster/asset_partition_range_start"
PARTITION_RANGE_END = "dagster/asset_partition_range_end"


def partition_range_tags(key_range: dg.PartitionKeyRange) -> dict[str, str]:
    return {PARTITION_RANGE_START: key_range.start, PARTITION_RANGE_END: key_range.end}


# Dagster's console logger speaks at DEBUG per event; a CLI run shows warnings and errors only.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _resource_config(resource: dg.ConfigurableResource) -> dict:
    return {"config": resource.model_dump()}


def ingest_run_config(home: Home, statbank: StatbankResource) -> dict:
    """The ingest job's run config: which home it lands into and which statbank it asks (both resources)."""
    return {
        **QUIET,
        "resources": {
            "home": _resource_config(HomeResource(root=str(home.root))),
            "statbank": _resource_config(statbank),
        },
    }


def build_run_config(home: Home, comparison: Comparison) -> dict:
    """The build job's run config: its home, and the comparison parameters of its dbt step."""
    config = ComparisonConfig.from_comparison(comparison)
    return {
        **QUIET,
        "resources": {"home": _resource_config(HomeResource(root=str(home.root)))},
        # Both dbt steps build with the same parameters (the quality models read the first step's marts).
        "ops": {
            dbt_step.op.name: {"config": config.model_dump()}
            for dbt_step in (d.kostra_dbt_models, d.kostra_dbt_quality_models)
        },
    }


# Which process runs a CLI run, so a later CLI run can tell a run that is still going from an abandoned one.
HOST_TAG = "kostra/host"
PID_TAG = "kostra/pid"


def _cli_tags() -> dict[str, str]:
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def fail_abandoned_runs(inst: dg.DagsterInstance) -> list[str]:
    """Mark failed the CLI runs on this host whose process is gone (killed hard), and free their pool slots.

    Such a run stays STARTED and keeps the ``duckdb_build``/``ssb_api`` slots it held, so every later run on
    the instance would wait for them forever. Returns the run ids it failed.
    """
    if inst.is_ephemeral:
        return []
    running = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
    runs = inst.get_runs(filters=dg.RunsFilter(statuses=running, tags={HOST_TAG: socket.gethostname()}))
    failed = []
    for run in runs:
        pid = int(run.tags.get(PID_TAG) or 0)
        if pid <= 0 or pid == os.getpid() or _alive(pid):
            continue
        inst.report_run_failed(run, message=f"the kostra process ({pid}) that ran this run is gone")
        if inst.event_log_storage.supports_global_concurrency_limits:
            inst.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed


# A run the CLI stopped is marked CANCELED from any of these (FAILURE: Dagster's verdict on an interrupted step).
_STOPPABLE_STATUSES = (
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
    dg.DagsterRunStatus.FAILURE,
)


def mark_stopped(inst: dg.DagsterInstance, run_id: str, signal_name: str) -> bool:
    """Mark the run CANCELED (a stop asked for, not a failure) and free its pool slots; True when marked."""
    run = inst.get_run_by_id(run_id)
    if run is None or run.status not in _STOPPABLE_STATUSES:
        return False
    inst.report_run_canceled(run, message=f"stopped by {signal_name} (kostra, pid {os.getpid()})")
    if inst.event_log_storage.supports_global_concurrency_limits:
        inst.event_log_storage.free_concurrency_slots_for_run(run_id)
    return True


@contextmanager
def _sigterm_kept() -> Iterator[None]:
    """Give SIGTERM back its handler when the run ends. Dagster, restoring SIGINT's after a run, also sets
    SIGTERM to whatever SIGINT has (dagster._utils.interrupts.setup_interrupt_handlers): in a command started
    in the background from a script (SIGINT ignored, as `cmd &` leaves it), SIGTERM was then ignored too for
    the rest of the command, and a service manager's stop did nothing."""
    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if main and before is not None and signal.getsignal(signal.SIGTERM) is not before:
            signal.signal(signal.SIGTERM, before)


def _execute(job_name: str, inst: dg.DagsterInstance, **kwargs) -> dg.ExecuteInProcessResult:
    """``execute_in_process`` of the job; a stop signal during it marks the run CANCELED and raises
    :class:`~pipeline.interrupt.Stopped` (``published`` when the run had finished: the build published)."""
    run_id = str(uuid.uuid4())

    def cancel() -> None:
        # From the watchdog thread, ending the process: only a run store other processes read is worth it.
        if not inst.is_ephemeral:
            mark_stopped(inst, run_id, interrupt.Stopped(interrupt.requested() or signal.SIGTERM).name)

    job = d.defs.resolve_job_def(job_name)
    with interrupt.at_force_exit(cancel), _sigterm_kept():
        try:
            result = job.execute_in_process(instance=inst, run_id=run_id, raise_on_error=False, **kwargs)
        except KeyboardInterrupt as exc:  # before Dagster took over the signals (the run being created)
            signum = getattr(exc, "signum", None) or interrupt.requested() or 2
            mark_stopped(inst, run_id, interrupt.Stopped(signum).name)
            raise interrupt.Stopped(signum) from None
    signum = interrupt.requested()
    if signum is not None:
        if not result.success:
            mark_stopped(inst, run_id, interrupt.Stopped(signum).name)
        raise interrupt.Stopped(signum, published=result.success and job_name == BUILD_JOB_NAME)
    return result


@contextmanager
def instance() -> Iterator[dg.DagsterInstance]:
    """The instance at ``$DAGSTER_HOME`` (the UI's, when ``make dev`` runs on the same home) or an ephemeral one."""
    dagster_home = os.environ.get("DAGSTER_HOME", "").strip()
    if dagster_home:
        Path(dagster_home).expanduser().mkdir(parents=True, exist_ok=True)
        inst = dg.DagsterInstance.get()
        fail_abandoned_runs(inst)
    else:
        inst = dg.DagsterInstance.ephemeral()
    try:
        yield inst
    finally:
        inst.dispose()


def ingest(
    home: Home,
    statbank: StatbankResource,
    release_keys: Sequence[str],
    table_ids: Sequence[str] | None = None,
) -> dg.ExecuteInJobResult:
    """Fetch and land every release from the oldest to the newest of ``release_keys`` (inclusive, in order).

    Every key must be a release partition now (``YYYY-03``/``YYYY-06`` from 2016-03 to the current release).
    """
    try:
        key_range = release_partition_range(release_keys)
    except ValueError as exc:
        raise RunFailed(str(exc)) from None
    assets = [
        a for a in d.ingest_assets if table_ids is None or a.key.path[-1].removeprefix("table_") in table_ids
    ]
    if not assets:
        raise RunFailed(
            f"no ingest asset for tables {list(table_ids or [])}: they are not in the indicator catalogue"
        )
    # The selected tables' completeness checks come with them (a job subset keeps the checks of its assets).
    single = key_range.start == key_range.end
    with instance() as inst:
        result = _execute(
            INGEST_JOB_NAME,
            inst,
            run_config=ingest_run_config(home, statbank),
            partition_key=key_range.start if single else None,
            tags={**_cli_tags(), **({} if single else partition_range_tags(key_range))},
            asset_selection=None if table_ids is None else [a.key for a in assets],
        )
    if not result.success:
        failed = _failed_tables(result)
        landed = [a for a in assets if _succeeded(result, a)]
        if failed and landed:
            # Tables are fetched independently: the ones that landed are kept and built.
            raise TablesFailed([f"table {t}: {msg}" for t, msg in failed])
        raise RunFailed(
            f"ingest of releases {key_range.start}..{key_range.end} failed: {_first_error(result)}"
        )
    return result


def _succeeded(result: dg.ExecuteInJobResult, asset: dg.AssetsDefinition) -> bool:
    return any(
        e.is_successful_output and e.step_key == asset.op.name for e in result.all_events if e.step_key
    )


def _failed_tables(result: dg.ExecuteInJobResult) -> list[tuple[str, str]]:
    """(table id, why) of every ingest step that failed and every completeness check that did not pass."""
    out = []
    for event in result.all_events:
        if event.is_step_failure and event.step_key and "table_" in event.step_key:
            if event.step_key.endswith("_completeness"):
                continue  # reported below, with the check's own first problem
            err = getattr(event.event_specific_data, "error", None)
            message = err.message.strip() if err is not None else "failed"
            # Dagster prefixes the exception's class path ("dagster._core.definitions.events.Failure: …").
            if message.startswith("dagster.") and ": " in message:
                message = message.split(": ", 1)[1]
            out.append((event.step_key.rsplit("table_", 1)[-1], message.splitlines()[0]))
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if data is None or data.passed:
                continue
            summary = data.metadata.get("summary")
            problems = data.metadata.get("problems")
            text = str(getattr(problems, "value", problems) or "").strip().splitlines()
            first = (
                str(getattr(summary, "value", summary))
                if summary is not None
                else text[0].removeprefix("- ")
                if text
                else "see the asset check"
            )
            table = data.asset_key.path[-1].removeprefix("table_")
            out.append((table, f"{data.check_name} check failed: {first}"))
    return out


def comparison_from_env(group: str | None = None) -> Comparison:
    """The comparison parameters from ``KOSTRA_FOCUS``/``KOSTRA_COMPARATORS``/``KOSTRA_COMPARISON_GROUP``
    (``group``, from ``--group``, overrides the last), validated: a bad code is one line (:class:`RunFailed`)
    before any run starts. The group is passed on in its canonical form, as the marts show it."""
    comparison = Comparison.from_env()
    if group is not None:
        comparison = dataclasses.replace(comparison, comparison_group=group)
    try:
        ComparisonConfig.from_comparison(comparison)
    except ValueError as exc:
        raise RunFailed(str(exc)) from None
    return dataclasses.replace(comparison, comparison_group=comparison.canonical_group)


def build(home: Home, comparison: Comparison | None = None) -> dg.ExecuteInJobResult:
    """Load what has been landed, build every dbt model, check quality and publish the analyst warehouse.

    ``comparison`` (default: :meth:`Comparison.from_env`) is the run config of the dbt step. A FATAL
    data-quality finding fails the blocking check before the publish: the previous warehouse stays.
    """
    from pipeline.config import duckdb_memory_limit

    try:
        run_config = build_run_config(home, comparison or Comparison.from_env())
        duckdb_memory_limit()
    except ValueError as exc:  # a bad municipality or group code, or DuckDB's memory for dbt
        raise RunFailed(str(exc)) from None
    with instance() as inst:
        result = _execute(BUILD_JOB_NAME, inst, run_config=run_config, tags=_cli_tags())
    if not result.success:
        if _published(result):  # a step after the publish (a report) failed: the warehouse is new and whole
            raise RunFailed(f"the warehouse was published, but a later step failed: {_first_error(result)}")
        raise RunFailed(f"build failed, nothing was published: {_first_error(result)}")
    if not _published(result):
        # A run whose steps were skipped (an asset that yielded no output skips what reads it) succeeds in
        # Dagster's eyes; for an analyst nothing new was published.
        skipped = sorted({e.step_key for e in result.all_events if e.is_step_skipped and e.step_key})
        raise RunFailed(f"build ended without publishing: steps skipped: {', '.join(skipped) or 'none'}")
    return result


def _published(result: dg.ExecuteInJobResult) -> bool:
    """Whether the run's publish step succeeded (the reports run after it, so a failed report leaves it)."""
    return any(
        event.is_step_success and (event.step_key or "").startswith("warehouse__published")
        for event in result.all_events
    )


def _first_error(result: dg.ExecuteInJobResult) -> str:
    for event in result.all_events:
        if event.is_failure and event.event_specific_data is not None:
            err = getattr(event.event_specific_data, "error", None)
            if err is not None:
                return f"{event.step_key}: {_one_line(err)}"
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if data is not None and not data.passed:
                return f"blocking check {data.check_name} on {data.asset_key.to_user_string()} failed"
    return "see the Dagster log above"


def _one_line(err) -> str:
    """The first line of the innermost error: the user's exception, not Dagster's wrapper around it."""
    while getattr(err, "cause", None) is not None and (err.cause.message or "").strip():
        err = err.cause
    lines = [line.strip() for line in (err.message or "").splitlines() if line.strip()]
    message = lines[0] if lines else "failed"
    # Dagster prefixes its own exception classes with their path ("dagster._core.errors.…: …").
    if message.startswith("dagster") and ": " in message:
        message = message.split(": ", 1)[1]
    return message
