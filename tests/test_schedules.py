"""Publication days, the schedule that fires on them, and the sensor that notices new releases."""

import json
from contextlib import contextmanager
from datetime import datetime

import dagster as dg
import pytest

from orchestration.defs.schedules.jobs_and_triggers import (
    changed_tables,
    new_release_sensor,
    publication_day_schedule,
    publication_partition,
)
from orchestration.resources import StatbankResource
from pipeline.ssb.calendar import OSLO, publication_date
from tests.pxweb_fixtures import recorded_server, synthetic_doc

pytestmark = pytest.mark.slow  # evaluates Dagster's schedule and sensor


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2024, 3, "2024-03-15"),  # Friday
        (2024, 6, "2024-06-17"),  # the 15th was a Saturday: Monday 17 June, as SSB did
        (2025, 3, "2025-03-17"),  # Saturday → Monday
        (2025, 6, "2025-06-16"),  # Sunday → Monday
        (2026, 3, "2026-03-16"),  # Sunday → Monday
        (2023, 6, "2023-06-15"),  # Thursday
    ],
)
def test_publication_date_moves_weekends_to_monday(year, month, expected):
    assert publication_date(year, month).isoformat() == expected


def test_publication_partition_only_on_the_day():
    assert publication_partition(datetime(2024, 6, 17, 9, tzinfo=OSLO)) == "2024-06"
    assert publication_partition(datetime(2024, 6, 15, 9, tzinfo=OSLO)) is None  # the Saturday
    assert publication_partition(datetime(2024, 3, 15, 9, tzinfo=OSLO)) == "2024-03"
    assert publication_partition(datetime(2024, 3, 18, 9, tzinfo=OSLO)) is None
    assert publication_partition(datetime(2024, 4, 15, 9, tzinfo=OSLO)) is None


@pytest.fixture(scope="module")
def repo():
    from orchestration.definitions import defs

    return defs.get_repository_def()


def _tick(repo, moment: datetime):
    ctx = dg.build_schedule_context(scheduled_execution_time=moment, repository_def=repo)
    return publication_day_schedule.evaluate_tick(ctx)


@pytest.mark.parametrize(
    ("moment", "key"),
    [
        (datetime(2024, 6, 17, 9, tzinfo=OSLO), "2024-06"),  # Monday after the Saturday 15th
        (datetime(2027, 3, 15, 9, tzinfo=OSLO), "2027-03"),  # after this code was deployed (2026-12)
        (datetime(2027, 6, 15, 9, tzinfo=OSLO), "2027-06"),
        (datetime(2030, 6, 17, 9, tzinfo=OSLO), "2030-06"),  # a future weekend: Saturday 15 June 2030
    ],
)
def test_the_schedule_runs_the_release_partition_on_publication_day(repo, moment, key):
    # evaluate_tick resolves the request against the ingest job as of the tick: Dagster accepts the key.
    (req,) = _tick(repo, moment).run_requests
    assert (req.partition_key, req.run_key) == (key, key)
    assert req.tags["dagster/partition"] == key and req.tags["kostra/release"] == key


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 6, 15, 9, tzinfo=OSLO),  # the Saturday itself
        datetime(2027, 3, 16, 9, tzinfo=OSLO),
        datetime(2027, 6, 19, 9, tzinfo=OSLO),
        datetime(2030, 6, 15, 9, tzinfo=OSLO),
        datetime(2030, 6, 16, 9, tzinfo=OSLO),
    ],
)
def test_the_schedule_skips_the_other_days(repo, moment):
    result = _tick(repo, moment)
    assert not result.run_requests and "not a KOSTRA publication day" in result.skip_message


def test_every_tick_of_the_next_years_runs_exactly_on_the_publication_days(repo):
    # Every tick the cron makes (15th–19th of March and June, 09:00 Oslo) from 2027 to 2031.
    ran = {}
    for year in range(2027, 2032):
        for month in (3, 6):
            for day in range(15, 20):
                result = _tick(repo, datetime(year, month, day, 9, tzinfo=OSLO))
                for req in result.run_requests:
                    ran[req.partition_key] = datetime(year, month, day).date()
    assert ran == {f"{y}-{m:02d}": publication_date(y, m) for y in range(2027, 2032) for m in (3, 6)}
    assert ran["2031-03"].isoformat() == "2031-03-17"  # Saturday 15 March 2031 → Monday


def test_changed_tables():
    assert changed_tables({"a": "1", "b": "1"}, {"a": "1", "b": "2", "c": "1"}) == {"b": "2", "c": "1"}


def _catalogue_doc(table_id: str, updated: str) -> dict:
    return synthetic_doc(table_id, updated=updated, years=range(2021, 2024))


TABLES = ("12367", "13502")  # two catalogue tables, so their ingest assets are in the definitions


@contextmanager
def _statbank(monkeypatch, **updated: str):
    """The local statbank serving each table ``t<id>`` as of its ``updated``; the sensor polls only those."""
    tables = {t.removeprefix("t"): u for t, u in updated.items()}
    monkeypatch.setattr("pipeline.landing.ingest.catalogue_filters", lambda: {t: {} for t in tables})
    with recorded_server(
        *(_catalogue_doc(t, u) for t, u in tables.items()), max_calls=1000, window_seconds=1
    ) as server:
        v0, v2 = server.roots()
        yield server, StatbankResource(v0_root=v0, v2_root=v2)


