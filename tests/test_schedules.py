"""Publication days, the schedule that fires on them, and the sensor that notices new releases."""

from datetime import datetime

import dagster as dg
import pytest

from orchestration.resources import StatbankResource
from orchestration.schedules import (
    changed_tables,
    new_release_sensor,
    publication_day_schedule,
    publication_partition,
)
from pipeline.calendar import OSLO, publication_date
from tests.pxweb_fixtures import recorded_server, synthetic_doc


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


def test_the_schedule_runs_the_release_partition_on_publication_day_and_skips_otherwise():
    from orchestration.definitions import defs

    repo = defs.get_repository_def()
    ctx = dg.build_schedule_context(
        scheduled_execution_time=datetime(2024, 6, 17, 9, tzinfo=OSLO), repository_def=repo
    )
    (req,) = list(publication_day_schedule.evaluate_tick(ctx).run_requests)
    assert req.partition_key == "2024-06"
    ctx = dg.build_schedule_context(
        scheduled_execution_time=datetime(2024, 6, 15, 9, tzinfo=OSLO), repository_def=repo
    )
    result = publication_day_schedule.evaluate_tick(ctx)
    assert not result.run_requests and "not a KOSTRA publication day" in result.skip_message


def test_changed_tables():
    assert changed_tables({"a": "1", "b": "1"}, {"a": "1", "b": "2", "c": "1"}) == {"b": "2", "c": "1"}


def _catalogue_doc(table_id: str, updated: str) -> dict:
    return synthetic_doc(table_id, updated=updated, years=range(2021, 2024))


def test_the_sensor_starts_runs_only_for_tables_whose_updated_changed(monkeypatch):
    # Two catalogue tables on the local statbank; the sensor is pointed at it.
    tables = {"13502": "2024-03-15T07:00:00Z", "12367": "2024-03-15T07:00:00Z"}
    monkeypatch.setattr("pipeline.ingest.catalogue_filters", lambda: {t: {} for t in tables})
    with recorded_server(
        *(_catalogue_doc(t, u) for t, u in tables.items()), max_calls=1000, window_seconds=1
    ) as server:
        v0, v2 = server.roots()
        statbank = StatbankResource(v0_root=v0, v2_root=v2)

        ctx = dg.build_sensor_context(cursor=None, resources={"statbank": statbank})
        first = new_release_sensor(ctx)
        assert [r.partition_key for r in first] == ["2024-03"]
        assert {k.path[-1] for k in first[0].asset_selection} == {"table_13502", "table_12367"}

        ctx = dg.build_sensor_context(cursor=ctx.cursor, resources={"statbank": statbank})
        assert isinstance(new_release_sensor(ctx), dg.SkipReason)

        # June: only 13502 has a new release.
        server.source.add(_catalogue_doc("13502", "2024-06-17T06:00:00Z"))
        ctx = dg.build_sensor_context(cursor=ctx.cursor, resources={"statbank": statbank})
        (june,) = new_release_sensor(ctx)
        assert june.partition_key == "2024-06"
        assert [k.path[-1] for k in june.asset_selection] == ["table_13502"]
        calls = [r for r in server.requests if "/metadata" in r.path]
        assert len(calls) <= 3 * len(tables)  # one metadata call per table per evaluation
