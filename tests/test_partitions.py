"""A new June release materializes only its own partition, lands only its own fetches, and loads only them."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration import run as runner
from orchestration.resources import StatbankResource
from pipeline.config import Home
from pipeline.errors import TablesFailed
from pipeline.landing.ingest import catalogue_filters
from pipeline.landing.store import LandingStore
from pipeline.raw.load import connect, load_pending
from pipeline.reference import seeds
from tests.jsonstat_factory import make_doc
from tests.pxweb_fixtures import recorded_server

pytestmark = pytest.mark.slow


def _doc(updated: str, value: float) -> bytes:
    # Table 13502 as the catalogue asks for it: every municipality of 2021–2023, its contents codes.
    regions = sorted(set(seeds.all_codes(2021, 2023)))
    dims = {
        "KOKkommuneregion0000": regions,
        "ContentsCode": catalogue_filters()["13502"]["ContentsCode"],
        "Tid": ["2021", "2022", "2023"],
    }
    return make_doc("13502", dims, updated=updated, default=value)


def test_a_new_june_release_touches_only_its_partition(tmp_path):
    home = Home(tmp_path / "home").ensure()
    docs = [_doc("2024-03-15T07:00:00Z", 1.0), _doc("2024-06-17T06:00:00Z", 2.0)]
    # The statbank as it was on each publication day is served under /asof/<date>/.
    with recorded_server(*docs, max_calls=1000, window_seconds=1) as server:
        # A release key as of-date means the end of that month: the statbank then held that release.
        statbank = StatbankResource(asof_root=server.url)
        march = runner.ingest(home, statbank, ["2024-03"], table_ids=["13502"])
        store = LandingStore(home.landing)
        con = connect(home.build_db)
        first = load_pending(con, store)

        june = runner.ingest(home, statbank, ["2024-06"], table_ids=["13502"])
        second = load_pending(con, store)
        con.close()

    def partitions(result: dg.ExecuteInJobResult) -> set[str]:
        return {m.partition for m in result.get_asset_materialization_events() for m in [m.materialization]}

    assert partitions(march) == {"2024-03"}
    assert partitions(june) == {"2024-06"}  # nothing of March is materialized again
    assert first.fetches_loaded == 1 and second.fetches_loaded == 1
    # The June load holds only the June release: the first fetch took every year, the second only the newest.
    assert first.cells_loaded == 3 * second.cells_loaded
    assert [r.updated for r in store.fetches()] == ["2024-03-15T07:00:00Z", "2024-06-17T06:00:00Z"]


def test_an_incomplete_release_fails_its_own_run_only(tmp_path):
    """A March release without Oslo fails the run that lands it, naming the release and how to leave it out;
    the June run after it checks June and passes, and the March release stays landed."""
    home = Home(tmp_path / "home").ensure()
    without_oslo = make_doc(
        "13502",
        {
            "KOKkommuneregion0000": [c for c in sorted(set(seeds.all_codes(2021, 2023))) if c != "0301"],
            "ContentsCode": catalogue_filters()["13502"]["ContentsCode"],
            "Tid": ["2021", "2022", "2023"],
        },
        updated="2024-03-15T07:00:00Z",
        default=1.0,
    )
    with recorded_server(
        without_oslo, _doc("2024-06-17T06:00:00Z", 2.0), max_calls=1000, window_seconds=1
    ) as srv:
        statbank = StatbankResource(asof_root=srv.url)
        with pytest.raises(TablesFailed) as failed:
            runner.ingest(home, statbank, ["2024-03"], table_ids=["13502"])
        (line,) = failed.value.failures
        assert line.startswith(
            "table 13502: completeness check failed: table 13502, release 2024-03-15T07:00:00Z"
        )
        assert "0301" in line and "missing for 2021" in line and "(and 2 more problems)" in line
        assert line.endswith('kostra landing quarantine 13502@2024-03-15T07:00:00Z --reason "..."')

        june = runner.ingest(home, statbank, ["2024-06"], table_ids=["13502"])
    (check,) = june.get_asset_check_evaluations()
    assert check.passed and check.metadata["summary"].value == "complete"
    assert [r.updated for r in LandingStore(home.landing).fetches()] == [
        "2024-03-15T07:00:00Z",
        "2024-06-17T06:00:00Z",
    ]
