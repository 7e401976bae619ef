"""Release partitions: one per KOSTRA publication (March unrevised, June revised)."""

from __future__ import annotations

from datetime import date

import dagster as dg

from pipeline.calendar import release_for, releases
from pipeline.vintage import parse_updated

FIRST_DATA_YEAR = 2015


def release_keys(today: date | None = None) -> list[str]:
    """Every publication from the first data year up to the last one due by ``today``."""
    today = today or date.today()
    return [r.key for r in releases(FIRST_DATA_YEAR, today.year - 1) if r.updated.date() <= today] or [
        r.key for r in releases(FIRST_DATA_YEAR, FIRST_DATA_YEAR)
    ]


release_partitions = dg.StaticPartitionsDefinition(release_keys())


def release_key_for(updated: str | None) -> str | None:
    """The publication an ``updated`` timestamp belongs to: the newest release due by then."""
    moment = parse_updated(updated)
    rel = release_for(moment) if moment else None
    return rel.key if rel else None
