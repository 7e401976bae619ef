"""Runs on SSB's publication days, and a sensor that notices a new release of any catalogue table.

The schedule fires at 09:00 Oslo on the 15th–19th of March and June and runs only on the actual publication
day (the 15th, or the Monday after when the 15th is a weekend), an hour after SSB's 08:00 release. The sensor
covers the rest: corrections, delays, tables that move on another day. It polls each table's ``updated``
(one v2 metadata call per table, well inside SSB's 30 calls a minute) and asks only for the tables whose
``updated`` changed since its cursor; a table's cursor moves only with the run requested for it.

Both check a release against the release partitions as of the tick (``orchestration.partitions``), which
follow the calendar: a code location deployed today runs the March and June releases of every later year.
"""

import json
from collections.abc import Mapping
from datetime import datetime

import dagster as dg

from orchestration.partitions import is_release_partition, release_key_for
from orchestration.resources import StatbankResource
from pipeline import timestamps
from pipeline.ssb.calendar import OSLO, publication_date, release_key

INGEST_JOB_NAME = "ingest_release"
BUILD_JOB_NAME = "build_and_publish"


@dg.success_hook(name="release_arrow_memory")
def release_arrow_memory(context: dg.HookContext) -> None:
    """Hand the memory Arrow's pool keeps after a step back to the system.

    The jobs run their steps in one process (``kostra run``, the in-process executor): the pool (mimalloc)
    otherwise keeps what the raw load or the quality stage used, and the next step's peak comes on top of
    it (measured on the demo: 0.96 GB kept after the raw load, 0.2 GB after this)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


ingest_release_job = dg.define_asset_job(
    INGEST_JOB_NAME,
    selection=dg.AssetSelection.key_prefixes("ssb"),
    hooks={release_arrow_memory},
    description="Fetch and land one KOSTRA release (a March or June publication) of every catalogue table.",
)

build_job = dg.define_asset_job(
    BUILD_JOB_NAME,
    selection=dg.AssetSelection.groups("ingest", "staging", "marts", "quality", "publish", "reports")
    - dg.AssetSelection.key_prefixes("ssb"),
    hooks={release_arrow_memory},
    description="Load landed releases, build and test the dbt models, check quality and publish the warehouse. "
    "Run config: the focus municipality, comparators and comparison group of the dbt step "
    "(ops.kostra_dbt_models.config and ops.kostra_dbt_quality_models.config, the same for both; defaults from "
    "KOSTRA_FOCUS, KOSTRA_COMPARATORS, KOSTRA_COMPARISON_GROUP).",
)


def publication_partition(moment: datetime) -> str | None:
    """The release partition to fetch at ``moment`` (Oslo), or None when it is not a publication day."""
    local = moment.astimezone(OSLO) if moment.tzinfo else moment.replace(tzinfo=OSLO)
    if local.month not in (3, 6):
        return None
    if local.date() != publication_date(local.year, local.month):
        return None
    return release_key(local.year, local.month)


@dg.schedule(
    name="kostra_publication_days",
    cron_schedule="0 9 15-19 3,6 *",
    execution_timezone="Europe/Oslo",
    job=ingest_release_job,
    description="KOSTRA publication days: 15 March (unrevised) and 15 June (revised), next weekday on weekends.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def publication_day_schedule(context: dg.ScheduleEvaluationContext):
    key = publication_partition(context.scheduled_execution_time)
    if key is None:
        day = context.scheduled_execution_time.date()
        return dg.SkipReason(f"{day} is not a KOSTRA publication day")
    # The partitions are computed from the calendar at the tick's time: no redeploy for a new year.
    if not is_release_partition(key, at=context.scheduled_execution_time):
        return dg.SkipReason(
            f"release {key} is not a release partition at {context.scheduled_execution_time}"
        )
    return dg.RunRequest(run_key=key, partition_key=key, tags={"kostra/release": key})


def changed_tables(previous: Mapping[str, str], current: Mapping[str, str]) -> dict[str, str]:
    """Tables whose ``updated`` differs from the cursor's (a table seen for the first time counts as new)."""
    return {t: u for t, u in current.items() if u and previous.get(t) != u}


@dg.sensor(
    name="ssb_new_release",
    job=ingest_release_job,
    minimum_interval_seconds=30 * 60,
    description="Polls each catalogue table's `updated` at SSB and starts an ingest for the tables that changed.",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def new_release_sensor(context: dg.SensorEvaluationContext, statbank: StatbankResource):
    """One run per release partition for the tables with a new ``updated``.

    The cursor (table → ``updated``) moves for a table only together with the run requested for it: a table
    whose ``updated`` maps to no release partition yet (before the first release, or SSB's clock ahead of
    ours) keeps its old cursor value, is logged, and is tried again on the next tick.
    """
    from orchestration.defs.ssb.assets import asset_key_for
    from pipeline.landing.ingest import catalogue_filters

    previous = json.loads(context.cursor) if context.cursor else {}
    current: dict[str, str] = {}
    client = statbank.client("")
    try:
        for table_id in sorted(catalogue_filters()):
            updated = client.table_updated(table_id)
            current[table_id] = timestamps.format_z(updated)
    finally:
        client.close()
    changed = changed_tables(previous, current)
    if not changed:
        return dg.SkipReason("no catalogue table has a new release")
    by_partition: dict[str, list[str]] = {}
    waiting: list[str] = []
    for table_id, updated in sorted(changed.items()):
        key = release_key_for(updated)
        if not is_release_partition(key):
            context.log.warning(
                f"table {table_id}: updated {updated} maps to release {key or 'none'}, which is not a release "
                "partition now; its cursor stays and the next tick tries again"
            )
            waiting.append(table_id)
            continue
        by_partition.setdefault(key, []).append(table_id)
    if not by_partition:
        return dg.SkipReason(f"tables {', '.join(waiting)} changed, but not to a release partition yet")
    requests = [
        dg.RunRequest(
            run_key=f"{key}:{','.join(tables)}:{max(current[t] for t in tables)}",
            partition_key=key,
            asset_selection=[asset_key_for(t) for t in tables],
            tags={"kostra/release": key, "kostra/tables": ",".join(tables)},
        )
        for key, tables in sorted(by_partition.items())
    ]
    requested = {t: current[t] for tables in by_partition.values() for t in tables}
    # The cursor is committed with the run requests (SensorResult), never without them.
    return dg.SensorResult(
        run_requests=requests, cursor=json.dumps({**previous, **requested}, sort_keys=True)
    )


@dg.run_status_sensor(
    name="build_after_ingest",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_release_job],
    request_job=build_job,
    description="After a release has been landed, build the marts and publish.",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def build_after_ingest(context: dg.RunStatusSensorContext):
    return dg.RunRequest(run_key=f"build-after-{context.dagster_run.run_id}")
