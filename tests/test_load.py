"""Loading landed releases into raw.cells: vintages, dimensions without loss, idempotence, atomicity."""

import duckdb
import pytest

from pipeline.landing.store import LandingStore, Part
from pipeline.raw.load import LoadError, connect, load_fetch, load_pending
from tests.jsonstat_factory import make_doc

DIMS = {
    "KOKkommuneregion0000": ["3201", "0219", "EAK"],
    "KOKfunksjon0000": ["202", "213"],
    "KOKart0000": ["AGD2"],
    "Ukjent": ["x1"],  # a dimension raw.cells has no column for
    "ContentsCode": ["KOSbelop0000"],
    "Tid": ["2022", "2023"],
}


def _land(store, body, updated, table_id="12367"):
    return store.land(table_id, [Part(body=body, query=None, cells=12)], updated=updated, source="test")


def test_march_release_marks_only_its_newest_year_unrevised(tmp_path):
    store = LandingStore(tmp_path / "landing")
    _land(store, make_doc("12367", DIMS, updated="2024-03-15T07:00:00Z"), "2024-03-15T07:00:00Z")
    _land(store, make_doc("12367", DIMS, default=2.0, updated="2024-06-17T06:00:00Z"), "2024-06-17T06:00:00Z")
    con = connect(tmp_path / "b.duckdb")
    result = load_pending(con, store)
    assert result.fetches_loaded == 2 and result.cells_loaded == 24
    rows = con.execute(
        "select month(release_updated), year, vintage, count(*) from raw.cells group by all order by all"
    ).fetchall()
    assert rows == [
        (3, 2022, "revised", 6),
        (3, 2023, "unrevised", 6),
        (6, 2022, "revised", 6),
        (6, 2023, "revised", 6),
    ]
    # Both vintages of 2023 side by side, with their own values.
    both = con.execute(
        "select vintage, value from raw.cells where year = 2023 and region_code = '3201' and funksjon = '202' order by 1"
    ).fetchall()
    assert both == [("revised", 2.0), ("unrevised", 1.0)]


def test_a_march_release_without_its_new_year_has_no_unrevised_cell(tmp_path):
    """Only older years selected from a March release: all revised (the newest year is not the rule)."""
    store = LandingStore(tmp_path / "landing")
    _land(store, make_doc("12367", DIMS, updated="2025-03-14T07:00:00Z"), "2025-03-14T07:00:00Z")
    con = connect(tmp_path / "b.duckdb")
    load_pending(con, store)
    assert con.execute("select distinct vintage from raw.cells").fetchall() == [("revised",)]


def test_every_dimension_is_kept(tmp_path):
    store = LandingStore(tmp_path / "landing")
    _land(store, make_doc("12367", DIMS), "2024-06-17T06:00:00Z")
    con = connect(tmp_path / "b.duckdb")
    load_pending(con, store)
    row = con.execute(
        "select table_id, contents_code, region_code, period, year, funksjon, art, other_dimensions['Ukjent'] "
        "from raw.cells where region_code = '0219' and funksjon = '213' and year = 2022"
    ).fetchone()
    assert row == ("12367", "KOSbelop0000", "0219", "2022", 2022, "213", "AGD2", "x1")
    labels = con.execute(
        "select label from raw.dimension_labels where dimension_id = 'KOKfunksjon0000' and code = '202'"
    ).fetchall()
    assert labels == [("202 label",)]


def test_status_cells_are_null_not_zero(tmp_path):
    store = LandingStore(tmp_path / "landing")
    status = {
        ("0219", "202", "AGD2", "x1", "KOSbelop0000", "2023"): ".",
        ("EAK", "213", "AGD2", "x1", "KOSbelop0000", "2022"): ":",
    }
    _land(store, make_doc("12367", DIMS, status=status), "2024-06-17T06:00:00Z")
    con = connect(tmp_path / "b.duckdb")
    load_pending(con, store)
    assert con.execute(
        "select status, value from raw.cells where status is not null order by 1"
    ).fetchall() == [
        (".", None),
        (":", None),
    ]


