"""Release partitions: one per KOSTRA publication (March unrevised, June revised), for every year to come.

The partitions are a time window per publication, computed from the calendar whenever Dagster evaluates them
(a schedule tick, a sensor tick, a run, the UI), not when the code location was deployed: code deployed in
2026 knows release ``2027-03`` from 08:00 Oslo on 15 March 2027 onwards, without a redeploy.

Each window opens at 08:00 Oslo on the 15th of March or June (SSB's release time) and lasts until the next
publication; ``end_offset=1`` makes the window in progress, i.e. the current release, a partition. A cron
cannot say "or the Monday after when the 15th is a weekend", so after a weekend 15th the partition exists a
day or two before SSB publishes (``2024-06`` from Saturday 15 June 2024, published Monday 17 June): its key
is the same either way. :func:`release_keys` and :func:`release_key_for` follow the calendar exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import dagster as dg

from pipeline.ssb.calendar import (
    RELEASE_DAY,
    RELEASE_MONTHS,
    RELEASE_TIME,
    release_for,
    release_key,
    releases,
)
from pipeline.ssb.vintage import parse_updated

FIRST_DATA_YEAR = 2015
FIRST_RELEASE = release_key(FIRST_DATA_YEAR + 1, min(RELEASE_MONTHS))  # "2016-03"
RELEASE_TIMEZONE = "Europe/Oslo"
# 08:00 on the 15th of March and June: "0 8 15 3,6 *".
RELEASE_CRON = (
    f"{RELEASE_TIME.minute} {RELEASE_TIME.hour} {RELEASE_DAY} {','.join(str(m) for m in RELEASE_MONTHS)} *"
)

release_partitions = dg.TimeWindowPartitionsDefinition(
    start=FIRST_RELEASE,
    fmt="%Y-%m",
    cron_schedule=RELEASE_CRON,
    timezone=RELEASE_TIMEZONE,
    end_offset=1,  # the release now current is a partition, not only the ones already superseded
)


def _moment(at: date | datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if isinstance(at, datetime):
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    return datetime.combine(at, datetime.max.time(), tzinfo=UTC)  # a date: everything out by its end


def release_keys(today: date | datetime | None = None) -> list[str]:
    """Every publication from the first data year up to the last one out by ``today`` (default: now).

    ``today`` may be a date (releases out on or before that day) or a moment. Calendar-exact (a weekend 15th
    counts from the Monday after); every key is also a partition of :data:`release_partitions` by then.
    """
    moment = _moment(today)
    last_data_year = max(FIRST_DATA_YEAR, moment.year - 1)
    return [r.key for r in releases(FIRST_DATA_YEAR, last_data_year) if r.updated <= moment]


def release_key_for(updated: str | datetime | None) -> str | None:
    """The publication an ``updated`` timestamp belongs to: the newest release due by then (any year)."""
    moment = parse_updated(updated)
    rel = release_for(moment, first_data_year=FIRST_DATA_YEAR) if moment else None
    return rel.key if rel else None


def is_release_partition(key: str | None, at: datetime | None = None) -> bool:
    """True when ``key`` is a release partition at ``at`` (default: Dagster's evaluation time, i.e. now)."""
    if not key:
        return False
    with dg.partition_loading_context(effective_dt=at):
        return release_partitions.has_partition_key(key)


def release_partition_range(keys: Sequence[str], at: datetime | None = None) -> dg.PartitionKeyRange:
    """The partition range from the oldest to the newest of ``keys``; ValueError names keys not (yet) known."""
    if not keys:
        raise ValueError("no release keys given")
    unknown = sorted({k for k in keys if not is_release_partition(k, at)})
    if unknown:
        with dg.partition_loading_context(effective_dt=at):
            last = release_partitions.get_last_partition_key()
        raise ValueError(
            f"releases {', '.join(unknown)} are not release partitions: a release key is YYYY-03 or YYYY-06 "
            f"from {FIRST_RELEASE} to the current release ({last})"
        )
    ordered = sorted(keys)
    return dg.PartitionKeyRange(ordered[0], ordered[-1])
