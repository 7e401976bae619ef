"""Ingest assets: one per SSB source table in the indicator catalogue, partitioned by release.

A partition is one publication (``2016-03`` unrevised, ``2016-06`` revised). A backfill of every release runs
as one Dagster run (single-run backfill policy) that walks the releases in order, so the API client, its
rate limiter and the landing store are set up once, not once per partition.
"""

from collections import Counter

import dagster as dg

from orchestration.partitions import release_key_for, release_partitions
from orchestration.resources import HomeResource, StatbankResource
from pipeline.landing.completeness import check_table, object_facts
from pipeline.landing.ingest import catalogue_filters, ingest_table
from pipeline.landing.store import LandingStore
from pipeline.reference.catalogue import TableSpec, tables
from pipeline.ssb.calendar import data_year_of
from pipeline.ssb.client import worth_another_run
from pipeline.ssb.errors import SsbError
from pipeline.ssb.vintage import is_march_release

# The run layer's retries: a whole step again, minutes apart (an outage, a body cut off mid-transfer). Single
# requests are retried by urllib3 inside the client (StatbankResource.retries); nothing retries in between.
# The step asks for them itself (dg.RetryRequested, with this policy's delays) rather than carrying the policy:
# Dagster retries a step with a retry policy when it is interrupted too, so Ctrl+C or a service manager's
# SIGTERM during an ingest would put the step up for retry and the run would go on instead of stopping.
INGEST_RETRY = dg.RetryPolicy(
    max_retries=3, delay=20, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def asset_key_for(table_id: str) -> dg.AssetKey:
    return dg.AssetKey(["ssb", f"table_{table_id}"])


def _status_counts(store: LandingStore, shas: list[str]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for sha in shas:
        counts.update(object_facts(store, sha).statuses)  # decoded once for this and the completeness check
    return dict(counts)


def build_ingest_asset(table_id: str, filters: dict[str, list[str]], spec: TableSpec) -> dg.AssetsDefinition:
    title = spec.title_nb.split(": ", 1)[-1]

    @dg.asset(
        key=asset_key_for(table_id),
        partitions_def=release_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="ingest",
        kinds={"python", "json"},
        pool="ssb_api",
        description=(
            f"SSB table {table_id} ({title}): each release fetched through the statbank API (JSON-stat2) and "
            "kept byte-for-byte in the landing store, one partition per publication."
        ),
        metadata={"table_id": table_id, "filters": dg.MetadataValue.json(filters)},
    )
    def _ingest(
        context: dg.AssetExecutionContext, home: HomeResource, statbank: StatbankResource
    ) -> dg.MaterializeResult:
        store = LandingStore(home.home().landing)
        keys = sorted(context.partition_keys)
        store.sweep()  # once per step: each sweep walks the whole store
        landed, skipped, not_served = [], [], []
        for key in keys:
            # A table serves its own data years only: 13995 begins with 2022, 12210 ended with 2021.
            if not spec.serves(data_year_of(key)):
                not_served.append(key)
                continue
            client = statbank.client(key)
            try:
                rec = ingest_table(client, store, table_id, filters, source=client.v0_root, sweep=False)
            except SsbError as exc:
                if worth_another_run(exc):  # transient: the step again later
                    raise dg.RetryRequested(
                        max_retries=INGEST_RETRY.max_retries,
                        seconds_to_wait=INGEST_RETRY.calculate_delay(context.retry_number + 1),
                    ) from exc
                # A wrong query stays wrong: fail now instead of retrying for minutes.
                raise dg.Failure(description=str(exc), allow_retries=False) from exc
            if rec is None:
                skipped.append(key)
                continue
            release = release_key_for(rec.updated)
            if statbank.is_live and release != key:
                context.log.warning(
                    f"table {table_id}: SSB now serves release {release} ({rec.updated}); "
                    f"release {key} can no longer be fetched live and was not landed under that key"
                )
            landed.append(rec)
        statuses = _status_counts(store, [s for r in landed for s in r.new_objects])
        last = landed[-1] if landed else None
        return dg.MaterializeResult(
            metadata={
                "releases_landed": len(landed),
                "releases_already_landed": len(skipped),
                "releases_not_served": len(not_served),
                "cells": sum(r.cells for r in landed),
                "statuses": dg.MetadataValue.json(statuses),
                "release_updated": last.updated if last else "",
                "vintage": ("unrevised" if is_march_release(last.updated) else "revised") if last else "",
            }
        )

    @dg.asset_check(
        asset=asset_key_for(table_id),
        name="completeness",
        blocking=True,
        description=(
            f"Every ASSS member and comparator is in every release of table {table_id} that the run landed."
        ),
    )
    def _completeness(context: dg.AssetCheckExecutionContext, home: HomeResource) -> dg.AssetCheckResult:
        # The releases this run materialized: a release found incomplete by an earlier run was reported then
        # and is the analyst's to quarantine or keep; it must not fail every later run of the table.
        ctx = context.op_execution_context
        keys = set(ctx.partition_keys) if ctx.has_partition_key or ctx.has_partition_key_range else set()
        result = check_table(
            LandingStore(home.home().landing),
            table_id,
            only=(lambda rec: release_key_for(rec.updated) in keys) if keys else None,
        )
        # A table that serves only some data years (12210 to 2021, 13995 from 2022) has nothing to land for
        # releases outside them; never landed is then no gap.
        bounded = spec.first_year is not None or spec.last_year is not None
        passed = result.ok or (result.fetches == 0 and bounded)
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "fetches": result.fetches,
                "cells": result.cells,
                "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in result.problems[:50]) or "none"),
                "summary": result.summary()
                or ("complete" if result.fetches else "no release of this run to check"),
            },
        )

    return _ingest, _completeness


def ingest_definitions() -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    specs = tables()
    assets, checks = [], []
    for table_id, filters in catalogue_filters().items():
        asset, check = build_ingest_asset(table_id, filters, specs[table_id])
        assets.append(asset)
        checks.append(check)
    return assets, checks


# One asset and one blocking completeness check per catalogue table (read from the catalogue at load time).
ingest_assets, ingest_checks = ingest_definitions()
