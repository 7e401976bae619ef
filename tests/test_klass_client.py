"""KLASS client against a local KLASS-shaped HTTP server, and the online path of build_reference."""

from __future__ import annotations

import datetime as dt
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import orjson
import pytest

from pipeline.reference.klass import KlassClient, KlassError
from pipeline.reference.klass import build_reference as br
from pipeline.reference.klass.client import parse_codes

# A small world shaped like KLASS 131: Bærum/Asker (renumbering and merger) and Ålesund/Haram (merger in 2020,
# split in 2024).
OLD = {
    "0219": "Bærum",
    "0220": "Asker",
    "0627": "Røyken",
    "0628": "Hurum",
    "1504": "Ålesund",
    "1534": "Haram",
}
MID = {"3024": "Bærum", "3025": "Asker", "1507": "Ålesund"}
NEW = {"3201": "Bærum", "3203": "Asker", "1508": "Ålesund", "1580": "Haram"}
CHANGES = [
    ("0219", "3024", "2020-01-01"),
    ("0220", "3025", "2020-01-01"),
    ("0627", "3025", "2020-01-01"),
    ("0628", "3025", "2020-01-01"),
    ("1504", "1507", "2020-01-01"),
    ("1534", "1507", "2020-01-01"),
    ("3024", "3201", "2024-01-01"),
    ("3025", "3203", "2024-01-01"),
    ("1507", "1508", "2024-01-01"),
    ("1507", "1580", "2024-01-01"),
]
NAMES = {**OLD, **MID, **NEW}
# KLASS 112 (KOSTRA groups) against 131 on 1 January of each year of the 2020 grouping: group, municipality.
GROUPS_2020 = [("12", "3024"), ("12", "3025"), ("11", "1507"), ("16", "9999")]
GROUPS_2024 = [("12", "3201"), ("12", "3203"), ("11", "1508"), ("01", "1580")]


def groups_on(date: dt.date) -> list[tuple[str, str]]:
    return [] if date.year < 2020 else GROUPS_2020 if date.year < 2024 else GROUPS_2024


def codes_on(date: dt.date) -> dict[str, str]:
    world = OLD if date.year < 2020 else MID if date.year < 2024 else NEW
    return {**world, "9999": "Uoppgitt"}


def code_json(code: str, name: str) -> dict:
    return {
        "code": code,
        "parentCode": None,
        "level": "1",
        "name": name,
        "shortName": "",
        "presentationName": "",
        "validFrom": None,
        "validTo": None,
        "notes": "",
    }


class FakeKlass(BaseHTTPRequestHandler):
    fail_next = 0  # answer 503 this many times first
    requests: list[str] = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        cls = type(self)
        cls.requests.append(self.path)
        if cls.fail_next > 0:
            cls.fail_next -= 1
            self._send(503, b'{"error": "busy"}')
            return
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/classifications/131/codesAt":
            codes = codes_on(dt.date.fromisoformat(q["date"]))
            self._send(200, orjson.dumps({"codes": [code_json(c, n) for c, n in codes.items()]}))
        elif url.path == "/classifications/131/codes":
            frm, to = dt.date.fromisoformat(q["from"]), dt.date.fromisoformat(q["to"])
            codes = {**codes_on(frm), **codes_on(to - dt.timedelta(days=1))}
            self._send(200, orjson.dumps({"codes": [code_json(c, n) for c, n in codes.items()]}))
        elif url.path == "/classifications/131/changes":
            frm, to = q["from"], q["to"]
            rows = [
                {
                    "oldCode": o,
                    "oldName": NAMES[o],
                    "oldShortName": "",
                    "newCode": n,
                    "newName": NAMES[n],
                    "newShortName": "",
                    "changeOccurred": when,
                }
                for o, n, when in CHANGES
                if frm <= when <= to
            ]
            self._send(200, orjson.dumps({"codeChanges": rows}))
        elif url.path == "/classifications/112/correspondsAt" and q.get("targetClassificationId") == "131":
            items = [
                {
                    "sourceCode": group,
                    "sourceName": f"KOSTRA-gruppe {int(group)}",
                    "targetCode": code,
                    "targetName": NAMES.get(code, "Uoppgitt"),
                }
                for group, code in groups_on(dt.date.fromisoformat(q["date"]))
            ]
            self._send(200, orjson.dumps({"correspondenceItems": items}))
        elif url.path == "/classifications/131/broken":
            self._send(200, b"<html>not json", "text/html")
        else:
            self._send(404, b'{"error": "not found"}')


@pytest.fixture()
def klass_root():
    FakeKlass.fail_next = 0
    FakeKlass.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKlass)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def client(root: str, **kw) -> KlassClient:
    return KlassClient(root, backoff_factor=0, timeout=5, **kw)


