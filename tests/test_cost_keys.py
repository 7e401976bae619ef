"""The real cost-key seed (pipeline.reference.cost_keys): built from a recorded sector-index file, checked
against tabell A-k's totals, and the committed seed as the docs describe it."""

from __future__ import annotations

import csv
import json

import pytest

from pipeline.reference import cost_keys

SECTORS = {
    "grunnskole": 1.1,
    "barnehage": 1.0,
    "barnevern": 0.9,
    "pleie": 0.8,
    "kommunehelse": 1.0,
    "sosial": 1.2,
}


def _dki(year: int, total: float = 0.95) -> dict:
    return {
        "år": year,
        "kommuner": {"3201": {"navn": "Bærum", **SECTORS, "administrasjon": 0.9, "samlet": total}},
    }


def test_rows_per_index_sector_with_source_and_basis():
    skipped: list[str] = []
    rows = cost_keys.build_rows(
        _dki(2026), skipped, gronthefte_year=2026, data_year=2026, source="src", totals={"3201": 0.9503}
    )
    assert [(r["sector"], r["cost_index"]) for r in rows] == [
        ("barnehage", "1.0000"),
        ("barnevern", "0.9000"),
        ("grunnskole", "1.1000"),
        ("kommunehelse", "1.0000"),
        ("pleie_omsorg", "0.8000"),
        ("sosiale_tjenester", "1.2000"),
    ]
    assert {(r["key_basis"], r["data_year"], r["source"]) for r in rows} == {("per_inhabitant", 2026, "src")}
    assert skipped == []


def test_a_total_off_tabell_a_k_stops_the_build_and_an_unchecked_one_is_left_out():
    with pytest.raises(cost_keys.CostKeyError, match="differs from tabell A-k"):
        cost_keys.build_rows(
            _dki(2025, 0.912), [], gronthefte_year=2025, data_year=2025, source="s", totals={"3201": 0.9287}
        )
    skipped: list[str] = []
    with pytest.raises(cost_keys.CostKeyError, match="lists no municipality"):
        cost_keys.build_rows(_dki(2026), skipped, gronthefte_year=2026, data_year=2026, source="s", totals={})
    assert skipped == ["3201"]


def test_cli_error_is_one_line(tmp_path, capsys):
    path = tmp_path / "dki.json"
    path.write_text(json.dumps(_dki(2025)), encoding="utf-8")
    code = cost_keys.main(
        [
            "--dki",
            str(path),
            "--gronthefte-year",
            "2026",
            "--data-year",
            "2026",
            "--commit",
            "x",
            "--out",
            str(tmp_path / "out.csv"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Grønt hefte 2025, not 2026" in err


def test_committed_seed_is_gronthefte_2026_for_data_year_2026_only():
    with cost_keys.SEED.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["gronthefte_year"], r["data_year"]) for r in rows} == {("2026", "2026")}
    assert len({r["municipality_id"] for r in rows}) == 350
    assert all("vegard1104/kommunebarometer" in r["source"] and "@ 2da857a5" in r["source"] for r in rows)
    baerum = {r["sector"]: float(r["cost_index"]) for r in rows if r["municipality_id"] == "3201"}
    assert baerum["grunnskole"] == 1.0876 and baerum["pleie_omsorg"] == 0.9674
