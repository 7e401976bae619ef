"""The local PxWebApi server on its own (plain HTTP): SSB-shaped answers, limits, faults, as-of views and
the demo release."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import requests

from pipeline.demo.server import DEMO_SOURCE, DemoSource, RecordedSource, parse_asof, serve
from pipeline.raw.jsonstat import decode
from tests.pxweb_fixtures import REGIONS, cells_of, demo_release, recorded_server, synthetic_doc, value_at

TABLE = "99001"


def v0_body(**selection) -> dict:
    return {
        "query": [{"code": k, "selection": {"filter": "item", "values": v}} for k, v in selection.items()],
        "response": {"format": "json-stat2"},
    }


FULL = {
    "KOKkommuneregion0000": list(REGIONS),
    "ContentsCode": ["KOSbelop0000", "KOSandel120000"],
    "Tid": [str(y) for y in range(2015, 2021)],
}


@pytest.fixture(scope="module")
def server():
    with recorded_server(max_cells=100, max_calls=1000, window_seconds=1) as srv:
        yield srv


def test_config_endpoints(server):
    v0 = requests.get(f"{server.v0_root}/?config", timeout=5).json()
    assert (v0["maxValues"], v0["maxCalls"], v0["timeWindow"]) == (100, 1000, 1)
    resp = requests.get(f"{server.v2_root}/config", timeout=5)
    v2 = resp.json()
    # Like SSB's: the call limit reads 0 in v2's config and is announced in the response headers instead.
    assert (v2["maxDataCells"], v2["maxCallsPerTimeWindow"], v2["timeWindow"]) == (100, 0, 0)
    assert resp.headers["x-ratelimit-policy"] == "1000;w=1s"
    assert v2["defaultDataFormat"] == "json-stat2"


def test_v0_metadata(server):
    meta = requests.get(f"{server.v0_root}/no/table/{TABLE}", timeout=5).json()
    assert meta["title"].startswith(f"{TABLE}: Detaljerte regnskapstall")
    region, contents, tid = meta["variables"]
    assert region["code"] == "KOKkommuneregion0000" and region["text"] == "region"
    assert region["values"][:4] == ["EAK", "EAKUO", "EKG13", "0301"] and region["valueTexts"][3] == "Oslo"
    assert tid["time"] is True and "time" not in region
    assert contents["values"] == ["KOSbelop0000", "KOSandel120000"]


def test_v0_data_is_ssb_shaped_jsonstat2(server):
    body = v0_body(
        KOKkommuneregion0000=["3201", "0301"], ContentsCode=["KOSandel120000"], Tid=["2016", "2015"]
    )
    resp = requests.post(f"{server.v0_root}/no/table/{TABLE}", json=body, timeout=5)
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["class"] == "dataset" and doc["version"] == "2.0"
    assert doc["label"].startswith(f"{TABLE}: ") and doc["source"] == "Statistisk sentralbyrå"
    assert doc["updated"] == "2024-06-17T06:00:00Z"
    assert doc["id"] == ["KOKkommuneregion0000", "ContentsCode", "Tid"] and doc["size"] == [2, 1, 2]
    assert doc["role"] == {"time": ["Tid"], "metric": ["ContentsCode"]}
    region = doc["dimension"]["KOKkommuneregion0000"]["category"]
    assert region["index"] == {"0301": 0, "3201": 1}  # table order, whatever order was asked
    assert region["label"] == {"0301": "Oslo", "3201": "Bærum"}
    assert doc["dimension"]["ContentsCode"]["category"]["unit"] == {
        "KOSandel120000": {"base": "prosent", "decimals": 1}
    }
    assert doc["extension"]["px"] == {"tableid": TABLE, "decimals": 1}
    assert len(doc["value"]) == 4
    # Every served cell equals the same cell of the source document.
    source = synthetic_doc()
    for code in ("0301", "3201"):
        for year in ("2015", "2016"):
            want = value_at(source, KOKkommuneregion0000=code, ContentsCode="KOSandel120000", Tid=year)
            assert value_at(doc, KOKkommuneregion0000=code, ContentsCode="KOSandel120000", Tid=year) == want


def test_statuses_survive_slicing(server):
    resp = requests.post(f"{server.v0_root}/no/table/{TABLE}", json=v0_body(**FULL), timeout=5)
    assert resp.status_code == 403  # 144 cells > 100
    sel = dict(FULL, KOKkommuneregion0000=list(REGIONS)[:8])  # 96 cells
    doc = requests.post(f"{server.v0_root}/no/table/{TABLE}", json=v0_body(**sel), timeout=5).json()
    assert doc["value"][5] is None and doc["status"]["5"] == ":"
    assert doc["value"][3] is None and doc["status"]["3"] == "."
    whole = cells_of(synthetic_doc())
    wanted = whole.filter(pc.is_in(whole["KOKkommuneregion0000"], pa.array(list(REGIONS)[:8])))
    assert wanted.num_rows == 96
    assert cells_of(doc).equals(wanted)


def test_v0_filters_all_and_top(server):
    body = {
        "query": [
            {"code": "KOKkommuneregion0000", "selection": {"filter": "all", "values": ["EK*"]}},
            {"code": "ContentsCode", "selection": {"filter": "item", "values": ["KOSbelop0000"]}},
            {"code": "Tid", "selection": {"filter": "top", "values": ["2"]}},
        ],
        "response": {"format": "json-stat2"},
    }
    doc = requests.post(f"{server.v0_root}/no/table/{TABLE}", json=body, timeout=5).json()
    assert list(doc["dimension"]["KOKkommuneregion0000"]["category"]["index"]) == ["EKG13"]
    assert list(doc["dimension"]["Tid"]["category"]["index"]) == ["2019", "2020"]


def test_v2_get_and_post_agree(server):
    params = {
        "valueCodes[KOKkommuneregion0000]": "0301,3201",
        "valueCodes[ContentsCode]": "*",
        "valueCodes[Tid]": "range(2016,2018)",
        "outputFormat": "json-stat2",
    }
    got = requests.get(f"{server.v2_root}/tables/{TABLE}/data", params=params, timeout=5)
    assert got.status_code == 200
    body = {
        "selection": [
            {"variableCode": "KOKkommuneregion0000", "valueCodes": ["0301", "3201"]},
            {"variableCode": "ContentsCode", "valueCodes": ["*"]},
            {"variableCode": "Tid", "valueCodes": ["from(2016)", "to(2018)"]},
        ]
    }
    posted = requests.post(
        f"{server.v2_root}/tables/{TABLE}/data?outputFormat=json-stat2", json=body, timeout=5
    )
    assert posted.status_code == 200
    assert got.json()["size"] == [2, 2, 3]
    # from(2016) + to(2018) is the union, i.e. every year; range is the intersection of both bounds.
    assert posted.json()["size"] == [2, 2, 6]
    assert list(got.json()["dimension"]["Tid"]["category"]["index"]) == ["2016", "2017", "2018"]
    top = requests.get(
        f"{server.v2_root}/tables/{TABLE}/data",
        params={**params, "valueCodes[Tid]": "top(1)"},
        timeout=5,
    ).json()
    assert list(top["dimension"]["Tid"]["category"]["index"]) == ["2020"]


def test_v2_metadata_is_jsonstat2_with_updated(server):
    doc = requests.get(f"{server.v2_root}/tables/{TABLE}/metadata", timeout=5).json()
    assert doc["class"] == "dataset" and doc["updated"] == "2024-06-17T06:00:00Z"
    assert doc["size"] == [12, 2, 6] and "value" not in doc
    assert doc["dimension"]["Tid"]["extension"]["elimination"] is False


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "says"),
    [
        ("POST", "/no/table/99001", v0_body(Tid=["2015"]), 400, "must be selected"),
        ("POST", "/no/table/99001", v0_body(**dict(FULL, Tid=["1999"])), 400, "no value '1999'"),
        ("POST", "/no/table/99001", {"query": [], "response": {"format": "csv"}}, 400, "json-stat2"),
        ("POST", "/no/table/99001", b"{not json", 400, "not a v0 query"),
        ("GET", "/no/table/11111", None, 404, "no table 11111"),
    ],
)
def test_bad_v0_requests(server, method, path, payload, status, says):
    kwargs = {"data": payload} if isinstance(payload, bytes) else {"json": payload}
    resp = requests.request(method, f"{server.v0_root}{path}", timeout=5, **kwargs)
    assert resp.status_code == status
    assert says in resp.json()["title"]


def test_long_get_url_is_refused_like_ssb(server):
    long_codes = ",".join(["0301"] * 600)
    resp = requests.get(
        f"{server.v2_root}/tables/{TABLE}/data",
        params={"valueCodes[KOKkommuneregion0000]": long_codes},
        timeout=5,
    )
    # SSB's front end (IIS) answers with its HTML page, not a JSON error.
    assert resp.status_code == 404
    assert resp.headers["Content-Type"].startswith("text/html")
    assert b"<title>404 - File or directory not found.</title>" in resp.content
    assert "use POST" in server.requests[-1].error


def test_rate_limit_answers_429_with_retry_after():
    with recorded_server(max_calls=3, window_seconds=2) as srv:
        statuses = [requests.get(f"{srv.v0_root}/?config", timeout=5) for _ in range(4)]
        assert [r.status_code for r in statuses] == [200, 200, 200, 429]
        assert statuses[3].headers["Retry-After"] == "2"
        assert [r.status for r in srv.requests] == [200, 200, 200, 429]
        # Control requests are outside the limit.
        assert requests.get(f"{srv.url}/_control/requests", timeout=5).status_code == 200


def test_faults_through_the_control_endpoint():
    with recorded_server() as srv:
        faults = [{"kind": "status", "status": 502, "count": 2, "path": "/config"}]
        assert requests.post(f"{srv.url}/_control/faults", json=faults, timeout=5).status_code == 200
        codes = [requests.get(f"{srv.v2_root}/config", timeout=5).status_code for _ in range(3)]
        assert codes == [502, 502, 200]
        log = requests.get(f"{srv.url}/_control/requests", timeout=5).json()
        assert [(r["method"], r["status"], r["fault"]) for r in log] == [
            ("GET", 502, "status"),
            ("GET", 502, "status"),
            ("GET", 200, None),
        ]
        bad = requests.post(f"{srv.url}/_control/faults", json={"kind": "explode"}, timeout=5)
        assert bad.status_code == 400 and "fault kind" in bad.json()["title"]


def test_truncate_and_skip_faults():
    with recorded_server() as srv:
        srv.faults.add(kind="truncate", path="/metadata", skip=1)
        url = f"{srv.v2_root}/tables/{TABLE}/metadata"
        assert requests.get(url, timeout=5).status_code == 200  # skipped
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(url, timeout=5)
        assert requests.get(url, timeout=5).json()["updated"] == "2024-06-17T06:00:00Z"


def test_hang_fault_delays_the_answer():
    with recorded_server() as srv:
        srv.faults.add(kind="hang", seconds=0.5, path="/config")
        started = time.monotonic()
        assert requests.get(f"{srv.v2_root}/config", timeout=5).status_code == 200
        assert time.monotonic() - started >= 0.45


def test_server_is_threaded():
    # A hanging request must not block others (the client's retries and other clients keep going).
    with recorded_server() as srv:
        srv.faults.add(kind="hang", seconds=1.0, path="/metadata")
        slow = threading.Thread(
            target=requests.get, args=(f"{srv.v2_root}/tables/{TABLE}/metadata",), kwargs={"timeout": 5}
        )
        slow.start()
        time.sleep(0.1)
        started = time.monotonic()
        assert requests.get(f"{srv.v2_root}/config", timeout=5).status_code == 200
        assert time.monotonic() - started < 0.5
        slow.join()


def test_asof_prefix_and_parse_asof():
    old = synthetic_doc(updated="2024-03-15T07:00:00Z")
    new = synthetic_doc(updated="2024-06-17T06:00:00Z", shift=0.5)
    with recorded_server(old, new) as srv:

        def updated(prefix: str) -> int | str:
            resp = requests.get(f"{srv.url}{prefix}/api/pxwebapi/v2/tables/{TABLE}/metadata", timeout=5)
            if resp.status_code == 200:
                return resp.json()["updated"]
            return resp.json()["status"] if resp.status_code == 400 else resp.status_code

        assert updated("") == "2024-06-17T06:00:00Z"
        assert updated("/asof/2024-03") == "2024-03-15T07:00:00Z"
        assert updated("/asof/2024-06-16") == "2024-03-15T07:00:00Z"
        assert updated("/asof/2024-06-17") == "2024-06-17T06:00:00Z"
        assert updated("/asof/2024-06-17T05:59:59Z") == "2024-03-15T07:00:00Z"
        assert updated("/asof/2023-12") == 404  # SSB's "Non-existent table": 404 inside an HTTP 400
        assert updated("/asof/yesterday") == 400
    assert parse_asof("2016-03", {"2016-03": datetime(2016, 3, 15, 7, tzinfo=UTC)}) == datetime(
        2016, 3, 15, 7, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="neither a release key"):
        parse_asof("soon")


def test_table_search_with_paging(server):
    first = requests.get(f"{server.v2_root}/tables", params={"query": "regnskapstall"}, timeout=5).json()
    assert [t["id"] for t in first["tables"]] == [TABLE]
    hit = first["tables"][0]
    assert (hit["firstPeriod"], hit["lastPeriod"], hit["updated"]) == ("2015", "2020", "2024-06-17T06:00:00Z")
    assert first["page"]["totalElements"] == 1
    none = requests.get(
        f"{server.v2_root}/tables", params={"query": "regnskapstall barnevern"}, timeout=5
    ).json()
    assert none["tables"] == []


@pytest.fixture()
def demo_srv(tmp_path):
    folder = demo_release(tmp_path / "demo")
    with serve(DemoSource(folder)) as srv:
        yield srv


def demo_cell(srv, asof: str | None, region: str, year: str):
    prefix = f"/asof/{asof}" if asof else ""
    body = {
        "query": [
            {"code": "KOKkommuneregion0000", "selection": {"filter": "all", "values": ["*"]}},
            {"code": "ContentsCode", "selection": {"filter": "all", "values": ["*"]}},
            {"code": "Tid", "selection": {"filter": "all", "values": ["*"]}},
        ],
        "response": {"format": "json-stat2"},
    }
    resp = requests.post(f"{srv.url}{prefix}/api/v0/no/table/99101", json=body, timeout=5)
    if resp.status_code != 200:
        return resp.status_code
    doc = resp.json()
    if year not in doc["dimension"]["Tid"]["category"]["index"]:
        return "no such year"
    return value_at(doc, KOKkommuneregion0000=region, ContentsCode="KOSandel120000", Tid=year)


def test_demo_source_shows_each_release_as_published(demo_srv):
    # Oslo: revised 2014 = 80, 2015 = 81, 2016 = 82; unrevised = revised + 1000.
    assert demo_cell(demo_srv, "2016-03", "0301", "2015") == 1081.0  # newest year, March: unrevised
    assert demo_cell(demo_srv, "2016-03", "0301", "2014") == 80.0  # earlier years revised
    assert demo_cell(demo_srv, "2016-03", "0301", "2016") == "no such year"
    assert demo_cell(demo_srv, "2016-06", "0301", "2015") == 81.0  # June: revised
    assert demo_cell(demo_srv, "2017-03", "0301", "2015") == 81.0
    assert demo_cell(demo_srv, "2017-03", "0301", "2016") == 1082.0
    assert demo_cell(demo_srv, None, "0301", "2016") == 1082.0  # latest release
    assert demo_cell(demo_srv, "2016-05-01", "0301", "2015") == 1081.0  # an ISO date picks the release before
    assert demo_cell(demo_srv, "2016-01", "0301", "2015") == 404  # nothing published yet


def test_demo_responses_say_they_are_synthetic(demo_srv):
    body = v0_body(KOKkommuneregion0000=["EAK"], ContentsCode=["KOSandel120000"], Tid=["2016"])
    doc = requests.post(f"{demo_srv.url}/api/v0/no/table/99101", json=body, timeout=5).json()
    assert doc["source"] == DEMO_SOURCE
    assert doc["extension"]["demo"]["synthetic"] is True
    assert any("DEMO" in note for note in doc["note"])
    assert doc["value"] == [None] and doc["status"] == {"0": ":"}
    assert doc["updated"] == "2017-03-15T07:00:00Z"
    assert doc["dimension"]["ContentsCode"]["category"]["unit"]["KOSandel120000"]["decimals"] == 1
    tables = requests.get(f"{demo_srv.v2_root}/tables", timeout=5).json()["tables"]
    assert [t["id"] for t in tables] == ["99101"] and "DEMO" in tables[0]["description"]
    index = requests.get(demo_srv.url, timeout=5).json()
    assert index["demo"] is True and index["releases"] == ["2016-03", "2016-06", "2017-03"]


def test_demo_source_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no demo release at .*releases.json is missing"):
        DemoSource(tmp_path)
    (tmp_path / "releases.json").write_bytes(orjson.dumps([{"key": "2016-03"}]))
    with pytest.raises(ValueError, match=r"releases.json: not a list of"):
        DemoSource(tmp_path)


def test_recorded_source_rejects_documents_without_table_or_updated():
    doc = synthetic_doc()
    del doc["updated"]
    with pytest.raises(ValueError, match="table 99001 has no 'updated'"):
        RecordedSource([doc])


@pytest.mark.realdata
def test_recorded_snapshots_replay_cell_for_cell(snapshots):
    files = [
        snapshots / "KSAnalyse__ks-json-stat.java" / "resultatTest.json",
        snapshots / "KSAnalyse__ks-json-stat.java" / "resultatTest3.json",
        snapshots / "NFG-J__is114-tema05" / "derived_13502_KOSandel120000.jsonstat2.json",
    ]
    with recorded_server(*files) as srv:
        for path in files:
            original = decode(path.read_bytes())
            body = {
                "query": [
                    {"code": d.id, "selection": {"filter": "item", "values": d.codes}}
                    for d in original.dimensions
                ],
                "response": {"format": "json-stat2"},
            }
            resp = requests.post(f"{srv.v0_root}/no/table/{original.table_id}", json=body, timeout=10)
            assert resp.status_code == 200, path
            served = decode(resp.content)
            assert served.updated == original.updated
            assert served.label == original.label
            assert served.extension["px"] == original.extension["px"]
            assert cells_of(resp.content).equals(cells_of(path.read_bytes())), path
            assert served.status_counts() == original.status_counts()


# --- SSB's answers, as recorded (vegard1104/kommunebarometer spike, 2026-04-25) --------------------------

V2_DATA = f"/api/pxwebapi/v2/tables/{TABLE}/data"


@pytest.mark.parametrize(
    ("params", "title", "inner"),
    [
        # An unknown region or ContentsCode: "Non-existent value".
        ({"valueCodes[KOKkommuneregion0000]": "9999"}, "Non-existent value", 400),
        ({"valueCodes[ContentsCode]": "KOSfinnesikke0000"}, "Non-existent value", 400),
        # A mandatory variable left out (SSB's spelling).
        ({"valueCodes[Tid]": "2015"}, "Missing selection for mandantory variable", 400),
        ({"valueCodes[Finnesikke]": "1"}, "Non-existent variable", 400),
        ({"outputFormat": "csv"}, "Unsupported output format", 400),
    ],
)
def test_v2_parameter_errors_are_400_with_ssbs_json_body(server, params, title, inner):
    full = {"valueCodes[KOKkommuneregion0000]": "0301", "valueCodes[ContentsCode]": "KOSbelop0000"}
    full["valueCodes[Tid]"] = "2015"
    if "valueCodes[Tid]" in params and len(params) == 1:
        full = {"valueCodes[Tid]": "2015"}  # nothing else selected
    query = {**full, **params, "lang": "no"}
    resp = requests.get(f"{server.url}{V2_DATA}", params=query, timeout=5)
    assert resp.status_code == 400
    body = resp.json()
    assert body["type"] == "Parameter error" and body["title"] == title and body["status"] == inner
    assert set(body) <= {"type", "title", "status", "detail"}


def test_v2_unknown_table_is_400_with_404_inside_exactly_as_ssb(server):
    for path in ("/tables/11111/data?valueCodes[Tid]=2015", "/tables/11111", "/tables/11111/metadata"):
        resp = requests.get(f"{server.v2_root}{path}", timeout=5)
        assert resp.status_code == 400
        assert resp.content == b'{"type":"Parameter error","title":"Non-existent table","status":404}'


def test_v2_too_many_cells_is_pxwebapi2s_400(server):
    resp = requests.post(
        f"{server.v2_root}/tables/{TABLE}/data?outputFormat=json-stat2",
        json={"selection": [{"variableCode": k, "valueCodes": v} for k, v in FULL.items()]},
        timeout=5,
    )
    assert resp.status_code == 400 and resp.json()["title"] == "Too many cells selected"
    # v0 keeps its 403.
    v0 = requests.post(f"{server.v0_root}/no/table/{TABLE}", json=v0_body(**FULL), timeout=5)
    assert v0.status_code == 403


def test_every_answer_carries_the_rate_limit_headers():
    with recorded_server(max_calls=40, window_seconds=60) as srv:
        first = requests.get(f"{srv.v2_root}/tables/{TABLE}", timeout=5)
        second = requests.get(f"{srv.v2_root}/tables/11111", timeout=5)  # an error answer too
        assert first.headers["x-ratelimit-policy"] == "40;w=60s"  # the shape SSB was seen to send
        assert first.headers["x-ratelimit-limit"] == "40"
        assert first.headers["x-ratelimit-remaining"] == "39"
        assert second.headers["x-ratelimit-remaining"] == "38"
        assert 0 < int(second.headers["x-ratelimit-reset"]) <= 60
        config = requests.get(f"{srv.v2_root}/config", timeout=5).json()
        assert (config["maxCallsPerTimeWindow"], config["timeWindow"]) == (0, 0)


def test_table_record_and_search_hits_carry_the_same_fields(server):
    record = requests.get(f"{server.v2_root}/tables/{TABLE}", timeout=5).json()
    assert record["id"] == TABLE and record["label"].startswith(f"{TABLE}: Detaljerte regnskapstall")
    assert record["updated"] == "2024-06-17T06:00:00Z"
    assert (record["firstPeriod"], record["lastPeriod"]) == ("2015", "2020")
    assert record["discontinued"] is False
    hit = requests.get(f"{server.v2_root}/tables", params={"query": TABLE}, timeout=5).json()["tables"][0]
    for key in ("id", "label", "updated", "firstPeriod", "lastPeriod", "discontinued"):
        assert hit[key] == record[key]


def test_recorded_table_can_be_marked_discontinued_and_keeps_its_notes():
    doc = synthetic_doc("99005")
    doc["note"] = ["Følgende indikatorer ble rettet 21. mars 2025 for årgangene 2015-2024."]
    source = RecordedSource()
    source.add(doc, discontinued=True)
    with serve(source) as srv:
        assert requests.get(f"{srv.v2_root}/tables/99005", timeout=5).json()["discontinued"] is True
        meta = requests.get(f"{srv.v2_root}/tables/99005/metadata", timeout=5).json()
        assert meta["note"] == doc["note"]


def test_demo_table_record_follows_asof_and_the_spec(tmp_path):
    folder = demo_release(tmp_path / "demo")
    spec_path = folder / "tables" / "99101.json"
    # Without the optional keys: not discontinued, only the demo note.
    with serve(DemoSource(folder)) as srv:
        now = requests.get(f"{srv.v2_root}/tables/99101", timeout=5).json()
        assert now["discontinued"] is False and now["lastPeriod"] == "2016"
        then = requests.get(f"{srv.url}/asof/2016-06/api/pxwebapi/v2/tables/99101", timeout=5).json()
        assert (then["lastPeriod"], then["updated"]) == ("2015", "2016-06-15T06:00:00Z")
    spec = orjson.loads(spec_path.read_bytes())
    spec.update(discontinued=True, notes=["Avslutta serie.", "Rettet 21. mars 2025."])
    spec_path.write_bytes(orjson.dumps(spec))
    with serve(DemoSource(folder)) as srv:
        assert requests.get(f"{srv.v2_root}/tables/99101", timeout=5).json()["discontinued"] is True
        meta = requests.get(f"{srv.v2_root}/tables/99101/metadata", timeout=5).json()
        assert meta["note"][1:] == ["Avslutta serie.", "Rettet 21. mars 2025."] and "DEMO" in meta["note"][0]
        body = v0_body(KOKkommuneregion0000=["EAK"], ContentsCode=["KOSandel120000"], Tid=["2016"])
        data = requests.post(f"{srv.v0_root}/no/table/99101", json=body, timeout=5).json()
        assert data["note"] == meta["note"]
    spec["discontinued"] = "yes"
    spec_path.write_bytes(orjson.dumps(spec))
    with serve(DemoSource(folder)) as srv:
        resp = requests.get(f"{srv.v2_root}/tables/99101", timeout=5)
        assert resp.status_code == 500 and "'discontinued' must be true or false" in resp.json()["title"]


@pytest.mark.realdata
def test_error_bodies_match_the_recorded_ssb_session(snapshots, server):
    record = orjson.loads(
        (
            snapshots / "vegard1104__kommunebarometer" / "spike-results-2026-04-25T10-35-12-819Z.json"
        ).read_bytes()
    )
    recorded = {e["snippet"] for e in record["errors"]}
    ours = {
        requests.get(f"{server.v2_root}/tables/11111", timeout=5).text,
        requests.get(
            f"{server.url}{V2_DATA}",
            params={
                "valueCodes[KOKkommuneregion0000]": "9999",
                "valueCodes[ContentsCode]": "KOSbelop0000",
                "valueCodes[Tid]": "2015",
            },
            timeout=5,
        ).text,
        requests.get(f"{server.url}{V2_DATA}", params={"valueCodes[Tid]": "2015"}, timeout=5).text,
    }
    assert ours == recorded  # byte for byte: the three distinct bodies SSB sent
    assert all(e["status"] == 400 for e in record["errors"])
    long_get = record["singleBatch"]
    resp = requests.get(f"{server.url}{V2_DATA}?{'x' * 2200}", timeout=5)
    assert (resp.status_code, long_get["status"]) == (404, 404)
    assert resp.text.startswith(long_get["body"][:300])  # the recorded IIS page's opening


def test_a_client_that_goes_away_mid_request_prints_nothing_and_the_server_serves_on(capfd):
    """A run stopped by a signal resets its connection in the middle of a request: socketserver printed a
    traceback between dashes into the stopped command's terminal, ahead of its one stop line."""
    with recorded_server() as pxweb_server:
        _reset_three_requests_then_get(pxweb_server)
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "-" * 40 not in captured.err, captured.err


def _reset_three_requests_then_get(pxweb_server) -> None:
    import socket
    import struct
    from urllib.parse import urlsplit

    parts = urlsplit(pxweb_server.url)
    for _ in range(3):
        sock = socket.create_connection((parts.hostname, parts.port))
        sock.sendall(b"GET /api/v0/no/table/99001 HTTP/1.1\r\nHost: x\r\n")  # headers not finished
        time.sleep(0.05)  # the handler is reading them
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST: the handler's read ends in ConnectionResetError
    time.sleep(0.3)
    assert requests.get(f"{pxweb_server.url}/api/v0/no/table/{TABLE}", timeout=10).status_code == 200