def test_codes_at_returns_the_codes_valid_on_the_date(klass_root):
    codes = client(klass_root).codes_at("2019-01-01")
    assert {c.code: c.name for c in codes if c.code != "9999"} == OLD
    assert all(c.level == "1" and c.parent_code is None for c in codes)
    assert "date=2019-01-01" in FakeKlass.requests[-1] and "language=nb" in FakeKlass.requests[-1]


def test_parse_codes_keeps_notes_and_rejects_other_bodies():
    body = {
        "codes": [{**code_json("0301", "Oslo - Oslove"), "notes": " I 1980 ble del av 0231 Skedsmo ... "}]
    }
    (code,) = parse_codes(body)
    assert (code.code, code.name, code.notes) == (
        "0301",
        "Oslo - Oslove",
        "I 1980 ble del av 0231 Skedsmo ...",
    )
    assert parse_codes({"codes": [code_json("3201", "Bærum")]})[0].notes == ""
    with pytest.raises(KlassError, match="no 'codes' list"):
        parse_codes({"codeChanges": []})
    with pytest.raises(KlassError, match="no 'codes' list"):
        parse_codes([])
    with pytest.raises(KlassError, match="malformed code"):
        parse_codes({"codes": [{"name": "no code"}]})


def test_codes_in_a_range_cover_both_ends(klass_root):
    codes = client(klass_root).codes(dt.date(2023, 1, 1), dt.date(2024, 6, 1))
    assert {"3024", "3201", "1507", "1580"} <= {c.code for c in codes}


def test_changes_parse_dates_and_filter_by_range(klass_root):
    changes = client(klass_root).changes("2023-06-01", "2024-12-31")
    assert {(c.old_code, c.new_code) for c in changes} == {
        ("3024", "3201"),
        ("3025", "3203"),
        ("1507", "1508"),
        ("1507", "1580"),
    }
    assert all(c.change_occurred == dt.date(2024, 1, 1) for c in changes)
    assert next(c for c in changes if c.new_code == "1580").new_name == "Haram"


def test_transient_503_is_retried(klass_root):
    FakeKlass.fail_next = 2
    codes = client(klass_root, retries=3).codes_at("2024-01-01")
    assert "3201" in {c.code for c in codes}
    assert len(FakeKlass.requests) == 3


def test_persistent_503_gives_klass_error(klass_root):
    FakeKlass.fail_next = 10
    with pytest.raises(KlassError, match="503"):
        client(klass_root, retries=1).codes_at("2024-01-01")


def test_unknown_classification_gives_404_error_naming_the_url(klass_root):
    with pytest.raises(KlassError, match=r"404 .*classifications/999/codesAt"):
        KlassClient(klass_root, 999, backoff_factor=0).codes_at("2024-01-01")


def test_body_that_is_not_json_is_rejected(klass_root):
    with pytest.raises(KlassError, match="not JSON"):
        client(klass_root)._get("broken", {})


def test_bad_date_is_rejected_before_any_request(klass_root):
    with pytest.raises(KlassError, match="date must be a date"):
        client(klass_root).codes_at("1 January 2024")
    assert FakeKlass.requests == []


def test_unreachable_server_gives_klass_error():
    with pytest.raises(KlassError, match="request failed"):
        KlassClient("http://127.0.0.1:9", retries=0, timeout=1).codes_at("2024-01-01")


def test_build_reference_online_path_derives_the_history(klass_root):
    hist = br.load_klass(client(klass_root))
    rows = {r["municipality_code"]: r for r in br.derive_municipalities(hist)}
    assert set(rows) == set(OLD) | set(MID) | set(NEW)
    assert (rows["0219"]["valid_to_year"], rows["0219"]["successor_code"]) == ("2019", "3024")
    assert rows["0627"]["municipality_id"] == "3203"
    assert "slått sammen til 3025" in rows["0627"]["change_note"]
    assert (rows["3024"]["valid_from_year"], rows["3024"]["valid_to_year"]) == ("2020", "2023")
    assert rows["3201"]["valid_to_year"] == ""
    # The split keeps the part with Ålesund's name as successor; Haram's old code still reaches Ålesund's.
    assert rows["1507"]["successor_code"] == "1508"
    assert "delt mellom 1508, 1580" in rows["1507"]["change_note"]
    # KLASS alone cannot tell which part Haram's old territory went to; the chain decides
    assert rows["1534"]["municipality_id"] == "1508"
    assert "floored" in rows["0219"]["source"] and "floored" not in rows["3201"]["source"]


# --- KOSTRA groups by year: KLASS 112 → 131 correspondences, fetched online or read from a recording ----------


