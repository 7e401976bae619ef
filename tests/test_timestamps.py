"""One reading of SSB's timestamps: Z and offsets as given, no offset = Oslo local time, garbage refused."""

from datetime import UTC, datetime

import pytest

from pipeline import timestamps
from pipeline.demo.server import parse_asof
from pipeline.ssb.client import parse_time
from pipeline.ssb.vintage import parse_updated


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-03-16T07:00:00Z", datetime(2026, 3, 16, 7, 0, tzinfo=UTC)),
        ("2026-03-16T08:00:00+01:00", datetime(2026, 3, 16, 7, 0, tzinfo=UTC)),
        ("2027-06-15T08:00:00", datetime(2027, 6, 15, 6, 0, tzinfo=UTC)),  # Oslo summer time, UTC+2
        ("2028-03-15T08:00:00", datetime(2028, 3, 15, 7, 0, tzinfo=UTC)),  # Oslo winter time, UTC+1
    ],
)
def test_every_reader_agrees(text, utc):
    assert timestamps.parse(text) == parse_updated(text) == parse_time(text) == utc
    assert parse_asof(text) == utc  # the demo server's /asof/<timestamp>/ too


def test_none_passes_and_garbage_names_what_it_is():
    assert timestamps.parse(None) is None and timestamps.parse("") is None
    with pytest.raises(ValueError, match="'updated' is not an ISO timestamp: '17.06.2024'"):
        parse_updated("17.06.2024")


def test_format_z_is_ssbs_way_of_writing_a_moment():
    assert timestamps.format_z(datetime(2027, 6, 15, 8, 0)) == "2027-06-15T06:00:00Z"  # naive = Oslo
    assert timestamps.format_z(datetime(2027, 3, 15, 7, 0, tzinfo=UTC)) == "2027-03-15T07:00:00Z"
