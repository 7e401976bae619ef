"""The SSB client against the local PxWebApi server: splitting, GET/POST, throttling, retries, timeouts,
consistency of a fetch, search and metadata, as-of views, and a replay of SSB's real 12367 response."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from pipeline.ssb.client import ApiLimits, SsbClient, live_roots, parse_rate_policy
from pipeline.ssb.errors import (
    SsbBadResponse,
    SsbError,
    SsbNoSuchTable,
    SsbNotFound,
    SsbQueryError,
    SsbTableChanged,
    SsbTooManyCells,
    SsbUnavailable,
    SsbUnreachable,
    SsbUrlTooLong,
)
from pipeline.ssb.query import cell_count, resolve_selection, split_selection, v0_query
from pipeline.ssb.throttle import RateLimiter
from tests.pxweb_fixtures import (
    REGIONS,
    cells_of,
    fast_client,
    recorded_server,
    synthetic_doc,
)

TABLE = "99001"  # synthetic_doc(): 12 regions x 2 ContentsCode x 6 years = 144 cells


def data_requests(server, table_id=TABLE):
    return [
        r
        for r in server.requests
        if f"table/{table_id}" in r.path and r.method == "POST" or f"tables/{table_id}/data" in r.path
    ]


def max_in_window(stamps: list[float], window: float) -> int:
    stamps = sorted(stamps)
    best, j = 0, 0
    for i, t in enumerate(stamps):
        while stamps[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


# --- pure query logic -------------------------------------------------------------------------------


class _Var:
    def __init__(self, code, values, time=False):
        self.code, self.values, self.time = code, values, time


def test_split_respects_limit_and_covers_every_cell_once():
    selection = {
        "Region": [f"{i:04d}" for i in range(50)],
        "ContentsCode": ["A", "B", "C"],
        "Tid": ["2020", "2021"],
    }
    parts = split_selection(selection, 40)
    assert all(cell_count(p) <= 40 for p in parts)
    covered = [(r, c, t) for p in parts for r in p["Region"] for c in p["ContentsCode"] for t in p["Tid"]]
    assert len(covered) == 300 == len(set(covered))
    # Region (most values) is cut: 6 cells per region, so 6 regions per part -> ceil(50/6) = 9 parts.
    assert len(parts) == 9
    assert all(p["ContentsCode"] == ["A", "B", "C"] for p in parts)
    sizes = sorted(len(p["Region"]) for p in parts)
    assert sizes[-1] - sizes[0] <= 1  # near-equal chunks, no tiny remainder


def test_split_cuts_contents_code_last_and_recurses():
    # ContentsCode has the most values but is only cut when nothing else can be.
    selection = {"ContentsCode": [f"K{i}" for i in range(10)], "Tid": ["2020", "2021"]}
    parts = split_selection(selection, 10)
    assert [len(p["Tid"]) for p in parts] == [1, 1]
    assert all(len(p["ContentsCode"]) == 10 for p in parts)
    parts = split_selection(selection, 3)
    assert all(cell_count(p) <= 3 for p in parts)
    assert sum(cell_count(p) for p in parts) == 20
    assert all(len(p["Tid"]) == 1 for p in parts)


def test_split_unchanged_when_small_and_rejects_nonsense():
    selection = {"A": ["1", "2"], "B": ["x"]}
    assert split_selection(selection, 2) == [selection]
    with pytest.raises(ValueError, match="max_cells"):
        split_selection(selection, 0)
    with pytest.raises(ValueError, match="select no values"):
        split_selection({"A": [], "B": ["x"]}, 10)


def test_resolve_selection_star_top_patterns_and_errors():
    variables = [
        _Var("KOKkommuneregion0000", ["EAK", "0301", "0219", "3024"]),
        _Var("ContentsCode", ["KOSa", "KOSb"]),
        _Var("Tid", ["2015", "2016", "2017"], time=True),
    ]
    resolved = resolve_selection(
        "12367", variables, {"KOKkommuneregion0000": ["3024", "0*"], "Tid": "top(2)"}
    )
    assert resolved == {
        "KOKkommuneregion0000": ["0301", "0219", "3024"],  # table order, not request order
        "ContentsCode": ["KOSa", "KOSb"],  # left out -> every value
        "Tid": ["2016", "2017"],  # the newest periods
    }
    with pytest.raises(ValueError, match=r"table 12367: variable Tid has no value '1999'"):
        resolve_selection("12367", variables, {"Tid": ["1999"]})
    with pytest.raises(ValueError, match=r"table 12367: no variable\(s\) \['Alder'\]"):
        resolve_selection("12367", variables, {"Alder": "*"})


def test_rate_limiter_threads_never_exceed_window():
    limiter = RateLimiter(max_calls=5, window_seconds=0.2)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(6):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())
            limiter.release()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stamps) == 24
    assert max_in_window(stamps, 0.2) <= 5
    assert time.monotonic() - start >= 0.2 * 4  # 24 calls at 5 per window need at least 4 more windows


# --- against the local server ------------------------------------------------------------------------


def test_limits_come_from_the_server_config():
    with recorded_server(max_cells=123, max_calls=7, window_seconds=3) as server:
        assert fast_client(server).limits() == ApiLimits(123, 7, 3.0)


def test_zero_call_limit_in_v2_config_means_not_stated():
    # SSB's v2 config has reported maxCallsPerTimeWindow/timeWindow 0 while the limit still applied.
    with recorded_server(max_cells=500, max_calls=9, window_seconds=4) as server:
        server._v2_config = lambda: {"maxDataCells": 500, "maxCallsPerTimeWindow": 0, "timeWindow": 0}
        assert fast_client(server).limits() == ApiLimits(500, 9, 4.0)  # the pair comes from v0's config
        server._v2_config = lambda: {"maxDataCells": 0, "maxCallsPerTimeWindow": 0, "timeWindow": 0}
        server._v0_config = lambda: {}
        # Neither config states it: the x-ratelimit-policy header every answer carries does ("9;w=4s").
        assert fast_client(server).limits() == ApiLimits(800_000, 9, 4.0)
        server._calls.headers = lambda client, now: {}
        assert fast_client(server).limits() == ApiLimits(800_000, 30, 60.0)  # SSB's documented defaults


def test_fetch_splits_under_server_cell_limit_and_reassembles():
    with recorded_server(max_cells=30) as server, recorded_server() as unlimited:
        fetch = fast_client(server).fetch(TABLE)
        whole = fast_client(unlimited).fetch(TABLE)
        # 12 regions x 12 other cells: 2 regions (24 cells) per extract -> 6 extracts.
        assert len(fetch.parts) == 6
        posted = data_requests(server)
        assert len(posted) == 6
        assert all(r.status == 200 and r.cells <= 30 for r in posted)
        assert len(whole.parts) == 1
        assert fetch.cells == whole.cells == 144
        assert cells_of(*[p.body for p in fetch.parts]).equals(cells_of(whole.parts[0].body))
        assert cells_of(whole.parts[0].body).equals(cells_of(synthetic_doc()))
        assert fetch.updated == datetime(2024, 6, 17, 6, 0, tzinfo=UTC)
        assert {p.newest_period for p in fetch.parts} == {"2020"}
        assert fetch.parts[0].query == v0_query(
            {
                "KOKkommuneregion0000": ["EAK", "EAKUO"],
                "ContentsCode": ["KOSbelop0000", "KOSandel120000"],
                "Tid": [str(y) for y in range(2015, 2021)],
            }
        )


def test_fetch_selection_subset():
    with recorded_server() as server:
        fetch = fast_client(server).fetch(TABLE, {"KOKkommuneregion0000": ["0301", "3201"], "Tid": "top(2)"})
        assert fetch.cells == 2 * 2 * 2
        cells = cells_of(*[p.body for p in fetch.parts])
        assert set(cells["Tid"].to_pylist()) == {"2019", "2020"}
        assert fetch.parts[0].newest_period == "2020"
        with pytest.raises(SsbQueryError, match=r"SSB table 99001: .*has no value '9999'"):
            fast_client(server).fetch(TABLE, {"KOKkommuneregion0000": ["9999"]})


def test_v2_uses_get_for_short_urls_and_post_for_long_ones():
    regions = {f"K{i:04d}": f"Kommune {i}" for i in range(400)}
    doc = synthetic_doc("99002", regions=regions, years=[2020])
    with recorded_server(doc) as server:
        client = fast_client(server)
        short = client.fetch("99002", {"KOKkommuneregion0000": ["K0001", "K0002"]}, api="v2")
        assert [p.method for p in short.parts] == ["GET"]
        assert len(short.parts[0].url) <= 2000
        long = client.fetch("99002", api="v2")
        assert [p.method for p in long.parts] == ["POST"]
        assert long.parts[0].query["selection"][0]["variableCode"] == "KOKkommuneregion0000"
        methods = [r.method for r in data_requests(server, "99002")]
        assert methods == ["GET", "POST"]
        assert cells_of(long.parts[0].body).equals(cells_of(doc))


def test_throttle_keeps_every_window_under_the_server_limit():
    with recorded_server(max_cells=12, max_calls=4, window_seconds=0.5) as server:
        fetch = fast_client(server).fetch(TABLE)
        assert len(fetch.parts) == 12
        statuses = [r.status for r in server.requests]
        assert 429 not in statuses
        stamps = [r.at for r in server.requests]
        assert len(stamps) >= 15  # config, metadata (v0 + v2) and 12 extracts
        assert max_in_window(stamps, 0.5) <= 4


def test_retries_take_throttle_slots():
    with recorded_server(max_calls=3, window_seconds=0.5) as server:
        client = fast_client(server, retries=5)
        client.limits()
        server.faults.add(kind="status", status=503, count=4, path="/table/99001", method="POST")
        fetch = client.fetch(TABLE)
        assert fetch.cells == 144
        assert [r.status for r in data_requests(server)] == [503, 503, 503, 503, 200]
        assert 429 not in [r.status for r in server.requests]
        assert max_in_window([r.at for r in server.requests], 0.5) <= 3


def test_retry_after_on_429_is_honoured():
    with recorded_server(max_calls=3, window_seconds=1) as server:
        client = fast_client(server)
        client.limits()  # call 1
        # Someone else behind the same IP uses the rest of the window.
        requests.get(f"{server.v0_root}/?config", timeout=2)
        requests.get(f"{server.v0_root}/?config", timeout=2)
        started = time.monotonic()
        meta = client.table_metadata(TABLE)
        assert meta.table_id == TABLE
        log = [r for r in server.requests if "/table/99001" in r.path]
        assert log[0].status == 429
        assert log[1].status == 200
        # Backoff is 0.01 s; only the server's Retry-After (1 s) explains the wait.
        assert log[1].at - log[0].at >= 0.9
        assert time.monotonic() - started >= 0.9


def test_5xx_retried_then_success():
    with recorded_server() as server:
        server.faults.add(kind="status", status=503, count=2, path="/table/99001", method="POST")
        server.faults.add(kind="status", status=502, count=1, path="/metadata")
        fetch = fast_client(server).fetch(TABLE)
        assert fetch.cells == 144
        assert [r.status for r in data_requests(server)] == [503, 503, 200]
        assert [r.status for r in server.requests if "/metadata" in r.path] == [502, 200]


def test_5xx_exhausted_raises_naming_table_and_query():
    with recorded_server() as server:
        server.faults.add(kind="status", status=503, count=50, path="/table/99001", method="POST")
        client = fast_client(server, retries=2)
        with pytest.raises(SsbUnavailable) as info:
            client.fetch(TABLE, {"KOKkommuneregion0000": ["0301"]})
        message = str(info.value)
        assert "SSB table 99001" in message
        assert "HTTP 503" in message
        assert '"code":"KOKkommuneregion0000","selection":{"filter":"item","values":["0301"]}' in message
        assert info.value.query["query"][0]["selection"]["values"] == ["0301"]
        assert len(data_requests(server)) == 3  # the first try and two retries


def test_cell_limit_violation_is_too_many_cells():
    # A client that believes the limit is higher than it is (e.g. a stale config) gets 403, not a retry loop.
    with recorded_server(max_cells=10) as server:
        client = fast_client(server)
        client._limits = ApiLimits(1000, 30, 60)
        with pytest.raises(SsbTooManyCells, match=r"SSB table 99001: .*HTTP 403"):
            client.fetch(TABLE)
        assert len(data_requests(server)) == 1


def test_timeout_is_retried():
    with recorded_server() as server:
        server.faults.add(kind="hang", seconds=3, count=1, path="/table/99001", method="POST")
        client = fast_client(server, timeout=0.3)
        started = time.monotonic()
        fetch = client.fetch(TABLE)
        assert fetch.cells == 144
        assert len(data_requests(server)) == 2
        assert time.monotonic() - started < 2.5  # did not wait for the hanging answer


def test_timeouts_exhausted_raise_unavailable():
    with recorded_server() as server:
        server.faults.add(kind="hang", seconds=3, count=10, path="/table/99001", method="POST")
        client = fast_client(server, timeout=0.2, retries=1)
        with pytest.raises(SsbUnavailable, match=r"SSB table 99001: no answer after 1 retries.*timed out"):
            client.fetch(TABLE)
        assert len(data_requests(server)) == 2


@pytest.mark.parametrize(
    ("length", "says"),
    [("full", "the response body was cut off"), ("short", "the response is not valid JSON")],
)
def test_cut_off_body_fails_at_once_for_the_run_to_retry(length, says):
    # urllib3 cannot see a body cut off after the headers, and the client has no loop of its own: the
    # call fails at once, and the ingest asset's retry policy runs the fetch again.
    with recorded_server() as server:
        server.faults.add(kind="truncate", length=length, count=1, path="/table/99001", method="POST")
        with pytest.raises(SsbBadResponse, match=rf"SSB table 99001: {says}"):
            fast_client(server).fetch(TABLE)
        assert len(data_requests(server)) == 1
        fetch = fast_client(server).fetch(TABLE)  # the next run gets the whole body
        assert cells_of(fetch.parts[0].body).equals(cells_of(synthetic_doc()))


def test_table_updated_mid_fetch_raises():
    with recorded_server(max_cells=30) as server:
        server.faults.add(
            kind="updated",
            updated="2025-03-14T07:00:00Z",
            skip=2,
            count=100,
            path="/table/99001",
            method="POST",
        )
        with pytest.raises(
            SsbTableChanged, match=r"SSB table 99001: the 6 parts come from different releases"
        ):
            fast_client(server).fetch(TABLE)


def test_metadata_and_table_updated():
    with recorded_server() as server:
        client = fast_client(server)
        meta = client.table_metadata(TABLE)
        assert meta.title.startswith("Detaljerte regnskapstall (testtabell)")
        assert meta.updated == datetime(2024, 6, 17, 6, 0, tzinfo=UTC)
        assert [v.code for v in meta.variables] == ["KOKkommuneregion0000", "ContentsCode", "Tid"]
        region = meta.variable("KOKkommuneregion0000")
        assert region.values == list(REGIONS) and region.value_texts[3] == "Oslo"
        assert meta.variable("Tid").time and not region.time
        assert client.table_updated(TABLE) == meta.updated
        with pytest.raises(SsbError, match=r"SSB table 12345: not found.*HTTP 404"):
            client.table_metadata("12345")


def test_metadata_is_reused_by_the_fetch_that_follows():
    with recorded_server() as server:
        for ttl, reads in ((120, 1), (0, 2)):
            server.reset()
            client = fast_client(server, metadata_ttl=ttl)
            client.table_metadata(TABLE)
            client.fetch(TABLE)
            v0_meta = [
                r for r in server.requests if r.method == "GET" and r.path == f"/api/v0/no/table/{TABLE}"
            ]
            assert len(v0_meta) == reads


def test_search_follows_pages_and_filters():
    recent = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    docs = [
        synthetic_doc("99001"),
        synthetic_doc("99002", "Kommunehelse (testtabell), etter region og år", updated=recent),
        synthetic_doc("99003", "Barnehager (testtabell), etter region og år", updated="2023-06-15T06:00:00Z"),
    ]
    with recorded_server(*docs, page_size=1) as server:
        client = fast_client(server)
        every = client.search_tables()
        assert [t.id for t in every] == ["99001", "99002", "99003"]
        assert len([r for r in server.requests if r.path.startswith("/api/pxwebapi/v2/tables?")]) == 3
        assert every[2].updated == datetime(2023, 6, 15, 6, 0, tzinfo=UTC)
        assert (every[0].first_period, every[0].last_period) == ("2015", "2020")
        assert [t.id for t in client.search_tables("barnehager")] == ["99003"]
        assert [t.id for t in client.search_tables(past_days=7)] == ["99002"]
        assert [t.id for t in client.search_tables("updated:2023*")] == ["99003"]


def test_asof_prefix_shows_older_release():
    old = synthetic_doc(updated="2024-03-15T07:00:00Z")
    new = synthetic_doc(updated="2024-06-17T06:00:00Z", shift=0.5)
    with recorded_server(old, new) as server:
        then = fast_client(server, asof="2024-04").fetch(TABLE)
        now = fast_client(server).fetch(TABLE)
        assert then.updated == datetime(2024, 3, 15, 7, 0, tzinfo=UTC)
        assert now.updated == datetime(2024, 6, 17, 6, 0, tzinfo=UTC)
        assert cells_of(then.parts[0].body).equals(cells_of(old))
        assert cells_of(now.parts[0].body).equals(cells_of(new))
        assert fast_client(server, asof="2024-06-17").table_updated(TABLE) == now.updated
        with pytest.raises(SsbError, match="HTTP 404"):
            fast_client(server, asof="2024-01-01").table_metadata(TABLE)


def test_progress_display_does_not_change_the_result(capsys):
    with recorded_server(max_cells=50) as server:
        fetch = fast_client(server, progress=True).fetch(TABLE)
        assert fetch.cells == 144
    assert "celler" in capsys.readouterr().err


def test_bad_arguments_are_named():
    client = SsbClient("http://127.0.0.1:9/api/v0", "http://127.0.0.1:9/api/pxwebapi/v2", progress=False)
    with pytest.raises(ValueError, match="api must be 'v0' or 'v2'"):
        client.fetch(TABLE, api="v3")
    with pytest.raises(ValueError, match="not a statbank table id"):
        client.table_metadata("12 367")


def test_unreachable_server_raises_unavailable():
    # Port 9 (discard) is closed on the loopback interface: connection refused on every try.
    client = SsbClient(
        "http://127.0.0.1:9/api/v0",
        "http://127.0.0.1:9/api/pxwebapi/v2",
        retries=1,
        backoff_factor=0.01,
        progress=False,
    )
    with pytest.raises(SsbUnavailable, match=r"cannot reach 127.0.0.1:9: the connection was refused"):
        client.table_updated(TABLE)


@pytest.mark.realdata
def test_replay_real_12367_through_server_and_client(snapshots):
    path = snapshots / "KSAnalyse__ks-json-stat.java" / "resultatTest.json"
    with recorded_server(path, max_cells=300) as server:
        client = fast_client(server)
        meta = client.table_metadata("12367")
        assert meta.updated == datetime(2021, 6, 13, 22, 0, tzinfo=UTC)
        assert [v.code for v in meta.variables] == [
            "KOKkommuneregion0000",
            "KOKregnskapsomfa0000",
            "KOKfunksjon0000",
            "KOKart0000",
            "ContentsCode",
            "Tid",
        ]
        for api in ("v0", "v2"):
            fetch = client.fetch("12367", api=api)
            assert fetch.cells == 1250
            assert len(fetch.parts) > 1 and all(p.cells <= 300 for p in fetch.parts)
            assert cells_of(*[p.body for p in fetch.parts]).equals(cells_of(path.read_bytes()))
        assert fetch.updated == meta.updated


# --- table records, SSB's error answers, rate-limit headers, unreachable hosts --------------------------


def test_table_info_reads_the_v2_table_record():
    source_doc = synthetic_doc()
    with recorded_server(source_doc) as server:
        info = fast_client(server).table_info(TABLE)
        assert info.id == TABLE and info.label.startswith(f"{TABLE}: Detaljerte")
        assert info.updated == datetime(2024, 6, 17, 6, 0, tzinfo=UTC)
        assert (info.first_period, info.last_period, info.discontinued) == ("2015", "2020", False)
        assert [r.path for r in server.requests][-1] == f"/api/pxwebapi/v2/tables/{TABLE}?lang=no"
        server.source.add(synthetic_doc(updated="2024-06-18T06:00:00Z"), discontinued=True)
        assert fast_client(server).table_info(TABLE).discontinued is True
        with pytest.raises(
            SsbNoSuchTable, match=r"SSB table 12345: SSB refused the query: Non-existent table"
        ):
            fast_client(server).table_info("12345")


def test_ssb_400_bodies_become_query_errors_quoting_the_title():
    with recorded_server() as server:
        client = fast_client(server)
        client.table_metadata(TABLE)  # v0 metadata is not checked against the server's values below
        client._metadata[TABLE][1].variables[0].values.append("9999")  # the client believes 9999 exists
        with pytest.raises(
            SsbQueryError, match=r"SSB table 99001: SSB refused the query: Non-existent value"
        ):
            client.fetch(TABLE, {"KOKkommuneregion0000": ["9999"]}, api="v2")
        # One request, not retried: a wrong query stays wrong.
        assert len([r for r in server.requests if "/data" in r.path]) == 1
        with pytest.raises(SsbNoSuchTable) as info:
            fast_client(server).table_updated("12345")
        assert isinstance(info.value, SsbNotFound) and isinstance(info.value, SsbQueryError)
        assert "Non-existent table" in str(info.value)


def test_v2_too_many_cells_is_typed():
    with recorded_server(max_cells=10) as server:
        client = fast_client(server)
        client._limits = ApiLimits(1000, 30, 60)
        with pytest.raises(SsbTooManyCells, match="Too many cells selected"):
            client.fetch(TABLE, api="v2")


def test_html_404_to_a_long_get_says_url_too_long():
    with recorded_server() as server:
        client = fast_client(server, max_get_url=100_000)  # a client that does not switch to POST
        regions = {f"K{i:04d}": f"Kommune {i}" for i in range(400)}
        server.source.add(synthetic_doc("99002", regions=regions, years=[2020]))
        with pytest.raises(
            SsbUrlTooLong, match=r"URL too long: .*HTML 404 page to a GET URL of [\d,]+ characters"
        ):
            client.fetch("99002", api="v2")
        # A short URL answered with an HTML page is a wrong root, not a long URL.
        resp = requests.Response()
        resp.status_code, resp._content = 404, b"<!DOCTYPE html><html>404</html>"
        resp.headers["Content-Type"] = "text/html"
        resp.url = f"{server.v2_root}/nope"
        resp.request = requests.Request("GET", resp.url).prepare()
        from pipeline.ssb.client import _status_error

        err = _status_error(resp, table_id=None, query=None, retries=0)
        assert isinstance(err, SsbNotFound) and not isinstance(err, SsbUrlTooLong)
        assert "check the API root URL" in str(err)


def test_rate_policy_header_parsing():
    assert parse_rate_policy("40;w=60s") == (40, 60.0)
    assert parse_rate_policy("30;w=60") == (30, 60.0)
    assert parse_rate_policy("1000;w=0.5s") == (1000, 0.5)
    assert parse_rate_policy("40;w=60s, 1000;w=3600s") == (40, 60.0)
    for nonsense in (None, "", "0;w=60s", "forty", "40;w=0"):
        assert parse_rate_policy(nonsense) is None


def test_header_limit_configures_the_throttle_and_zero_is_never_unlimited():
    with recorded_server(max_cells=500, max_calls=5, window_seconds=2) as server:
        # SSB's v2 config says 0 calls (= not stated); v0's config is silent too: the header decides.
        server._v0_config = lambda: {"maxValues": 500}
        client = fast_client(server)
        assert client.limits() == ApiLimits(500, 5, 2.0)
        limiter = next(iter(client._limiters.values()))
        assert (limiter.max_calls, limiter.window_seconds) == (5, 2.0)
        # A stricter policy announced later is adopted at once.
        server._calls.max_calls = 3
        client.table_info(TABLE)
        assert client.limits() == ApiLimits(500, 3, 2.0) and limiter.max_calls == 3
        server._calls.max_calls = 5


def test_live_roots_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("KOSTRA_SSB_V0_ROOT", raising=False)
    monkeypatch.delenv("KOSTRA_SSB_V2_ROOT", raising=False)
    assert live_roots() == ("https://data.ssb.no/api/v0", "https://data.ssb.no/api/pxwebapi/v2")
    monkeypatch.setenv("KOSTRA_SSB_V0_ROOT", "http://mirror.example/api/v0")
    monkeypatch.setenv("KOSTRA_SSB_V2_ROOT", "http://mirror.example/api/pxwebapi/v2")
    client = SsbClient(progress=False)
    assert (
        (client.v0_root, client.v2_root)
        == live_roots()
        == (
            "http://mirror.example/api/v0",
            "http://mirror.example/api/pxwebapi/v2",
        )
    )


@pytest.mark.parametrize(
    ("root", "says"),
    [
        ("http://127.0.0.1:9", "cannot reach 127.0.0.1:9: the connection was refused"),
        (
            "http://kostra-no-such-host.invalid",
            "cannot reach kostra-no-such-host.invalid: the host name does not",
        ),
    ],
)
def test_unreachable_host_fails_fast_with_what_to_check(root, says):
    # Five retries with a 1 s backoff factor would take ~30 s for a 503; a failed connection is not a 503.
    client = SsbClient(
        f"{root}/api/v0", f"{root}/api/pxwebapi/v2", retries=5, backoff_factor=1.0, progress=False
    )
    started = time.monotonic()
    with pytest.raises(SsbUnreachable) as info:
        client.fetch(TABLE)
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert says in message and "KOSTRA_SSB_V0_ROOT" in message and "proxy" in message
    assert isinstance(info.value, SsbUnavailable)


def test_failed_connection_is_retried_once_only(monkeypatch):
    import urllib3.connectionpool

    attempts = []
    real = urllib3.connectionpool.HTTPConnectionPool._make_request

    def counting(self, *args, **kwargs):
        attempts.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(urllib3.connectionpool.HTTPConnectionPool, "_make_request", counting)
    client = SsbClient(
        "http://127.0.0.1:9/api/v0", "http://127.0.0.1:9/api/pxwebapi/v2", retries=5, progress=False
    )
    with pytest.raises(SsbUnreachable):
        client.table_updated(TABLE)
    assert len(attempts) == 2  # the first try and one quick retry