def test_corresponds_at_gives_each_municipality_its_kostra_group(klass_root):
    items = client(klass_root, classification_id=112).corresponds_at(131, "2021-01-01")
    assert [(i.source_code, i.target_code, i.target_name) for i in items] == [
        ("12", "3024", "Bærum"),
        ("12", "3025", "Asker"),
        ("11", "1507", "Ålesund"),
        ("16", "9999", "Uoppgitt"),
    ]
    (path,) = [r for r in FakeKlass.requests if "correspondsAt" in r]
    assert path.startswith("/classifications/112/correspondsAt?")
    assert "targetClassificationId=131" in path and "date=2021-01-01" in path


@pytest.fixture()
def small_world(monkeypatch):
    """The small KLASS world is not the whole country the ASSS table (every member) and the successor table
    (every county, checked against 12209's labels) need; these tests build the KOSTRA groups."""
    monkeypatch.setattr(br, "derive_asss", lambda municipalities: [])
    monkeypatch.setattr(br, "derive_successors", lambda hist, municipalities: [])


def _committed_groups(folder, *rows: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    header = "municipality_code,year_from,year_to,kostra_group,grouping,source\n"
    (folder / "kostra_groups.csv").write_text(header + "".join(f"{r}\n" for r in rows), encoding="utf-8")


def _groups_csv(folder) -> list[dict[str, str]]:
    import csv

    with (folder / "kostra_groups.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_an_online_build_takes_every_years_groups_from_klass_and_records_them(
    klass_root, tmp_path, small_world
):
    out, record = tmp_path / "seeds", tmp_path / "recorded"
    _committed_groups(
        out,
        '0219,2015,2018,EKG04,pre-2020,"ssb-kostra rateData"',
        '1507,2020,2023,EKG11,2020,"SSB text"',  # agrees with KLASS
    )
    assert (
        br.main(
            ["--online", "--klass-root", klass_root, "--out", str(out), "--record-membership", str(record)]
        )
        == 0
    )

    rows = _groups_csv(out)
    by = {(r["municipality_code"], r["year_from"]): r for r in rows}
    # The years KLASS 112 does not cover keep their rows (a row per year, as every year of a membership).
    assert sorted(y for c, y in by if c == "0219") == ["2015", "2016", "2017", "2018"]
    assert {by[("0219", y)]["kostra_group"] for y in ("2015", "2018")} == {"EKG04"}
    assert {(c, y) for c, y in by if y >= "2020"} == {
        *((c, str(y)) for c in ("3024", "3025", "1507") for y in range(2020, 2024)),
        *(("3201", "2024"), ("3203", "2024"), ("1508", "2024"), ("1580", "2024")),
    }  # "Uoppgitt" (9999) is no municipality
    assert by[("1580", "2024")]["kostra_group"] == "EKG01" and by[("1580", "2024")]["grouping"] == "2020"
    assert by[("1507", "2021")]["source"] == (
        "klass112→131 correspondsAt 2021-01-01 (klass112-131-correspondsAt-2021-01-01.json)"
    )
    # Each answer was recorded, and reads back as it came.
    live = client(klass_root, classification_id=112)
    for year in range(2020, 2025):
        recorded = br.read_kostra_membership(record / br.membership_file_name(year))
        assert recorded == live.corresponds_at(131, f"{year}-01-01")


def test_a_klass_answer_that_contradicts_a_committed_group_stops_the_build_in_one_line(
    klass_root, tmp_path, capsys, small_world
):
    out = tmp_path / "seeds"
    _committed_groups(out, '1507,2020,2023,EKG10,2020,"SSB text"')
    before = (out / "kostra_groups.csv").read_bytes()
    assert br.main(["--online", "--klass-root", klass_root, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "build_reference: klass112-131-correspondsAt-2020-01-01.json: 1507 is in EKG11 in 2020, "
        "SSB text says EKG10"
    ]
    assert (out / "kostra_groups.csv").read_bytes() == before  # nothing written


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([("12", "3024"), ("11", "3024")], "3024 is in two KOSTRA groups"),
        ([("12", "0219")], "0219 is not a municipality code valid in 2021"),
        ([("18", "3024")], "'18' is not a KOSTRA group code (1-17)"),
    ],
)
def test_a_membership_that_cannot_be_true_is_refused(items, message):
    from pipeline.reference.klass.client import KlassCorrespondence

    municipalities = [
        {"municipality_code": "0219", "valid_from_year": "2015", "valid_to_year": "2019"},
        {"municipality_code": "3024", "valid_from_year": "2020", "valid_to_year": "2023"},
    ]
    correspondence = [KlassCorrespondence(g, f"KOSTRA-gruppe {g}", c, "") for g, c in items]
    with pytest.raises(br.ReferenceBuildError, match=re.escape(message)):
        br.kostra_membership_rows(2021, correspondence, municipalities, "recorded.json")
