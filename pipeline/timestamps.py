"""SSB's timestamps, read and written one way everywhere.

SSB stamps releases in UTC with a ``Z`` (``2026-03-16T07:00:00Z``). A timestamp without an offset is Oslo
local time, as SSB's own pages write it ("Sist endret: 20240617 08:00"), and as analysts type them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")


def parse(value: str | datetime | None, *, what: str = "timestamp") -> datetime | None:
    """``value`` as an aware UTC datetime (None for None or ''); a naive value is Oslo local time.

    Raises ValueError naming ``what`` for anything that is not an ISO 8601 timestamp.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        stamp = value
    else:
        try:
            stamp = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"{what} is not an ISO timestamp: {value!r}") from exc
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=OSLO)
    return stamp.astimezone(UTC)


def format_z(stamp: datetime) -> str:
    """``2026-03-16T07:00:00Z``: SSB's way of writing a moment (UTC, whole seconds)."""
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=OSLO)
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
