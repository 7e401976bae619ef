"""KLASS on real data: the client and the reference build against recorded KLASS 131 answers.

The recorded answers (see ``../shared/data/ssb-snapshots/SOURCES.md``):

- ``vegard1104__kommunebarometer/derived_klass_131_codesAt_2026-01-01.json``: SSB's answer to
  ``GET /api/klass/v1/classifications/131/codesAt?date=2026-01-01&language=nb`` on 2026-04-25;
- ``gardenberg__barnevernmonitor``: KLASS 131 code lists of January 2018, 2019 and 2020 (CSV exports) and
  the KLASS-derived change tables 2013→2017 … 2019→2020;
- ``lauriejh__regtools``: SSB's 2024 grouping, the only record of the 2024 changes.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from pipeline.reference import seeds as ref
from pipeline.reference.klass import KlassClient
from pipeline.reference.klass import build_reference as br

CODES_AT_2026 = "vegard1104__kommunebarometer/derived_klass_131_codesAt_2026-01-01.json"
CODES_AT_PATH = "/classifications/131/codesAt?date=2026-01-01&language=nb"


# --------------------------------------------------------------------------- name variants (no data needed)


@pytest.mark.parametrize(
    ("seed", "klass", "kind"),
    [
        ("Bærum", "Bærum", br.NAME_EXACT),
        ("Våler (Østfold)", "Våler", br.NAME_QUALIFIER),
        ("Sande", "Sande (Møre og Romsdal)", br.NAME_QUALIFIER),
        ("Hamarøy - Hábmer", "Hábmer - Hamarøy", br.NAME_ORDER),
        ("Deatnu-Tana", "Deatnu - Tana", br.NAME_ORDER),
        ("Evenes - Evenássi", "Evenes - Evenášši", br.NAME_SPELLING),
        ("Porsanger - Porsáŋgu - Porsanki", "Porsanger - Porsá?gu - Porsanki", br.NAME_SPELLING),
        ("Trondheim - Tråante", "Trondheim", br.NAME_PARALLEL),
        ("Oslo", "Oslo - Oslove", br.NAME_PARALLEL),
        ("Bærum", "Asker", None),
        ("Nes (Akershus)", "Nesodden", None),
        ("Aurskog-Høland", "Aurskog", br.NAME_PARALLEL),  # the rule is lenient on hyphenated names
    ],
)
def test_classify_name(seed, klass, kind):
    assert br.classify_name(seed, klass) == kind


# --------------------------------------------------------------------------- the client on the real answer


def _serve(body: bytes, path: str):
    """A local HTTP server answering ``path`` (path and query, exactly) with ``body``, anything else 404."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append(self.path)
            ok = self.path == path
            payload = body if ok else b'{"error": "not recorded"}'
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    return server, seen


@pytest.fixture()
def recorded_klass(snapshots):
    """The recorded codesAt 2026-01-01 body, served byte for byte from 127.0.0.1."""
    body = (snapshots / CODES_AT_2026).read_bytes()
    server, seen = _serve(body, CODES_AT_PATH)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", json.loads(body), seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.realdata
def test_client_parses_the_recorded_codes_at_answer(recorded_klass):
    root, raw, seen = recorded_klass
    codes = KlassClient(root, backoff_factor=0, timeout=5).codes_at(dt.date(2026, 1, 1))
    assert seen == [CODES_AT_PATH]  # the client's own request, as SSB was asked on 2026-04-25

    # Every entry of the file, in order, with its fields as SSB wrote them.
    assert len(codes) == len(raw["codes"]) == 358
    for got, want in zip(codes, raw["codes"], strict=True):
        assert (got.code, got.name, got.notes) == (want["code"], want["name"], want["notes"])
    by_code = {c.code: c for c in codes}
    assert len(by_code) == 358

    # 357 municipalities and 9999 "Uoppgitt"; a codesAt answer is flat and carries no validity dates.
    assert by_code["9999"].name == "Uoppgitt"
    assert all(len(c.code) == 4 and c.code.isdigit() for c in codes)
    assert {(c.level, c.parent_code, c.valid_from, c.valid_to) for c in codes} == {("1", None, None, None)}

    # Names as SSB writes them in KLASS (UTF-8 intact, Sami and Kven parallel names included).
    assert by_code["3201"].name == "Bærum"
    assert by_code["5001"].name == "Trondheim - Tråante"
    assert by_code["0301"].name == "Oslo - Oslove"
    assert by_code["4601"].name == "Bergen"
    assert by_code["5610"].name == "Kárášjohka - Karasjok"
    assert by_code["5536"].name == "Lyngen - Ivgu - Yykeä"
    assert by_code["1818"].name == "Herøy (Nordland)"

    # Notes: SSB's free-text history, present on some codes only.
    with_notes = {c.code for c in codes if c.notes}
    assert with_notes == {c["code"] for c in raw["codes"] if c["notes"]}
    assert "Osloven tjïelte på sørsamisk" in by_code["0301"].notes
    assert by_code["1124"].notes.startswith("Fra 1. januar 2017 ble det foretatt en kommunegrenseendring")
    assert by_code["3201"].notes == ""


