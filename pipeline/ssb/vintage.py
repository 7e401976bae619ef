"""Releases and vintages.

A release is one table at one ``updated`` timestamp. SSB publishes unrevised KOSTRA figures on 15 March and
revised ones on 15 June, and a table carries no per-value revision flag: ``updated`` is the only signal. A
release before 1 June (Oslo time) of year Y publishes data year Y-1 unrevised; a June release publishes it
revised. So a cell is *unrevised* exactly when its release came out before 1 June of year Y and the cell is
of year Y-1; every other cell is *revised*. The year follows from the release, never from the years one
response happens to hold: a March 2026 query for 2019 and 2023 returns no unrevised cell at all.
"""

from __future__ import annotations

from datetime import datetime

from pipeline import timestamps
from pipeline.timestamps import OSLO

UNREVISED = "unrevised"
REVISED = "revised"


def parse_updated(updated: str | datetime | None) -> datetime | None:
    """SSB's ``updated`` as an aware UTC datetime (naive = Oslo time; see :mod:`pipeline.timestamps`)."""
    return timestamps.parse(updated, what="'updated'")


def is_march_release(updated: str | datetime | None) -> bool:
    """True when the release came out before 1 June of its year, Oslo time."""
    dt = parse_updated(updated)
    if dt is None:
        return False
    local = dt.astimezone(OSLO)
    return local < datetime(local.year, 6, 1, tzinfo=OSLO)


def unrevised_year(updated: str | datetime | None) -> int | None:
    """The data year a release publishes unrevised: Y-1 for a release before 1 June of Y, else None."""
    dt = parse_updated(updated)
    if dt is None or not is_march_release(dt):
        return None
    return dt.astimezone(OSLO).year - 1


def vintage_of(updated: str | datetime | None, year: int | None) -> str:
    """The vintage of one cell (the scalar rule; the loader applies the same rule column-wise)."""
    target = unrevised_year(updated)
    if target is not None and year == target:
        return UNREVISED
    return REVISED