@pytest.fixture()
def statbank(monkeypatch):
    """Both tables as published in June 2026."""
    with _statbank(monkeypatch, **{f"t{t}": "2026-06-15T06:00:00Z" for t in TABLES}) as served:
        yield served


def _sense(repo, statbank, cursor: str | None, now: datetime):
    """One sensor tick at ``now``: the partitions are evaluated as of then, as the daemon would."""
    ctx = dg.build_sensor_context(cursor=cursor, resources={"statbank": statbank}, repository_def=repo)
    with dg.partition_loading_context(effective_dt=now):
        return new_release_sensor.evaluate_tick(ctx)


def _cursor(**updated: str) -> str:
    return json.dumps({t.removeprefix("t"): u for t, u in updated.items()}, sort_keys=True)


def test_the_sensor_starts_runs_only_for_tables_whose_updated_changed(repo, statbank):
    server, resource = statbank
    first = _sense(repo, resource, None, datetime(2026, 12, 1, tzinfo=OSLO))
    (req,) = first.run_requests
    assert req.partition_key == "2026-06"
    assert {k.path[-1] for k in req.asset_selection} == {"table_13502", "table_12367"}

    again = _sense(repo, resource, first.cursor, datetime(2026, 12, 1, 1, tzinfo=OSLO))
    assert not again.run_requests and "no catalogue table has a new release" in again.skip_message
    assert again.cursor == first.cursor  # nothing requested: the cursor does not move

    # March 2027, a release this code location has never seen: only 13502 is out yet.
    server.source.add(_catalogue_doc("13502", "2027-03-15T07:00:00Z"))
    march = _sense(repo, resource, first.cursor, datetime(2027, 3, 15, 8, 30, tzinfo=OSLO))
    (req,) = march.run_requests
    assert req.partition_key == "2027-03" and req.tags["dagster/partition"] == "2027-03"
    assert [k.path[-1] for k in req.asset_selection] == ["table_13502"]
    assert json.loads(march.cursor) == {"12367": "2026-06-15T06:00:00Z", "13502": "2027-03-15T07:00:00Z"}
    calls = [r for r in server.requests if "/metadata" in r.path]
    assert len(calls) == 3 * len(TABLES)  # one metadata call per table per evaluation


def test_a_release_not_yet_a_partition_keeps_its_cursor_and_is_retried(repo, statbank, capfd):
    server, resource = statbank
    old = _cursor(t12367="2026-06-15T06:00:00Z", t13502="2026-06-15T06:00:00Z")
    # SSB stamps June 2028 at 08:00 Oslo; our clock is a minute behind: the partition opens at 08:00.
    for t in TABLES:
        server.source.add(_catalogue_doc(t, "2028-06-15T06:00:00Z"))
    early = _sense(repo, resource, old, datetime(2028, 6, 15, 7, 59, tzinfo=OSLO))
    assert not early.run_requests and "not to a release partition yet" in early.skip_message
    assert early.cursor == old  # the release is not lost: nothing of it was written to the cursor
    logged = capfd.readouterr().err  # the sensor's log (Dagster's console logger)
    assert (
        "table 13502: updated 2028-06-15T06:00:00Z maps to release 2028-06, which is not a release" in logged
    )

    on_time = _sense(repo, resource, early.cursor, datetime(2028, 6, 15, 8, 1, tzinfo=OSLO))
    (req,) = on_time.run_requests
    assert req.partition_key == "2028-06"
    assert {k.path[-1] for k in req.asset_selection} == {"table_13502", "table_12367"}
    assert json.loads(on_time.cursor) == {"12367": "2028-06-15T06:00:00Z", "13502": "2028-06-15T06:00:00Z"}


def test_a_table_with_no_release_partition_keeps_its_old_cursor_while_the_others_move(
    repo, monkeypatch, capfd
):
    old = _cursor(t12367="2026-06-15T06:00:00Z", t13502="2026-06-15T06:00:00Z")
    # 13502 has a correction in April 2027 (release 2027-03); 12367 shows an `updated` before the first release.
    with _statbank(monkeypatch, t13502="2027-04-02T10:00:00Z", t12367="2016-03-15T06:59:59Z") as (
        _,
        resource,
    ):
        result = _sense(repo, resource, old, datetime(2027, 4, 3, tzinfo=OSLO))
        (req,) = result.run_requests
        assert req.partition_key == "2027-03"
        assert [k.path[-1] for k in req.asset_selection] == ["table_13502"]
        assert json.loads(result.cursor) == {"12367": "2026-06-15T06:00:00Z", "13502": "2027-04-02T10:00:00Z"}
        assert "table 12367: updated 2016-03-15T06:59:59Z maps to release none" in capfd.readouterr().err

        # Next tick: 12367 is asked about again (and still waits); 13502 is not requested again.
        again = _sense(repo, resource, result.cursor, datetime(2027, 4, 3, 0, 30, tzinfo=OSLO))
        assert not again.run_requests and "12367" in again.skip_message
        assert again.cursor == result.cursor