@pytest.mark.realdata
def test_client_reports_a_date_that_was_not_recorded(recorded_klass):
    root, _raw, seen = recorded_klass
    with pytest.raises(br.KlassError, match=r"404 .*date=2025-01-01"):
        KlassClient(root, backoff_factor=0, timeout=5).codes_at("2025-01-01")
    assert seen == ["/classifications/131/codesAt?date=2025-01-01&language=nb"]


@pytest.mark.realdata
def test_recorded_2026_codes_are_the_seeds_current_codes(recorded_klass):
    root, _raw, _seen = recorded_klass
    codes = {c.code for c in KlassClient(root, backoff_factor=0, timeout=5).codes_at("2026-01-01")}
    assert codes - {"9999"} == set(ref.codes_valid_in(br.LAST_YEAR))
    m = ref.municipalities()
    assert codes - {"9999"} == set(m.loc[m["valid_to_year"].isna(), "municipality_code"])


# --------------------------------------------------------------------------- the reference build


@pytest.fixture(scope="module")
def recorded_history(snapshots):
    return br.load_snapshots(snapshots)


def _committed() -> list[dict[str, str]]:
    with (br.REFERENCE_DIR / "municipalities.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.realdata
def test_build_reads_every_recorded_klass_list(recorded_history, snapshots):
    lists = recorded_history.klass_lists
    assert sorted(lists) == [
        dt.date(2018, 1, 1),
        dt.date(2019, 1, 1),
        dt.date(2020, 1, 1),
        dt.date(2026, 1, 1),
    ]
    # 9999 included in each; the CSV exports and the live answer go through the same parser
    assert {d.year: len(c) for d, c in lists.items()} == {2018: 423, 2019: 423, 2020: 357, 2026: 358}
    raw = json.loads((snapshots / CODES_AT_2026).read_text(encoding="utf-8"))
    assert {c: k.name for c, k in lists[dt.date(2026, 1, 1)].items()} == {
        c["code"]: c["name"] for c in raw["codes"]
    }
    assert lists[dt.date(2018, 1, 1)]["5001"].name == "Trondheim"  # KLASS's 2018 name, before "- Tråante"
    assert lists[dt.date(2020, 1, 1)]["5437"].name == "Kárá?johka - Karasjok"  # š lost in the Latin-1 export


@pytest.mark.realdata
def test_build_from_recorded_data_reproduces_the_committed_seed(recorded_history):
    built = br.derive_municipalities(recorded_history)
    diffs = br.diff_rows(built, _committed(), "municipality_code")
    assert not diffs, "build from the recorded data differs from municipalities.csv:\n" + "\n".join(diffs)
    assert br.render("municipalities.csv", built) == (br.REFERENCE_DIR / "municipalities.csv").read_text(
        encoding="utf-8"
    )


@pytest.mark.realdata
def test_committed_seed_agrees_with_the_recorded_klass_data(recorded_history):
    cmp = br.compare_with_recorded(_committed(), recorded_history)
    report = cmp.report()
    print(report)  # pytest -s shows coverage and name variants
    assert not cmp.differences, report

    # What the recorded data covers, stated, so that a missing year cannot pass silently.
    assert {y: src for y, src in cmp.coverage.items() if any("codesAt" in s for s in src)}.keys() == {
        2018,
        2019,
        2020,
        2026,
    }
    assert set(cmp.coverage) == {2013, 2017, 2018, 2019, 2020, 2024, 2026}, report
    assert any("change table" in s for s in cmp.coverage[2017]) and not any(
        "codesAt" in s for s in cmp.coverage[2017]
    )
    assert cmp.coverage[2024] == [f"SSB {br.LAST_YEAR} grouping (current codes)"]  # not KLASS: regtools
    # ... and what it does not: the seed's own years without a recorded list, and 2025.
    assert set(cmp.not_covered) == {2015, 2016, 2021, 2022, 2023, 2025}, report
    assert "repeats the 2013 list" in cmp.not_covered[2015]
    assert "repeats the 2020 list" in cmp.not_covered[2023]

    # Seed codes valid per covered year: 2013 (for 2015) 428, 2017 426, 2018/2019 422, 2020 356, 2024 357,
    # and the 357 open rows for 2026; successors across all five recorded transitions.
    assert cmp.codes_checked == 428 + 426 + 2 * (422 + 422) + 356 + 356 + 357 + 357
    assert cmp.names_checked == cmp.codes_checked - 428  # the 2013 names stand before the seed's years
    assert cmp.successors_checked > 0

    # Names differ from KLASS only in the documented ways; some real examples of each.
    variants = {(y, c): kind for y, c, _s, _k, kind in cmp.name_variants}
    assert variants[(2018, "0137")] == br.NAME_QUALIFIER  # Våler (Østfold) / Våler
    assert variants[(2018, "5001")] == br.NAME_PARALLEL  # Trondheim - Tråante / Trondheim
    assert variants[(2020, "1875")] == br.NAME_ORDER  # Hamarøy - Hábmer / Hábmer - Hamarøy
    assert variants[(2020, "5437")] == br.NAME_SPELLING  # Kárášjohka / Kárá?johka
    assert variants[(2026, "0301")] == br.NAME_PARALLEL  # Oslo / Oslo - Oslove
    assert (2026, "3201") not in variants and (2018, "0219") not in variants  # Bærum: exact
    assert len(cmp.name_variants) < cmp.names_checked / 10


@pytest.mark.realdata
def test_comparison_reports_each_wrong_row(recorded_history):
    rows = [dict(r) for r in _committed()]
    by_code = {r["municipality_code"]: r for r in rows}
    by_code["0219"]["valid_to_year"] = "2020"  # Bærum's old code outlives its end
    by_code["5001"]["name"] = "Trondhjem"  # a name KLASS never used
    by_code["1850"]["successor_code"] = "1805"  # Tysfjord's successor not among its parts
    by_code["1613"]["valid_from_year"] = "2015"  # the error this test file found (label says 1924)
    rows.remove(by_code["3203"])  # Asker's 2024 code missing
    cmp = br.compare_with_recorded(rows, recorded_history)
    text = "\n".join(cmp.differences)
    assert "0219 Bærum valid in 2020 but not listed" in text
    assert "change 2019→2020: 0219 → 3024: the seed ends 0219 in 2020" in text
    assert "5001 is 'Trondheim - Tråante', the seed says 'Trondhjem'" in text  # 2026 list
    assert "5001 is 'Trondheim', the seed says 'Trondhjem'" in text  # 2018-2020 lists
    assert "change 2019→2020: 1850 → 1806, 1875: the seed's successor is 1805" in text
    assert "1613 begins 1924, the seed says 2015" in text
    assert "codesAt 2026-01-01: 3203 Asker is listed, not valid in 2024 in the seed" in text
    assert "SSB 2024 grouping: 3203 (valid to None) is not in the seed" in text


def test_seed_start_years_fixed_from_ssb_labels():
    # The committed seed had both floored at 2015 ("start not in sources"), though SSB's 2024 grouping
    # labels them "Snillfjord (1924-2017)" and "Ballangen (1925-2019)": the build skipped "K.Rest" rows.
    m = ref.municipalities().set_index("municipality_code")
    assert (m.loc["1613", "valid_from_year"], m.loc["1854", "valid_from_year"]) == (1924, 1925)
    assert "floored" not in m.loc["1613", "source"] and br.SRC_REGTOOLS in m.loc["1613", "source"]


@pytest.mark.realdata
def test_a_recorded_list_that_disagrees_stops_the_build(snapshots, tmp_path):
    raw = orjson.loads((snapshots / CODES_AT_2026).read_bytes())
    raw["codes"] = [c for c in raw["codes"] if c["code"] != "3201"]
    bad = tmp_path / "codesAt-2026-01-01.json"
    bad.write_bytes(orjson.dumps(raw))
    with pytest.raises(br.ReferenceBuildError, match=r"KLASS list of 2026-01-01 differs .*\['3201'\]"):
        br.load_snapshots(snapshots, {dt.date(2026, 1, 1): bad})
    # a 2021 list with the 2020 codes is accepted (no changes 2021-2023) and then covers 2021
    codes_2020 = tmp_path / "codesAt-2021-01-01.csv"
    src = snapshots / br.RECORDED_KLASS_LISTS[dt.date(2020, 1, 1)]
    codes_2020.write_text(src.read_text(encoding="utf-8-sig"), encoding="utf-8")
    hist = br.load_snapshots(snapshots, {dt.date(2021, 1, 1): codes_2020})
    cmp = br.compare_with_recorded(_committed(), hist)
    assert 2021 in cmp.coverage and 2021 not in cmp.not_covered and not cmp.differences


@pytest.mark.realdata
def test_check_cli_accepts_recorded_lists(snapshots, capsys):
    path = snapshots / CODES_AT_2026
    assert br.main(["--check", "--snapshots", str(snapshots), "--klass-list", f"2026-01-01={path}"]) == 0
    out = capsys.readouterr().out
    assert "2026: KLASS 131 codesAt 2026-01-01" in out and "not covered: 2015" in out
    with pytest.raises(SystemExit):
        br.main(["--check", "--klass-list", "2026-01-01"])
