"""One retry owner per layer: urllib3's ``Retry`` for single requests (the statbank and KLASS clients share the
rule in :mod:`pipeline.http`), Dagster's retry policy for whole ingest steps, and nothing in between.

Every test runs against a local server and counts the requests it saw."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from pipeline.config import Home
from pipeline.landing.ingest import catalogue_filters
from pipeline.reference import seeds
from pipeline.reference.catalogue import tables
from pipeline.reference.klass import KlassClient
from pipeline.ssb.errors import SsbRateLimited, SsbUnavailable
from tests.jsonstat_factory import make_doc
from tests.pxweb_fixtures import fast_client, recorded_server

TABLE = "99001"  # the synthetic table of recorded_server(): 144 cells, one extract


def data_posts(server, table_id: str = TABLE) -> list:
    return [r for r in server.requests if r.method == "POST" and f"/table/{table_id}" in r.path]


# --- the HTTP layer: urllib3 retries, the client sends once ------------------------------------------


def test_429_with_retry_after_is_retried_by_urllib3_and_succeeds():
    with recorded_server() as server:
        client = fast_client(server, backoff_factor=0.01)
        client.table_metadata(TABLE)
        server.faults.add(
            kind="status", status=429, retry_after=1, count=1, path="/table/99001", method="POST"
        )
        started = time.monotonic()
        fetch = client.fetch(TABLE)
        assert fetch.cells == 144
        log = data_posts(server)
        assert [r.status for r in log] == [429, 200]  # one retry: two requests in all
        # The backoff is 0.01 s: only the server's Retry-After (1 s) explains the wait.
        assert log[1].at - log[0].at >= 0.9
        assert time.monotonic() - started >= 0.9


def test_503_twice_then_200_takes_exactly_three_requests():
    with recorded_server() as server:
        client = fast_client(server, retries=3)
        client.table_metadata(TABLE)
        server.faults.add(kind="status", status=503, count=2, path="/table/99001", method="POST")
        assert client.fetch(TABLE).cells == 144
        assert [r.status for r in data_posts(server)] == [503, 503, 200]


def test_persistent_500_ends_in_one_line_naming_the_table_and_the_attempts():
    with recorded_server() as server:
        client = fast_client(server, retries=2)
        client.table_metadata(TABLE)
        server.faults.add(kind="status", status=500, count=50, path="/table/99001", method="POST")
        with pytest.raises(SsbUnavailable) as info:
            client.fetch(TABLE)
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith("SSB table 99001: server error after 2 retries (3 attempts)")
        assert "(HTTP 500)" in message
        assert info.value.table_id == TABLE and info.value.status == 500
        assert [r.status for r in data_posts(server)] == [500, 500, 500]


def test_persistent_429_still_ends_in_the_rate_limited_error_naming_the_table():
    with recorded_server() as server:
        client = fast_client(server, retries=1)
        client.table_metadata(TABLE)
        server.faults.add(kind="status", status=429, count=50, path="/table/99001", method="POST")
        with pytest.raises(SsbRateLimited) as info:
            client.fetch(TABLE)
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith("SSB table 99001: still rate limited after 1 retries (2 attempts)")
        assert len(data_posts(server)) == 2


@pytest.mark.slow  # Dagster's resource
def test_statbank_resource_carries_the_retry_settings_to_the_client():
    from orchestration.resources import StatbankResource

    with recorded_server() as server:
        statbank = StatbankResource(
            v0_root=server.v0_root, v2_root=server.v2_root, retries=1, backoff_factor=0.01
        )
        client = statbank.client("")
        client.table_metadata(TABLE)
        server.faults.add(kind="status", status=503, count=50, path="/table/99001", method="POST")
        with pytest.raises(SsbUnavailable, match=r"after 1 retries \(2 attempts\)"):
            client.fetch(TABLE)
        assert len(data_posts(server)) == 2
    defaults = StatbankResource()
    assert (defaults.retries, defaults.backoff_factor) == (5, 1.0)


# --- KLASS: the same rule ----------------------------------------------------------------------------


class _BusyKlass(BaseHTTPRequestHandler):
    """Answers 429 with ``Retry-After: 1`` ``busy`` times, then one municipality."""

    busy = 0
    seen: list[float] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        cls = type(self)
        cls.seen.append(time.monotonic())
        if cls.busy > 0:
            cls.busy -= 1
            status, body, extra = 429, b'{"error": "too many requests"}', {"Retry-After": "1"}
        else:
            code = {"code": "0301", "name": "Oslo", "level": "1", "validFrom": "2020-01-01"}
            status, body, extra = 200, orjson.dumps({"codes": [code]}), {}
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def busy_klass():
    _BusyKlass.busy, _BusyKlass.seen = 1, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BusyKlass)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_klass_client_retries_a_429_after_retry_after(busy_klass):
    codes = KlassClient(busy_klass, backoff_factor=0, timeout=5).codes_at("2024-01-01")
    assert [c.code for c in codes] == ["0301"]
    assert len(_BusyKlass.seen) == 2
    assert _BusyKlass.seen[1] - _BusyKlass.seen[0] >= 0.9


# --- the run layer: Dagster retries the ingest step --------------------------------------------------


@pytest.mark.slow  # Dagster's definitions
def test_ingest_steps_retry_with_backoff_but_carry_no_policy_that_would_retry_a_stop():
    import dagster as dg

    from orchestration.defs.ssb.assets import INGEST_RETRY, ingest_definitions

    assets, _checks = ingest_definitions()
    assert assets
    # Dagster retries a step with a retry policy when it is interrupted (a stop would become a retry).
    assert all(asset.op.retry_policy is None for asset in assets)
    assert INGEST_RETRY.max_retries >= 1 and INGEST_RETRY.delay and INGEST_RETRY.delay > 0
    assert INGEST_RETRY.backoff == dg.Backoff.EXPONENTIAL
    # Jitter is random, so the growth is checked on the same policy without it (CI once drew 37 s then 41 s).
    steady = dg.RetryPolicy(
        max_retries=INGEST_RETRY.max_retries, delay=INGEST_RETRY.delay, backoff=INGEST_RETRY.backoff
    )
    waits = [steady.calculate_delay(n) for n in range(1, INGEST_RETRY.max_retries + 1)]
    assert all(later > earlier * 1.5 for earlier, later in zip(waits, waits[1:], strict=False))


def _doc_13502() -> bytes:
    regions = sorted(set(seeds.all_codes(2021, 2023)))
    dims = {
        "KOKkommuneregion0000": regions,
        "ContentsCode": catalogue_filters()["13502"]["ContentsCode"],
        "Tid": ["2021", "2022", "2023"],
    }
    return make_doc("13502", dims, updated="2024-03-15T07:00:00Z", default=1.0)


@pytest.mark.slow  # a Dagster run
@pytest.mark.parametrize(
    ("fault", "retried"),
    [
        ({"kind": "status", "status": 503}, True),  # the server was away: another run may do
        ({"kind": "truncate"}, True),  # a body cut off after the headers, which urllib3 cannot see
        ({"kind": "status", "status": 400}, False),  # a wrong query stays wrong
    ],
)
def test_dagster_retries_the_ingest_step_that_failed_for_a_transient_reason(
    tmp_path, monkeypatch, fault, retried
):
    import dagster as dg

    import orchestration.defs.ssb.assets as ingest_assets
    from orchestration.resources import HomeResource, StatbankResource

    # The real policy waits 20 s and more; the same rule without the wait.
    monkeypatch.setattr(ingest_assets, "INGEST_RETRY", dg.RetryPolicy(max_retries=1))
    asset, _check = ingest_assets.build_ingest_asset("13502", catalogue_filters()["13502"], tables()["13502"])
    home = Home(tmp_path / "home").ensure()
    with recorded_server(_doc_13502(), max_calls=1000, window_seconds=1) as server:
        server.faults.add(**fault, count=1, path="/table/13502", method="POST")
        result = dg.materialize(
            [asset],
            partition_key="2024-03",
            resources={
                "home": HomeResource(root=str(home.root)),
                # No urllib3 retries, so the fault reaches the step.
                "statbank": StatbankResource(asof_root=server.url, retries=0, backoff_factor=0.01),
            },
            raise_on_error=False,
        )
        posts = [r.fault for r in data_posts(server, "13502")]
    step_retried = any(e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY for e in result.all_events)
    assert step_retried is retried
    assert result.success is retried
    assert posts == ([fault["kind"], None] if retried else [fault["kind"]])


@pytest.mark.slow  # a Dagster run
def test_a_stop_during_the_ingest_step_stops_the_run_instead_of_retrying_it(tmp_path, monkeypatch):
    """SIGINT in the middle of a fetch, as Ctrl+C sends it: Dagster interrupts the step, and the step is not
    put up for retry (it was, while the assets carried a retry policy, and the run then went on)."""
    import os
    import signal

    import dagster as dg

    import orchestration.defs.ssb.assets as ingest_assets
    from orchestration.resources import HomeResource, StatbankResource

    fetches = []

    def interrupted_fetch(*args, **kwargs):
        fetches.append(args[2])
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the interrupt comes in here
        raise AssertionError("the step was not interrupted")

    monkeypatch.setattr(ingest_assets, "ingest_table", interrupted_fetch)
    asset, _check = ingest_assets.build_ingest_asset("13502", catalogue_filters()["13502"], tables()["13502"])
    home = Home(tmp_path / "home").ensure()
    instance = dg.DagsterInstance.ephemeral()
    started = time.monotonic()
    with recorded_server(_doc_13502()) as server:
        try:
            result = dg.materialize(
                [asset],
                partition_key="2024-03",
                instance=instance,
                resources={
                    "home": HomeResource(root=str(home.root)),
                    "statbank": StatbankResource(asof_root=server.url, retries=0),
                },
                raise_on_error=False,
            )
            assert not result.success
        except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError):
            pass  # how far the interrupt travels is Dagster's; that the step stopped is what counts
    assert time.monotonic() - started < 4
    assert fetches == ["13502"]  # once: no second attempt
    (run,) = instance.get_runs()
    events = {e.dagster_event.event_type for e in instance.all_logs(run.run_id) if e.dagster_event}
    assert dg.DagsterEventType.STEP_UP_FOR_RETRY not in events
    assert dg.DagsterEventType.STEP_FAILURE in events
