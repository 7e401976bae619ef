"""The KOSTRA publication calendar: 15 March / 15 June, weekends moved to Monday, 08:00 Oslo time."""

from datetime import UTC, date, datetime

import pytest

from pipeline.ssb import calendar


def test_weekday_release_stays_on_the_15th():
    assert publication_date_is(2023, 3, date(2023, 3, 15))  # Wednesday


def publication_date_is(year, month, expected):
    return calendar.publication_date(year, month) == expected


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2024, 6, date(2024, 6, 17)),  # Saturday 15 June 2024 -> Monday 17 June
        (2025, 6, date(2025, 6, 16)),  # Sunday -> Monday
        (2020, 3, date(2020, 3, 16)),  # Sunday
        (2019, 6, date(2019, 6, 17)),  # Saturday
        (2021, 3, date(2021, 3, 15)),  # Monday
    ],
)
def test_weekend_moves_to_next_monday(year, month, expected):
    got = calendar.publication_date(year, month)
    assert got == expected
    assert got.weekday() == 0 or got.day == 15


def test_timezone_cet_in_march_cest_in_june():
    assert calendar.release_updated(2016, 3) == datetime(2016, 3, 15, 7, 0, tzinfo=UTC)  # CET, UTC+1
    assert calendar.release_updated(2024, 6) == datetime(2024, 6, 17, 6, 0, tzinfo=UTC)  # CEST, UTC+2


def test_bad_month_is_rejected_with_the_parameter_named():
    with pytest.raises(ValueError, match="month=4"):
        calendar.publication_date(2024, 4)


def test_releases_pair_each_data_year():
    rels = calendar.releases(2015, 2024)
    assert len(rels) == 20
    assert rels[0].as_dict() == {
        "key": "2016-03",
        "updated": "2016-03-15T07:00:00Z",
        "data_year": 2015,
        "vintage": "unrevised",
    }
    assert (rels[1].key, rels[1].vintage, rels[1].data_year) == ("2016-06", "revised", 2015)
    assert rels[-1].key == "2025-06" and rels[-1].data_year == 2024
    assert [r.updated for r in rels] == sorted(r.updated for r in rels)
    assert calendar.release_key(2016, 3) == "2016-03"


def test_release_for_a_moment():
    assert calendar.release_for(datetime(2016, 3, 15, 7, 59)) is None  # naive = Oslo, one minute early
    assert calendar.release_for(datetime(2016, 3, 15, 8, 0)).key == "2016-03"
    rel = calendar.release_for(datetime(2024, 6, 16, 12, 0, tzinfo=UTC))
    assert (rel.key, rel.vintage, rel.data_year) == ("2024-03", "unrevised", 2023)
    assert calendar.release_for(datetime(2024, 6, 17, 6, 0, tzinfo=UTC)).key == "2024-06"
