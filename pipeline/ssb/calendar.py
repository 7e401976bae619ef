"""KOSTRA's publication calendar: when each data year's unrevised and revised figures come out.

SSB publishes unrevised KOSTRA figures for data year Y on 15 March Y+1 and revised ones on 15 June Y+1, at
08:00 Oslo time. When the 15th falls on a Saturday or Sunday the release moves to the next Monday (June 2024's
came on Monday 17 June). The demo generator and the local server use this calendar to stamp releases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from pipeline.timestamps import OSLO

RELEASE_MONTHS = {3: "unrevised", 6: "revised"}
RELEASE_DAY = 15
RELEASE_TIME = time(8, 0)


@dataclass(frozen=True)
class Release:
    """One KOSTRA publication: ``key`` like ``2016-03``, ``updated`` in UTC, the newest data year it adds."""

    key: str
    updated: datetime
    data_year: int
    vintage: str

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "updated": self.updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data_year": self.data_year,
            "vintage": self.vintage,
        }


def _check_month(month: int) -> None:
    if month not in RELEASE_MONTHS:
        raise ValueError(f"KOSTRA releases are in March (3) or June (6), not month={month!r}")


def publication_date(year: int, month: int) -> date:
    """The release day in ``year``/``month``: the 15th, or the Monday after when it is a weekend."""
    _check_month(month)
    day = date(year, month, RELEASE_DAY)
    weekday = day.weekday()  # Monday = 0
    if weekday >= 5:
        day += timedelta(days=7 - weekday)
    return day


def release_updated(year: int, month: int) -> datetime:
    """The release's ``updated`` timestamp: 08:00 Europe/Oslo on the release day, as aware UTC."""
    local = datetime.combine(publication_date(year, month), RELEASE_TIME, tzinfo=OSLO)
    return local.astimezone(UTC)


def release_key(year: int, month: int) -> str:
    """``2016-03``: the publication year and month."""
    _check_month(month)
    return f"{year:04d}-{month:02d}"


def data_year_of(key: str) -> int:
    """The newest data year a release publishes: ``2016-03`` and ``2016-06`` both publish 2015."""
    year, _, month = key.partition("-")
    if not (year.isdigit() and month.isdigit()):
        raise ValueError(f"not a release key (YYYY-03 or YYYY-06): {key!r}")
    _check_month(int(month))
    return int(year) - 1


def releases(first_data_year: int, last_data_year: int) -> list[Release]:
    """Every release that publishes data years ``first_data_year``..``last_data_year``, oldest first."""
    if last_data_year < first_data_year:
        raise ValueError(f"last_data_year ({last_data_year}) is before first_data_year ({first_data_year})")
    out: list[Release] = []
    for data_year in range(first_data_year, last_data_year + 1):
        for month, vintage in RELEASE_MONTHS.items():
            pub_year = data_year + 1
            out.append(
                Release(
                    key=release_key(pub_year, month),
                    updated=release_updated(pub_year, month),
                    data_year=data_year,
                    vintage=vintage,
                )
            )
    return out


def release_for(
    moment: datetime, first_data_year: int = 2015, last_data_year: int | None = None
) -> Release | None:
    """The newest release published at or before ``moment`` (naive = Oslo time), or None before the first."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=OSLO)
    moment = moment.astimezone(UTC)
    if last_data_year is None:
        last_data_year = max(first_data_year, moment.year - 1)
    current = None
    for rel in releases(first_data_year, last_data_year):
        if rel.updated <= moment:
            current = rel
        else:
            break
    return current