def test_reloading_is_idempotent(tmp_path):
    store = LandingStore(tmp_path / "landing")
    _land(store, make_doc("12367", DIMS), "2024-06-17T06:00:00Z")
    con = connect(tmp_path / "b.duckdb")
    load_pending(con, store)
    _land(store, make_doc("12367", DIMS), "2024-06-17T06:00:00Z")  # same bytes again
    second = load_pending(con, store)
    assert second.fetches_loaded == 0
    assert con.execute("select count(*) from raw.cells").fetchone()[0] == 12
    assert con.execute("select count(*) from raw.releases").fetchone()[0] == 1


def test_a_load_connection_is_capped_below_duckdb_s_default_and_loads_beyond_its_cap(tmp_path):
    """DuckDB's default is 80 % of RAM, which a load's buffer pool then fills with the blocks it wrote; a load
    connection has a cap of its own, and more cells than fit in it still load (DuckDB evicts written blocks)."""
    con = connect(tmp_path / "b.duckdb")
    limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
    default = duckdb.connect().execute("select current_setting('memory_limit')").fetchone()[0]
    assert limit != default and limit.endswith("MiB") and float(limit.split()[0]) < 1024, (limit, default)
    con.execute("set memory_limit = '32MB'")  # a cap much smaller than what is loaded (about 70 MB of cells)
    store = LandingStore(tmp_path / "landing")
    dims = {
        "KOKkommuneregion0000": [f"{i:04d}" for i in range(1, 401)],
        "KOKfunksjon0000": [f"{i:03d}" for i in range(100, 350)],
        "ContentsCode": ["KOSbelop0000"],
        "Tid": [str(y) for y in range(2015, 2025)],
    }
    _land(store, make_doc("12367", dims), "2024-06-17T06:00:00Z")
    assert load_pending(con, store).cells_loaded == 400 * 250 * 10
    assert con.execute("select count(*), count(distinct region_code) from raw.cells").fetchone() == (
        1_000_000,
        400,
    )


def test_a_fetch_that_cannot_be_decoded_loads_nothing(tmp_path):
    store = LandingStore(tmp_path / "landing")
    good = make_doc("12367", DIMS)
    rec = store.land(
        "12367",
        [Part(body=good, query=None, cells=12), Part(body=b'{"class": "collection"}', query=None, cells=0)],
        updated="2024-06-17T06:00:00Z",
        source="test",
    )
    con = connect(tmp_path / "b.duckdb")
    with pytest.raises(LoadError, match="table 12367: landing object"):
        load_fetch(con, store, rec)
    # The build goes on: the undecodable part is quarantined (tests/test_quarantine.py) and its fetch skipped.
    assert [q.sha256 for q in load_pending(con, store).quarantined] == [rec.objects[1]]
    assert con.execute("select count(*) from raw.cells").fetchone()[0] == 0


def test_an_interrupted_load_keeps_whole_fetches_and_the_next_load_adds_the_rest(tmp_path, monkeypatch):
    """Loads commit between fetches every COMMIT_CELLS cells: a stop after some commits keeps those fetches
    whole, leaves no part of a later one, and the next load brings every landed cell in exactly once."""
    import pipeline.raw.load as load

    store = LandingStore(tmp_path / "landing")
    releases = [f"{y}-06-1{i}T06:00:00Z" for i, y in enumerate(range(2019, 2025))]
    for i, updated in enumerate(releases):
        _land(store, make_doc("12367", DIMS, default=float(i), updated=updated), updated)
    monkeypatch.setattr(load, "COMMIT_CELLS", 24)  # a commit after every second fetch (12 cells each)
    real, calls = load.load_fetch, []

    def stopped_at_the_fifth(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(load, "load_fetch", stopped_at_the_fifth)
    con = connect(tmp_path / "b.duckdb")
    with pytest.raises(KeyboardInterrupt):
        load_pending(con, store)
    # Fetches 1–4 were committed in two transactions; nothing of the fifth is there.
    kept = con.execute("select release_updated, count(*) from raw.cells group by 1 order by 1").fetchall()
    assert [n for _, n in kept] == [12, 12, 12, 12]
    assert con.execute("select count(*) from raw.releases").fetchone()[0] == 4
    monkeypatch.setattr(load, "load_fetch", real)
    again = load_pending(con, store)
    assert again.fetches_loaded == 2 and again.cells_loaded == 24
    counts = con.execute(
        "select count(*), count(distinct (release_updated, region_code, funksjon, period)) from raw.cells"
    ).fetchone()
    assert counts == (72, 72)
