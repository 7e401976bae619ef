"""Releases and vintages.

A release is one table at one ``updated`` timestamp. SSB publishes unrevised KOSTRA figures on 15 March and
revised ones on 15 June, and a table carries no per-value revision flag: ``updated`` is the only signal. So a
cell is *unrevised* when its release came out before 1 June (Oslo time) of its year and the cell belongs to
the newest year in the release; every other cell is *revised*.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
UNREVISED = "unrevised"
REVISED = "revised"


def parse_updated(updated: str | datetime | None) -> datetime | None:
    """SSB's ``updated`` (ISO 8601, usually with Z) as an aware UTC datetime."""
    if updated is None or updated == "":
        return None
    if isinstance(updated, datetime):
        dt = updated
    else:
        try:
            dt = datetime.fromisoformat(updated.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"'updated' is not an ISO timestamp: {updated!r}") from exc
    if dt.tzinfo is None:
        # SSB's timestamps without an offset are Oslo local time (e.g. the StatBank footer "Sist endret").
        dt = dt.replace(tzinfo=OSLO)
    return dt.astimezone(UTC)


def is_march_release(updated: str | datetime | None) -> bool:
    """True when the release came out before 1 June of its year, Oslo time."""
    dt = parse_updated(updated)
    if dt is None:
        return False
    local = dt.astimezone(OSLO)
    return local < datetime(local.year, 6, 1, tzinfo=OSLO)


def vintage_of(updated: str | datetime | None, year: int | None, newest_year: int | None) -> str:
    """The vintage of one cell (the scalar rule; the loader applies the same rule column-wise)."""
    if is_march_release(updated) and year is not None and year == newest_year:
        return UNREVISED
    return REVISED
