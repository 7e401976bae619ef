"""Every real SSB response in ../shared lands with the right vintage for each cell, and every cell whose table
and code the catalogue knows reaches its indicator in marts.indicator_values (issue 9)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pipeline.cli import main
from pipeline.landing.store import LandingStore
from pipeline.raw.load import connect, load_pending
from pipeline.reference import catalogue, seeds
from tests.demo_build import REALDATA_KOSTRA, REALDATA_RESPONSES

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

# Every JSON-stat2 dataset among the recorded responses (SOURCES.md) and the release each one is; the KOSTRA
# ones are what the shared real-data home (tests/demo_build.py) lands and builds.
RESPONSES = REALDATA_RESPONSES
KOSTRA = REALDATA_KOSTRA


@pytest.fixture(scope="module")
def landed(tmp_path_factory, snapshots):
    """Every recorded response landed with `kostra ingest-file` and loaded into raw.cells."""
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("reallanded") / "home"
    mp.setenv("KOSTRA_HOME", str(root))
    assert main(["ingest-file", *(str(snapshots / f) for f in RESPONSES)]) == 0
    con = connect(tmp_path_factory.mktemp("realraw") / "landed.duckdb")
    load_pending(con, LandingStore(root / "landing"))
    yield con
    con.close()
    mp.undo()


@pytest.fixture(scope="module")
def built(realdata_built_home):
    """The KOSTRA responses through `kostra ingest-file` and `kostra build`: the published warehouse."""
    con = duckdb.connect(str(realdata_built_home / "build" / "kostra_build.duckdb"), read_only=True)
    published = duckdb.connect(str(realdata_built_home / "kostra.duckdb"), read_only=True)
    yield con, published
    con.close()
    published.close()


def _doc(snapshots: Path, rel: str) -> dict:
    return json.loads((snapshots / rel).read_bytes())


def test_every_response_is_landed_as_its_own_release(landed, snapshots):
    con = landed
    for rel, (table_id, updated) in RESPONSES.items():
        doc = _doc(snapshots, rel)
        got = con.execute(
            "select count(*), min(strftime(release_updated, '%Y-%m-%dT%H:%M:%SZ')) from raw.cells where table_id = ?",
            [table_id],
        ).fetchone()
        assert got[0] == len(doc["value"]), rel
        if updated:
            assert got[1] == updated, rel


def test_no_cell_is_unrevised_unless_it_is_the_year_its_march_release_adds(landed):
    """12209 and 12134 are March 2026 releases: only 2025 could be unrevised, and neither holds 2025."""
    con = landed
    rows = con.execute(
        "select table_id, year, vintage, count(*) from raw.cells group by all order by all"
    ).fetchall()
    assert rows, "nothing loaded"
    assert {r[2] for r in rows} == {"revised"}, [r for r in rows if r[2] != "revised"]
    years_12209 = {r[1] for r in rows if r[0] == "12209"}
    assert years_12209 == {2019, 2023}


def _known_cells(con) -> list[tuple[str, str, int, str]]:
    """(indicator_id, region_code, year, table_id) of every cell with a value that a catalogue row selects."""
    out = []
    for row in catalogue.fetched_rows().to_dict("records"):
        filters = catalogue.cell_filters(row)
        dim_cols = {
            "KOKfunksjon0000": "funksjon",
            "KOKbvfunksjon0000": "funksjon",
            "KOKart0000": "art",
            "KOKregnskapsomfa0000": "regnskapsomfang",
            "KOKalder0000": "alder",
            "Alder": "alder",
        }
        where = ["table_id = ?", "contents_code = ?", "value is not null"]
        params: list = [row["table_id"], row["contents_code"]]
        for dim, codes in filters.items():
            where.append(f"{dim_cols[dim]} in ({', '.join('?' for _ in codes)})")
            params += codes
        if not pd_isna(row["first_year"]):
            where.append("year >= ?")
            params.append(int(row["first_year"]))
        if not pd_isna(row["last_year"]):
            where.append("year <= ?")
            params.append(int(row["last_year"]))
        for region, year in con.execute(
            f"select distinct region_code, year from raw.cells where {' and '.join(where)}", params
        ).fetchall():
            out.append((row["indicator_id"], region, year, row["table_id"]))
    return out


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_every_known_cell_reaches_its_indicator(built):
    con, published = built
    known = _known_cells(con)
    # The recorded responses carry catalogue codes of 12209, 12191 and 13502 (12367's sample has other
    # functions; 12134's KOSAG110000 is a catalogue row too).
    assert {t for _, _, _, t in known} >= {"12209", "12191", "13502", "12134"}
    munis = seeds.municipalities()
    aggregates = set(seeds.aggregate_regions()["region_code"])
    rows = published.execute(
        "select indicator_id, municipality_id, year, value, region_code_count, harmonisation_note "
        "from marts.indicator_values"
    ).fetchall()
    got = {(i, m, y): (v, n, note) for i, m, y, v, n, note in rows}
    missing, checked = [], 0
    for iid, region, year, table_id in known:
        if region in aggregates:
            mid = region
        else:
            match = munis[
                (munis["municipality_code"] == region)
                & (munis["valid_from_year"] <= year)
                & (munis["valid_to_year"].fillna(9999) >= year)
            ]
            if match.empty:
                continue  # a county, a district or a code the reference does not list as valid that year
            mid = match["municipality_id"].iloc[0]
        checked += 1
        value, codes, note = got.get((iid, mid, year), (None, 0, None))
        # A value of its own, or (merged codes) a note saying why the codes could not be combined.
        if codes == 0 or (value is None and not (codes > 1 and note)):
            missing.append((iid, table_id, region, year))
    assert checked > 300
    assert missing == []


def test_the_real_12209_code_is_the_home_service_coverage_indicator(built):
    _, published = built
    rows = published.execute(
        "select year, value, vintage, table_id, contents_code from marts.indicator_values "
        "where indicator_id = 'po_dekning_hjemmetj_80' and municipality_id = '3201' order by year"
    ).fetchall()
    assert [(r[0], r[2], r[3], r[4]) for r in rows] == [
        (2019, "revised", "12209", "KOShjtj80aarover0001"),
        (2023, "revised", "12209", "KOShjtj80aarover0001"),
    ]
    assert all(r[1] is not None for r in rows)
