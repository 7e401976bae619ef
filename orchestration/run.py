"""Run the Dagster graph in-process, without a Dagster server: what `kostra run` and `kostra build` do.

Two runs: the ingest assets over a range of release partitions (one run, single-run backfill), then the
unpartitioned rest (raw cells, dbt, publish). Dagster and dbt each start once per call, never per table.

A backfill of every release and the one new publication take the same path: one run over the partition range
from the oldest to the newest key asked for (a single release is the range from it to itself).
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from orchestration import definitions as d
from orchestration.partitions import release_partition_range
from orchestration.resources import HomeResource, StatbankResource
from pipeline.config import Home
from pipeline.errors import RunFailed, TablesFailed

# The tags Dagster itself puts on a single-run backfill's run (and reads back as the run's partition key
# range); ``dg.materialize`` has a public ``partition_key`` for one partition but no argument for a range.
PARTITION_RANGE_START = "dagster/asset_partition_range_start"
PARTITION_RANGE_END = "dagster/asset_partition_range_end"


def partition_range_tags(key_range: dg.PartitionKeyRange) -> dict[str, str]:
    return {PARTITION_RANGE_START: key_range.start, PARTITION_RANGE_END: key_range.end}


def _resources(home: Home, statbank: StatbankResource | None) -> dict:
    return {
        "home": HomeResource(root=str(home.root)),
        "statbank": statbank or StatbankResource(),
        "dbt": d.defs.resources["dbt"],
    }


# Dagster's console logger speaks at DEBUG per event; a CLI run shows warnings and errors only.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


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
    wanted = {a.key for a in assets}
    checks = [c for c in d.ingest_checks if any(k.asset_key in wanted for k in c.check_keys)]
    result = dg.materialize(
        [*assets, *checks],
        resources=_resources(home, statbank),
        instance=_instance(),
        run_config=QUIET,
        tags=partition_range_tags(key_range),
        raise_on_error=False,
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
            problems = data.metadata.get("problems")
            text = str(getattr(problems, "value", problems) or "").strip().splitlines()
            first = text[0].removeprefix("- ") if text else "see the asset check"
            table = data.asset_key.path[-1].removeprefix("table_")
            out.append((table, f"{data.check_name} check failed: {first}"))
    return out


def build(home: Home) -> dg.ExecuteInJobResult:
    """Load what has been landed, build every dbt model, check quality and publish the analyst warehouse.

    A FATAL data-quality finding fails the blocking check before the publish: the previous warehouse stays.
    """
    result = dg.materialize(
        [*d.ingest_assets, d.raw_tables, d.kostra_dbt_models, d.dq_findings, d.published, d.quality_report],
        selection=[
            *d.raw_tables.keys,
            *d.kostra_dbt_models.keys,
            *d.dq_findings.keys,
            d.published.key,
            d.quality_report.key,
        ],
        resources=_resources(home, None),
        instance=_instance(),
        run_config=QUIET,
        raise_on_error=False,
    )
    if not result.success:
        raise RunFailed(f"build failed, nothing was published: {_first_error(result)}")
    return result


def _first_error(result: dg.ExecuteInJobResult) -> str:
    for event in result.all_events:
        if event.is_failure and event.event_specific_data is not None:
            err = getattr(event.event_specific_data, "error", None)
            if err is not None:
                return f"{event.step_key}: {err.message.strip()}"
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if data is not None and not data.passed:
                return f"blocking check {data.check_name} on {data.asset_key.to_user_string()} failed"
    return "see the Dagster log above"
