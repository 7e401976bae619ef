"""A new June release materializes only its own partition, lands only its own fetches, and loads only them."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration import run as runner
from orchestration.resources import StatbankResource
from pipeline.config import Home
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
