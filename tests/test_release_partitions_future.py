"""Release partitions for years this code location was not deployed in: computed when evaluated, not at import.

The code is loaded once (today, 2026-12-01 or whenever the tests run); the partitions are then asked about as
Dagster would ask at a later tick, with ``dg.partition_loading_context(effective_dt=...)``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from orchestration import run as runner
from orchestration.partitions import (
    FIRST_RELEASE,
    is_release_partition,
    release_key_for,
    release_keys,
    release_partition_range,
    release_partitions,
)
from orchestration.resources import StatbankResource
from pipeline.config import Home
from pipeline.errors import RunFailed
from pipeline.landing.ingest import catalogue_filters
from pipeline.landing.store import LandingStore
from pipeline.reference import seeds
from pipeline.ssb.calendar import OSLO, releases
from tests.jsonstat_factory import make_doc
from tests.pxweb_fixtures import recorded_server

pytestmark = pytest.mark.slow  # Dagster partitions, definitions and one ingest run


def keys_at(moment: datetime) -> list[str]:
    with dg.partition_loading_context(effective_dt=moment):
        return list(release_partitions.get_partition_keys())


def test_the_partitions_grow_at_each_publication_without_a_redeploy():
    assert keys_at(datetime(2026, 12, 1, tzinfo=OSLO))[-1] == "2026-06"
    assert keys_at(datetime(2027, 3, 15, 7, 59, tzinfo=OSLO))[-1] == "2026-06"  # SSB publishes at 08:00
    assert keys_at(datetime(2027, 3, 15, 8, 0, tzinfo=OSLO))[-1] == "2027-03"
    assert keys_at(datetime(2027, 6, 15, 9, tzinfo=OSLO))[-2:] == ["2027-03", "2027-06"]
    later = keys_at(datetime(2040, 7, 1, tzinfo=OSLO))
    assert later[0] == FIRST_RELEASE == "2016-03"
    assert later == [f"{y}-{m:02d}" for y in range(2016, 2041) for m in (3, 6)]


def test_every_calendar_release_is_a_partition_from_its_publication_on():
    for rel in releases(2015, 2059):  # publications 2016-03 … 2060-06, weekend rule included
        assert is_release_partition(rel.key, at=rel.updated), rel.key
        assert release_key_for(rel.updated) == rel.key
        if rel.key != FIRST_RELEASE:  # (before 2016 Dagster shows the first window as the current one)
            assert not is_release_partition(rel.key, at=rel.updated - timedelta(days=3)), rel.key


def test_a_weekend_release_keeps_its_month_key():
    # June 2024: the 15th was a Saturday and SSB published on Monday the 17th. The key is 2024-06 either way.
    window = release_partitions.time_window_for_partition_key("2024-06")
    assert window.start == datetime(2024, 6, 15, 8, tzinfo=OSLO)
    assert window.end == datetime(2025, 3, 15, 8, tzinfo=OSLO)
    assert release_key_for("2024-06-17T06:00:00Z") == "2024-06"
    # The calendar is exact: on the Saturday, the current release is still March's …
    assert release_keys(datetime(2024, 6, 15, 12, tzinfo=OSLO))[-1] == "2024-03"
    assert release_key_for("2024-06-15T10:00:00Z") == "2024-03"
    # … while the partition already exists (a cron has no weekend rule); the schedule waits for Monday.
    assert is_release_partition("2024-06", at=datetime(2024, 6, 15, 12, tzinfo=OSLO))
    # Same in the future: Saturday 15 June 2030 → Monday 17 June.
    assert release_key_for("2030-06-15T10:00:00Z") == "2030-03"
    assert release_key_for("2030-06-17T06:00:00Z") == "2030-06"


@pytest.mark.parametrize(
    ("updated", "key"),
    [
        ("2027-03-15T07:00:00Z", "2027-03"),  # 08:00 Oslo (CET)
        ("2027-03-15T06:59:59Z", "2026-06"),
        ("2027-06-15T06:00:00Z", "2027-06"),  # 08:00 Oslo (CEST)
        ("2028-01-10T12:00:00Z", "2027-06"),  # a correction between releases belongs to the current one
        ("2031-03-17T07:00:00Z", "2031-03"),  # Saturday 15 March 2031 → Monday
        ("2099-06-15T06:00:00Z", "2099-06"),
        ("2016-03-15T06:59:59Z", None),  # before the first release
        (None, None),
        ("", None),
    ],
)
def test_release_key_for_any_year(updated, key):
    assert release_key_for(updated) == key


def test_release_keys_follow_the_clock():
    assert release_keys(date(2026, 12, 1)) == keys_at(datetime(2026, 12, 1, tzinfo=OSLO))
    assert release_keys(date(2027, 3, 15))[-1] == "2027-03"
    assert release_keys(datetime(2027, 3, 15, 6, 59, tzinfo=UTC))[-1] == "2026-06"
    assert release_keys(date(2028, 7, 1))[-4:] == ["2027-03", "2027-06", "2028-03", "2028-06"]
    now = release_keys()
    assert now and set(now) <= set(release_partitions.get_partition_keys())


@pytest.mark.parametrize("key", ["2027-04", "2027-3", "2015-06", "2016-01", "march", ""])
def test_keys_that_are_not_releases_are_not_partitions(key):
    assert not is_release_partition(key, at=datetime(2040, 1, 1, tzinfo=OSLO))


def test_a_release_not_out_yet_is_not_a_partition_and_the_range_says_so():
    today = datetime(2026, 12, 1, tzinfo=OSLO)
    assert not is_release_partition("2027-03", at=today)
    with pytest.raises(
        ValueError, match=r"releases 2027-03, 2027-06 are not release partitions.*\(2026-06\)"
    ):
        release_partition_range(["2026-06", "2027-06", "2027-03"], at=today)
    later = datetime(2027, 6, 16, tzinfo=OSLO)
    assert release_partition_range(["2027-06", "2016-03", "2027-03"], at=later) == dg.PartitionKeyRange(
        "2016-03", "2027-06"
    )
    with pytest.raises(ValueError, match="no release keys"):
        release_partition_range([])


# ---------------------------------------------------------------- the definitions, as of a future release


@pytest.fixture(scope="module")
def defs():
    from orchestration.definitions import defs

    return defs


def test_the_definitions_load_and_validate(defs):
    dg.Definitions.validate_loadable(defs)


def test_every_ingest_asset_and_the_ingest_job_accept_a_future_release(defs):
    from orchestration.definitions import ingest_assets
    from orchestration.defs.schedules.jobs_and_triggers import INGEST_JOB_NAME

    job = defs.resolve_job_def(INGEST_JOB_NAME)
    with dg.partition_loading_context(effective_dt=datetime(2027, 6, 15, 9, tzinfo=OSLO)):
        assert job.partitions_def.has_partition_key("2027-06")
        for a in ingest_assets:
            assert a.partitions_def.has_partition_key("2027-06"), a.key
            assert a.partitions_def.get_last_partition_key() == "2027-06", a.key
    # Before its publication it is not one (a backfill cannot ask SSB for a release that is not out).
    assert not ingest_assets[0].partitions_def.has_partition_key("2027-06")


def _doc(updated: str, value: float) -> bytes:
    # Table 13502 as the catalogue asks for it: every municipality of 2024–2026, its contents codes.
    regions = sorted(set(seeds.all_codes(2024, 2024)))
    dims = {
        "KOKkommuneregion0000": regions,
        "ContentsCode": catalogue_filters()["13502"]["ContentsCode"],
        "Tid": ["2024", "2025", "2026"],
    }
    return make_doc("13502", dims, updated=updated, default=value)


def _partitions(result: dg.ExecuteInJobResult) -> set[str]:
    return {e.materialization.partition for e in result.get_asset_materialization_events()}


@pytest.mark.slow
def test_a_future_release_is_ingested_through_the_same_run_path_as_a_backfill(tmp_path):
    home = Home(tmp_path / "home").ensure()
    docs = [
        _doc("2026-06-15T06:00:00Z", 1.0),
        _doc("2027-03-15T07:00:00Z", 2.0),
        _doc("2027-06-15T06:00:00Z", 3.0),
    ]
    with recorded_server(*docs, max_calls=1000, window_seconds=1) as server:
        statbank = StatbankResource(asof_root=server.url)
        # Today the June 2027 release is not out: the run is refused before Dagster starts, naming the key.
        with pytest.raises(RunFailed, match="2027-06"):
            runner.ingest(home, statbank, ["2027-06"], table_ids=["13502"])
        # The day after it came out: the new publication alone, then a backfill range ending at it.
        with dg.partition_loading_context(effective_dt=datetime(2027, 6, 16, 9, tzinfo=OSLO)):
            june = runner.ingest(home, statbank, ["2027-06"], table_ids=["13502"])
            backfill = runner.ingest(home, statbank, ["2026-06", "2027-03", "2027-06"], table_ids=["13502"])
    assert june.success and _partitions(june) == {"2027-06"}
    assert backfill.success and _partitions(backfill) == {"2026-06", "2027-03", "2027-06"}
    landed = [r.updated for r in LandingStore(home.landing).fetches()]
    assert sorted(landed) == ["2026-06-15T06:00:00Z", "2027-03-15T07:00:00Z", "2027-06-15T06:00:00Z"]
