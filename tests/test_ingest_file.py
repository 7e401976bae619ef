"""`kostra ingest-file` on SSB's real recorded responses: landing, release, vintage, counts, idempotence."""

import json
from collections import Counter

import duckdb
import pytest

from pipeline.cli import main
from pipeline.config import Home
from pipeline.landing.store import LandingStore
from tests.jsonstat_factory import make_doc

RECORDED = {
    # file under ssb-snapshots → table id SSB put in it
    "KSAnalyse__ks-json-stat.java/resultatTest.json": "12367",
    "KSAnalyse__ks-json-stat.java/resultatTest3.json": "12191",
    "KSAnalyse__ks-json-stat.java/resultatTest2.json": "08655",
    "NFG-J__is114-tema05/derived_13502_KOSandel120000.jsonstat2.json": "13502",
}


def _build_rows(home: Home, sql: str, params=()):
    con = duckdb.connect(str(home.build_db), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


@pytest.mark.realdata
def test_recorded_responses_land_and_load_with_their_exact_counts(home, snapshots):
    paths = [snapshots / rel for rel in RECORDED]
    assert main(["ingest-file", *map(str, paths)]) == 0
    for rel, table_id in RECORDED.items():
        doc = json.loads((snapshots / rel).read_bytes())
        statuses = Counter((doc.get("status") or {}).values())
        n_values = sum(v is not None for v in doc["value"])
        got = _build_rows(
            home,
            "select count(*), count(value), count(*) filter (where status = '.'), "
            "count(*) filter (where status = '..'), count(*) filter (where status = ':') "
            "from raw.cells where table_id = ?",
            [table_id],
        )[0]
        assert got == (len(doc["value"]), n_values, statuses["."], statuses[".."], statuses[":"]), rel
        # The release key is the table plus SSB's own `updated`, and June releases are all revised.
        rel_rows = _build_rows(
            home,
            "select distinct vintage, strftime(release_updated, '%Y-%m-%dT%H:%M:%SZ') from raw.cells where table_id = ?",
            [table_id],
        )
        assert rel_rows == [("revised", doc["updated"])], rel


@pytest.mark.realdata
def test_bærum_is_kept_under_each_published_code(home, snapshots):
    path = snapshots / "NFG-J__is114-tema05/derived_13502_KOSandel120000.jsonstat2.json"
    main(["ingest-file", str(path)])
    rows = _build_rows(
        home,
        "select region_code, count(value), min(year) filter (where value is not null), "
        "max(year) filter (where value is not null) from raw.cells where region_code in ('0219', '3024') group by 1 order by 1",
    )
    assert rows == [("0219", 5, 2015, 2019), ("3024", 4, 2020, 2023)]


@pytest.mark.realdata
def test_reingesting_the_same_file_changes_nothing(home, snapshots):
    path = snapshots / "KSAnalyse__ks-json-stat.java/resultatTest.json"
    main(["ingest-file", str(path)])
    before = sorted(p.stat().st_mtime_ns for p in home.landing.rglob("*") if p.is_file())
    main(["ingest-file", str(path)])
    after = sorted(p.stat().st_mtime_ns for p in home.landing.rglob("*") if p.is_file())
    assert before == after
    assert _build_rows(home, "select count(*) from raw.cells")[0][0] == 1250


def test_a_march_file_gives_unrevised_newest_year(home, tmp_path):
    f = tmp_path / "march.json"
    f.write_bytes(
        make_doc(
            "13502",
            {"KOKkommuneregion0000": ["3201"], "ContentsCode": ["KOSandel120000"], "Tid": ["2023", "2024"]},
            updated="2025-03-14T07:00:00Z",
        )
    )
    assert main(["ingest-file", str(f)]) == 0
    assert _build_rows(home, "select year, vintage from raw.cells order by 1") == [
        (2023, "revised"),
        (2024, "unrevised"),
    ]


def test_a_bad_file_names_itself_and_lands_nothing(home, tmp_path, capsys):
    good = tmp_path / "good.json"
    good.write_bytes(
        make_doc("13502", {"KOKkommuneregion0000": ["3201"], "ContentsCode": ["K"], "Tid": ["2024"]})
    )
    bad = tmp_path / "bad.json"
    bad.write_text('{"class": "collection", "version": "2.0", "link": {}}')
    assert main(["ingest-file", str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.json" in err
    assert list(LandingStore(home.landing).fetches()) == []


def test_a_file_without_updated_is_refused(home, tmp_path, capsys):
    doc = json.loads(
        make_doc("13502", {"KOKkommuneregion0000": ["3201"], "ContentsCode": ["K"], "Tid": ["2024"]})
    )
    del doc["updated"]
    f = tmp_path / "no-updated.json"
    f.write_text(json.dumps(doc))
    assert main(["ingest-file", str(f)]) == 1
    err = capsys.readouterr().err
    assert "no-updated.json" in err and "no 'updated' timestamp" in err


def test_a_bad_duckdb_memory_limit_is_one_line_and_lands_nothing(home, tmp_path, monkeypatch, capsys):
    """The load keeps to KOSTRA_DUCKDB_MEMORY_LIMIT: a value DuckDB refuses is named before anything is landed,
    and what was landed and loaded before stays."""
    dims = {"KOKkommuneregion0000": ["0301", "4601"], "ContentsCode": ["KOSandel120000"], "Tid": ["2024"]}
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_bytes(make_doc("13502", dims, updated="2025-03-17T07:00:00Z"))
    second.write_bytes(make_doc("13502", dims, updated="2025-06-16T06:00:00Z"))
    assert main(["ingest-file", str(first)]) == 0
    capsys.readouterr()

    monkeypatch.setenv("KOSTRA_DUCKDB_MEMORY_LIMIT", "lots")
    assert main(["ingest-file", str(second)]) == 1
    err = capsys.readouterr().err
    assert "KOSTRA_DUCKDB_MEMORY_LIMIT='lots' is not a DuckDB memory limit" in err and "Traceback" not in err
    assert [r.updated for r in LandingStore(home.landing).fetches(["13502"])] == ["2025-03-17T07:00:00Z"]
    assert _build_rows(home, "select count(*) from raw.cells") == [(2,)]
