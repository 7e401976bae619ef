"""Run the Dagster graph in-process, without a Dagster server: what `kostra run` and `kostra build` do.

Two runs: the ingest assets over a range of release partitions (one run, single-run backfill), then the
unpartitioned rest (raw cells, dbt, publish). Dagster and dbt each start once per call, never per table.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from orchestration import definitions as d
from orchestration.resources import HomeResource, StatbankResource
from pipeline.config import Home
from pipeline.errors import RunFailed

PARTITION_RANGE_START = "dagster/asset_partition_range_start"
PARTITION_RANGE_END = "dagster/asset_partition_range_end"


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
    """Fetch and land every release in ``release_keys`` (inclusive range, in calendar order)."""
    keys = sorted(release_keys)
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
        tags={PARTITION_RANGE_START: keys[0], PARTITION_RANGE_END: keys[-1]},
        raise_on_error=False,
    )
    if not result.success:
        raise RunFailed(f"ingest of releases {keys[0]}..{keys[-1]} failed: {_first_error(result)}")
    return result


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
