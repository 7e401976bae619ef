"""The vintage rule: March releases are unrevised for their newest year only; everything else is revised."""

from datetime import UTC, datetime

import pytest

from pipeline.vintage import is_march_release, parse_updated, vintage_of


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


def test_only_the_newest_year_of_a_march_release_is_unrevised():
    march = "2024-03-15T07:00:00Z"
    assert vintage_of(march, 2023, newest_year=2023) == "unrevised"
    assert vintage_of(march, 2022, newest_year=2023) == "revised"
    assert vintage_of("2024-06-17T06:00:00Z", 2023, newest_year=2023) == "revised"


def test_parse_updated_is_utc_and_rejects_garbage():
    assert parse_updated("2024-06-17T08:00:00") == datetime(2024, 6, 17, 6, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="not an ISO timestamp"):
        parse_updated("17.06.2024")
