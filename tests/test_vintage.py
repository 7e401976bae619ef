"""The vintage rule: a March release of year Y publishes Y-1 unrevised; everything else is revised."""

from datetime import UTC, datetime

import pytest

from pipeline.ssb.vintage import is_march_release, parse_updated, unrevised_year, vintage_of


@pytest.mark.parametrize(
    ("updated", "march"),
    [
        ("2024-03-15T07:00:00Z", True),  # 08:00 Oslo, March release
        ("2024-06-17T06:00:00Z", False),  # June 2024 release came Monday 17 June
        ("2024-05-31T21:59:00Z", True),  # 23:59 Oslo on 31 May: still before 1 June
        ("2024-05-31T22:00:00Z", False),  # 00:00 Oslo on 1 June
        ("2021-06-13T22:00:00Z", False),  # the real 12367 response
        ("2024-06-17T08:00:00", False),  # no offset: Oslo local time
    ],
)
def test_march_release_is_decided_in_oslo_time(updated, march):
    assert is_march_release(updated) is march


def test_only_the_previous_year_of_a_march_release_is_unrevised():
    march = "2024-03-15T07:00:00Z"
    assert vintage_of(march, 2023) == "unrevised"
    assert vintage_of(march, 2022) == "revised"
    assert vintage_of("2024-06-17T06:00:00Z", 2023) == "revised"


@pytest.mark.parametrize(
    ("updated", "year"),
    [
        ("2026-03-16T07:00:00Z", 2025),  # the real 12209 release: 2025 is its unrevised year
        ("2027-03-15T07:00:00Z", 2026),
        ("2031-03-17T07:00:00Z", 2030),  # a Monday after a weekend 15th
        ("2025-03-21T08:00:00Z", 2024),  # SSB's correction of 21 March 2025 is still a March release
        ("2027-06-15T06:00:00Z", None),
        ("2027-11-02T08:00:00Z", None),  # an out-of-calendar correction is revised
    ],
)
def test_the_unrevised_year_follows_from_the_release(updated, year):
    assert unrevised_year(updated) == year


def test_the_years_a_query_selected_do_not_decide_the_vintage():
    """A March 2026 release queried for 2019 and 2023 (the real 12209 response) has no unrevised cell."""
    march_2026 = "2026-03-16T07:00:00Z"
    assert [vintage_of(march_2026, y) for y in (2019, 2023)] == ["revised", "revised"]
    assert vintage_of(march_2026, 2025) == "unrevised"


def test_parse_updated_is_utc_and_rejects_garbage():
    assert parse_updated("2024-06-17T08:00:00") == datetime(2024, 6, 17, 6, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="not an ISO timestamp"):
        parse_updated("17.06.2024")
