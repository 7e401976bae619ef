"""Fetch tables from SSB's statbank (PxWebApi v0 and v2) completely, politely and verifiably.

One :class:`SsbClient` reads the API's limits, resolves a selection against the table's metadata, splits it
into extracts under the cell limit, throttles every request (retries included) to the per-IP call limit,
and returns every part of a fetch or raises: a fetch is never partial, and all its parts carry the same
``updated`` stamp. Retries are urllib3's alone (5xx, 429 after ``Retry-After``, time-outs, dropped connections:
the rule in :mod:`pipeline.http`); the client adds no loop of its own, and a body cut off after the headers
fails the call at once (the orchestrator's retry policy runs the fetch again).

The same client talks to the local PxWebApi server (:mod:`pipeline.demo.server`) in the demo and the tests:
only the roots differ.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from pipeline import config, timestamps
from pipeline.http import DEFAULT_BACKOFF_MAX, attempts_made, http_retry, mount_retry
from pipeline.raw.jsonstat import Dataset, JsonStatError, decode
from pipeline.ssb.errors import (
    SsbBadResponse,
    SsbBadTableId,
    SsbError,
    SsbNoSuchTable,
    SsbNotFound,
    SsbQueryError,
    SsbRateLimited,
    SsbTableChanged,
    SsbTooManyCells,
    SsbUnavailable,
    SsbUnreachable,
    SsbUrlTooLong,
)
from pipeline.ssb.query import cell_count, resolve_selection, split_selection, v0_query, v2_body, v2_params
from pipeline.ssb.throttle import RateLimiter, ThrottledRetry, host_key, limiter_for

__all__ = [
    "ApiLimits",
    "Fetch",
    "FetchedPart",
    "SsbClient",
    "TableInfo",
    "TableMetadata",
    "Variable",
    "live_roots",
    "parse_rate_policy",
    "parse_time",
    "worth_another_run",
]

# Environment overrides of SSB's roots (pipeline.config holds the defaults): a proxy, a mirror, a test.
V0_ROOT_ENV = "KOSTRA_SSB_V0_ROOT"
V2_ROOT_ENV = "KOSTRA_SSB_V2_ROOT"

DEFAULT_LIMITS = (800_000, 30, 60.0)
# SSB answers 404 to GET URLs longer than about 2,100 characters; stay clear of it.
MAX_GET_URL = 2000
_USER_AGENT = "kostra-warehouse/0.1 (+https://github.com/; python-requests)"


@dataclass(frozen=True)
class ApiLimits:
    """What the server allows: cells per extract, and calls per rolling window of ``window_seconds``."""

    max_cells: int
    max_calls: int
    window_seconds: float


@dataclass(frozen=True)
class Variable:
    """One table variable (dimension) from the v0 metadata."""

    code: str
    text: str
    values: list[str]
    value_texts: list[str]
    time: bool = False
    elimination: bool = False


@dataclass(frozen=True)
class TableMetadata:
    table_id: str
    title: str
    updated: datetime | None
    variables: list[Variable]

    def variable(self, code: str) -> Variable:
        for var in self.variables:
            if var.code == code:
                return var
        raise KeyError(f"table {self.table_id}: no variable {code!r}")


@dataclass(frozen=True)
class TableInfo:
    """A v2 table record (``GET /tables/{id}``, or one hit of a table search)."""

    id: str
    label: str
    updated: datetime | None
    first_period: str | None
    last_period: str | None
    discontinued: bool = False


@dataclass(frozen=True)
class FetchedPart:
    """One extract, byte-for-byte as the server sent it."""

    query: dict
    body: bytes
    cells: int
    url: str
    method: str
    newest_period: str | None
    updated: datetime | None = None


@dataclass(frozen=True)
class Fetch:
    """Every part of one selection from one table, all from the same release (``updated``)."""

    table_id: str
    updated: datetime | None
    parts: list[FetchedPart] = field(default_factory=list)

    @property
    def cells(self) -> int:
        return sum(p.cells for p in self.parts)


def live_roots() -> tuple[str, str]:
    """SSB's (v0, v2) roots: ``$KOSTRA_SSB_V0_ROOT`` / ``$KOSTRA_SSB_V2_ROOT`` if set, else pipeline.config's."""
    return (
        os.environ.get(V0_ROOT_ENV) or config.SSB_V0_ROOT,
        os.environ.get(V2_ROOT_ENV) or config.SSB_V2_ROOT,
    )


_POLICY = re.compile(r"^\s*(\d+)\s*;\s*w\s*=\s*(\d+(?:\.\d+)?)\s*s?\s*(?:;.*)?$", re.IGNORECASE)


def parse_rate_policy(value: str | None) -> tuple[int, float] | None:
    """``x-ratelimit-policy: 40;w=60s`` (as SSB sends it; ``w=60`` too) as (calls, window seconds)."""
    if not value:
        return None
    # Several policies may be listed; the first is the one that binds per window.
    m = _POLICY.match(str(value).split(",")[0])
    if not m:
        return None
    calls, window = int(m.group(1)), float(m.group(2))
    return (calls, window) if calls > 0 and window > 0 else None


def _stricter(a: tuple[float, float] | None, b: tuple[float, float] | None) -> tuple[float, float] | None:
    """Of two (calls, window) limits, the one allowing fewer calls per second."""
    if a is None or b is None:
        return a or b
    return a if a[0] / a[1] <= b[0] / b[1] else b


def parse_time(text: str | None) -> datetime | None:
    """An SSB timestamp (``2021-06-13T22:00:00Z``) as an aware UTC datetime (:mod:`pipeline.timestamps`)."""
    return timestamps.parse(text)


class _ThrottledAdapter(HTTPAdapter):
    """Takes a slot in the host's limiter for each request; ``ThrottledRetry`` does the same per retry."""

    def __init__(self, limiter: RateLimiter, retry: ThrottledRetry) -> None:
        self.limiter = limiter
        super().__init__(max_retries=retry)

    def send(self, request, *args, **kwargs):  # noqa: ANN001 - requests' own signature
        self.limiter.acquire()
        try:
            return super().send(request, *args, **kwargs)
        finally:
            self.limiter.release()


class SsbClient:
    """A client for SSB's statbank (or any PxWebApi server with the same paths)."""

    def __init__(
        self,
        v0_root: str | None = None,
        v2_root: str | None = None,
        *,
        language: str = "no",
        timeout: float = 60,
        connect_timeout: float | None = None,
        retries: int = 5,
        backoff_factor: float = 1.0,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
        progress: bool | None = None,
        max_get_url: int = MAX_GET_URL,
        metadata_ttl: float = 120.0,
    ) -> None:
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries!r}")
        default_v0, default_v2 = live_roots()
        self.v0_root = (v0_root or default_v0).rstrip("/")
        self.v2_root = (v2_root or default_v2).rstrip("/")
        self.language = language
        # (connect, read): a host that cannot be reached should not cost a whole read timeout.
        self.timeout = (connect_timeout, timeout) if connect_timeout else timeout
        self._header_rate: tuple[int, float] | None = None  # from x-ratelimit-policy
        self._config_rate: tuple[float, float] | None = None  # from the config endpoints
        self.retries = retries
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self.max_get_url = max_get_url
        self.metadata_ttl = metadata_ttl
        self._metadata: dict[str, tuple[float, TableMetadata]] = {}
        self.progress = sys.stderr.isatty() if progress is None else bool(progress)
        self._limits: ApiLimits | None = None
        self._tables_done = 0
        self._tables_total = 0

        self._session = requests.Session()
        self._session.headers.update({"User-Agent": _USER_AGENT, "Accept": "application/json"})
        self._limiters: dict[str, RateLimiter] = {}
        for root in (self.v0_root, self.v2_root):
            key = host_key(root)
            if key in self._limiters:
                continue
            limiter = self._limiters[key] = limiter_for(root)
            # The one retry rule (pipeline.http), each retry waiting for a slot in the host's limiter.
            retry = http_retry(
                retries,
                backoff_factor=backoff_factor,
                backoff_max=backoff_max,
                retry_class=ThrottledRetry,
                limiter=limiter,
            )
            mount_retry(self._session, retry, [key + "/"], _ThrottledAdapter(limiter, retry))

    # --- lifecycle ------------------------------------------------------------------------------------

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> SsbClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- HTTP -----------------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        url: str,
        *,
        table_id: str | None = None,
        query: Any = None,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> tuple[requests.Response, Any]:
        """One logical request; returns the response and its parsed JSON, or raises a typed SsbError.

        Every retry happens inside the session (urllib3's ``Retry``: statuses, time-outs, connection errors);
        this method sends once and classifies what came back. A body cut off after the headers, or one that
        is not JSON, is only visible here and fails at once as :class:`SsbBadResponse`.
        """
        shown_query = query if query is not None else (dict(params) if params else None)
        try:
            # Redirects are not followed: an answer from another host is not SSB's (see below).
            resp = self._session.request(
                method, url, params=params, json=json_body, timeout=self.timeout, allow_redirects=False
            )
        except (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            raise SsbBadResponse(
                f"the response body was cut off ({exc.__class__.__name__})",
                table_id=table_id,
                query=shown_query,
                url=url,
            ) from exc
        except requests.exceptions.RequestException as exc:
            unreachable = _unreachable_reason(exc)
            if unreachable:
                raise SsbUnreachable(
                    f"cannot reach {_host(url)}: {unreachable}. {_what_to_check(url)}",
                    table_id=table_id,
                    url=url,
                ) from exc
            raise SsbUnavailable(
                f"no answer after {self.retries} retries: {_root_cause(exc)}",
                table_id=table_id,
                query=shown_query,
                url=url,
            ) from exc
        self._note_rate_headers(resp)
        if resp.is_redirect:
            target = resp.headers.get("Location", "")
            raise SsbBadResponse(
                f"the server redirected to {target!r} (HTTP {resp.status_code}); redirects are not "
                f"followed, so nothing is taken as SSB's answer that {_host(url)} did not send itself",
                table_id=table_id,
                query=shown_query,
                url=url,
            )
        if resp.status_code != 200:
            raise _status_error(resp, table_id=table_id, query=shown_query, retries=self.retries)
        try:
            return resp, orjson.loads(resp.content)
        except orjson.JSONDecodeError as exc:
            what = (
                "an HTML page, not JSON (a login page or a proxy between us and the statbank?)"
                if _is_html(resp)
                else "not valid JSON"
            )
            raise SsbBadResponse(
                f"the response is {what} ({len(resp.content)} bytes: {exc})",
                table_id=table_id,
                query=shown_query,
                url=url,
            ) from exc

    # --- limits ---------------------------------------------------------------------------------------

    def limits(self) -> ApiLimits:
        """The server's limits from its config endpoints (v2 first, then v0) and its ``x-ratelimit-policy``
        response header (the stricter of the two), SSB's documented 30 calls a minute otherwise.

        SSB's v2 config reports 0 for the call limit and announces it in the response headers instead;
        0 or a missing field means "not stated", never "no limit". Raises :class:`SsbUnreachable` when the
        server cannot be reached at all.
        """
        if self._limits is not None:
            return self._limits
        cells: float | None = None
        rate: tuple[float, float] | None = None
        for url, cells_keys, calls_key in (
            (f"{self.v2_root}/config", ("maxDataCells",), "maxCallsPerTimeWindow"),
            (f"{self.v0_root}/?config", ("maxValues", "maxCells"), "maxCalls"),
        ):
            if cells is not None and rate is not None:
                break
            try:
                _, doc = self._call("GET", url)
                found_cells = next((c for c in (_positive(doc.get(k)) for k in cells_keys) if c), None)
                calls, window = _positive(doc.get(calls_key)), _positive(doc.get("timeWindow"))
            except SsbUnreachable:
                raise
            except (SsbError, AttributeError):
                continue
            cells = cells or found_cells
            # Calls and window belong together: never pair one endpoint's count with another's window.
            if rate is None and calls and window:
                rate = (calls, window)
        self._config_rate = rate
        calls, window = _stricter(rate, self._header_rate) or DEFAULT_LIMITS[1:]
        self._limits = ApiLimits(int(cells or DEFAULT_LIMITS[0]), int(calls), float(window))
        for limiter in self._limiters.values():
            limiter.configure(self._limits.max_calls, self._limits.window_seconds)
        return self._limits

    def _note_rate_headers(self, resp: requests.Response) -> None:
        """Adopt the call limit a response announces (``x-ratelimit-policy``), if it is new."""
        policy = parse_rate_policy(resp.headers.get("x-ratelimit-policy"))
        if policy is None or policy == self._header_rate:
            return
        self._header_rate = policy
        if self._limits is None:
            return  # limits() combines it with the config when it finishes
        calls, window = _stricter(self._config_rate, policy) or policy
        self._limits = ApiLimits(self._limits.max_cells, int(calls), float(window))
        for limiter in self._limiters.values():
            limiter.configure(self._limits.max_calls, self._limits.window_seconds)

    def table_info(self, table_id: str) -> TableInfo:
        """The v2 table record (``GET /tables/{id}``): label, ``updated``, first and last period, and
        whether SSB has discontinued the table. Raises :class:`SsbNoSuchTable` if there is no such table."""
        table_id = _check_table_id(table_id)
        self.limits()
        url = f"{self.v2_root}/tables/{table_id}"
        try:
            _, doc = self._call("GET", url, table_id=table_id, params={"lang": self.language})
        except SsbNotFound as exc:
            if isinstance(exc, SsbNoSuchTable):
                raise
            raise SsbNoSuchTable(exc.reason, table_id=table_id, url=exc.url, status=exc.status) from exc
        try:
            return _table_info(doc)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise SsbBadResponse(
                f"a table record that cannot be read: {exc!r}", table_id=table_id, url=url
            ) from exc

    # --- metadata and search --------------------------------------------------------------------------

    def table_metadata(self, table_id: str) -> TableMetadata:
        """Variables and values (v0), and the release stamp ``updated`` (v2; None if v2 lacks the table).

        Kept for ``metadata_ttl`` seconds, so the usual "look at the metadata, then fetch" costs its two
        calls once. A release published in between is still caught: the data parts carry their own stamp.
        """
        table_id = _check_table_id(table_id)
        cached = self._metadata.get(table_id)
        if cached and time.monotonic() - cached[0] < self.metadata_ttl:
            return cached[1]
        meta = self._read_metadata(table_id)
        self._metadata[table_id] = (time.monotonic(), meta)
        return meta

    def _read_metadata(self, table_id: str) -> TableMetadata:
        self.limits()
        url = f"{self.v0_root}/{self.language}/table/{table_id}"
        _, doc = self._call("GET", url, table_id=table_id)
        try:
            variables = [
                Variable(
                    code=str(v["code"]),
                    text=str(v.get("text", v["code"])),
                    values=[str(x) for x in v["values"]],
                    value_texts=[str(x) for x in v.get("valueTexts", v["values"])],
                    time=bool(v.get("time", False)),
                    elimination=bool(v.get("elimination", False)),
                )
                for v in doc["variables"]
            ]
            title = str(doc.get("title", ""))
        except (KeyError, TypeError) as exc:
            raise SsbBadResponse(
                f"metadata without variables/code/values: {exc!r}", table_id=table_id, url=url
            ) from exc
        prefix = f"{table_id}:"
        if title.startswith(prefix):
            title = title[len(prefix) :].strip()
        try:
            updated = self.table_updated(table_id)
        except SsbNotFound:
            updated = None
        return TableMetadata(table_id=table_id, title=title, updated=updated, variables=variables)

    def table_updated(self, table_id: str) -> datetime:
        """When the table was last published (v2 metadata ``updated``)."""
        table_id = _check_table_id(table_id)
        self.limits()
        url = f"{self.v2_root}/tables/{table_id}/metadata"
        _, doc = self._call(
            "GET", url, table_id=table_id, params={"lang": self.language, "outputFormat": "json-stat2"}
        )
        try:
            updated = parse_time(doc.get("updated"))
        except (AttributeError, ValueError) as exc:
            raise SsbBadResponse(
                f"metadata with an unreadable 'updated': {exc}", table_id=table_id, url=url
            ) from exc
        if updated is None:
            raise SsbBadResponse("metadata without 'updated'", table_id=table_id, url=url)
        return updated

    def search_tables(self, query: str | None = None, past_days: int | None = None) -> list[TableInfo]:
        """Tables matching ``query`` and/or updated within ``past_days`` days (v2 ``tables``, every page)."""
        self.limits()
        found: list[TableInfo] = []
        page = 1
        while True:
            params = {"lang": self.language, "pageNumber": str(page)}
            if query:
                params["query"] = query
            if past_days is not None:
                params["pastdays"] = str(int(past_days))
            url = f"{self.v2_root}/tables"
            _, doc = self._call("GET", url, params=params)
            try:
                tables = doc.get("tables") or []
                found.extend(_table_info(t) for t in tables)
                total_pages = int((doc.get("page") or {}).get("totalPages") or 1)
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                raise SsbBadResponse(
                    f"a table search page that cannot be read: {exc!r}", query=params, url=url
                ) from exc
            if not tables or page >= total_pages:
                return found
            page += 1

    # --- data -----------------------------------------------------------------------------------------

    def fetch(
        self,
        table_id: str,
        selection: Mapping[str, Sequence[str] | str] | None = None,
        *,
        api: str = "v0",
        eliminate: Sequence[str] = (),
    ) -> Fetch:
        """Every cell of ``selection`` (None: the whole table), split under the cell limit.

        Variables in ``eliminate`` are left out of the query, so SSB answers with their sum (only where
        the metadata allows elimination). Raises :class:`SsbError` if any part fails, and :class:`SsbTableChanged` if the parts come from
        different releases; never returns a partial result.
        """
        if api not in ("v0", "v2"):
            raise ValueError(f"api must be 'v0' or 'v2', not {api!r}")
        table_id = _check_table_id(table_id)
        limits = self.limits()
        meta = self.table_metadata(table_id)
        try:
            resolved = resolve_selection(table_id, meta.variables, selection, eliminate)
        except ValueError as exc:
            raise SsbQueryError(str(exc), table_id=table_id, query=dict(selection or {})) from exc
        pieces = split_selection(resolved, limits.max_cells)
        time_code = next((v.code for v in meta.variables if v.time), "Tid" if "Tid" in resolved else None)

        parts: list[FetchedPart] = []
        with self._progress(table_id, len(pieces), cell_count(resolved)) as advance:
            for piece in pieces:
                part = self._fetch_part(table_id, piece, api, time_code)
                parts.append(part)
                advance(part.cells)

        stamps = {p.updated for p in parts}
        if len(stamps) > 1:
            shown = sorted(s.isoformat() if s else "none" for s in stamps)
            raise SsbTableChanged(
                f"the {len(parts)} parts come from different releases (updated {', '.join(shown)}); "
                "SSB published while we fetched, so the result is discarded, fetch again",
                table_id=table_id,
                query=dict(selection or {}),
            )
        updated = parts[0].updated if parts and parts[0].updated else meta.updated
        return Fetch(table_id=table_id, updated=updated, parts=parts)

    def _fetch_part(
        self, table_id: str, piece: dict[str, list[str]], api: str, time_code: str | None
    ) -> FetchedPart:
        expected = cell_count(piece)
        if api == "v0":
            url = f"{self.v0_root}/{self.language}/table/{table_id}"
            query = v0_query(piece)
            method = "POST"
            resp, doc = self._call("POST", url, table_id=table_id, query=query, json_body=query)
        else:
            base = f"{self.v2_root}/tables/{table_id}/data"
            params = v2_params(piece, language=self.language)
            get_url = requests.Request("GET", base, params=params).prepare().url or base
            if len(get_url) <= self.max_get_url:
                url, query, method = get_url, params, "GET"
                resp, doc = self._call("GET", base, table_id=table_id, query=query, params=params)
            else:
                url = f"{base}?lang={self.language}&outputFormat=json-stat2"
                query, method = v2_body(piece), "POST"
                resp, doc = self._call("POST", url, table_id=table_id, query=query, json_body=query)
        if not isinstance(doc, dict) or doc.get("class") != "dataset":
            raise SsbBadResponse(
                "the response is not a JSON-stat2 dataset", table_id=table_id, query=query, url=url
            )
        try:
            cells = 1
            for size in doc["size"]:
                cells *= int(size)
            updated = parse_time(doc.get("updated"))
        except (KeyError, TypeError, ValueError) as exc:
            raise SsbBadResponse(
                f"a dataset without a readable size/updated: {exc!r}", table_id=table_id, query=query, url=url
            ) from exc
        if cells != expected:
            raise SsbBadResponse(
                f"asked for {expected} cells but the response has {cells}",
                table_id=table_id,
                query=query,
                url=url,
            )
        problem = answer_mismatch(doc, table_id, piece, time_code)
        if problem:
            raise SsbBadResponse(problem, table_id=table_id, query=query, url=url)
        newest = max(piece[time_code]) if time_code and piece.get(time_code) else None
        return FetchedPart(
            query=query,
            body=resp.content,
            cells=cells,
            url=url,
            method=method,
            newest_period=newest,
            updated=updated,
        )

    # --- progress -------------------------------------------------------------------------------------

    def _progress(self, table_id: str, n_parts: int, n_cells: int):
        self._tables_total += 1
        if not self.progress:
            return _Quiet(self)
        return _RichProgress(self, table_id, n_parts, n_cells)


def answer_mismatch(
    doc: dict, table_id: str, piece: Mapping[str, Sequence[str]], time_code: str | None
) -> str:
    """Why a response is not the answer to ``piece`` of ``table_id`` ('' when it is).

    Checked before a part counts as fetched: the document decodes strictly (the value array has the declared
    length and only numbers or nulls), it names the table asked for, its dimensions and codes are the ones
    asked for, and its periods are plausible (from 2000 to next year)."""
    try:
        ds = decode(doc)
    except JsonStatError as exc:
        return f"the response is not a whole JSON-stat2 dataset: {exc}"
    return dataset_mismatch(ds, table_id, piece, time_code)


def dataset_mismatch(
    ds: Dataset, table_id: str, piece: Mapping[str, Sequence[str]], time_code: str | None
) -> str:
    """:func:`answer_mismatch` on a document already decoded (the raw load checks each landed object so)."""
    if ds.table_id != table_id:
        return f"the response is table {ds.table_id or '(none named)'}, not {table_id}"
    got = {d.id: d.codes for d in ds.dimensions}
    if set(got) != set(piece):
        return f"the response has dimensions {sorted(got)}, the query asked for {sorted(piece)}"
    for dim_id, codes in piece.items():
        if set(got[dim_id]) != set(codes):
            extra = sorted(set(got[dim_id]) - set(codes))[:5]
            missing = sorted(set(codes) - set(got[dim_id]))[:5]
            return f"dimension {dim_id}: codes differ from the query (extra {extra}, missing {missing})"
    if time_code and time_code in got:
        last = datetime.now(UTC).year + 1
        odd = [c for c in got[time_code] if not (c[:4].isdigit() and 2000 <= int(c[:4]) <= last)]
        if odd:
            return f"implausible periods {odd[:5]} (expected years 2000-{last})"
    return ""


class _Quiet:
    """No display; still counts finished tables."""

    def __init__(self, client: SsbClient) -> None:
        self.client = client

    def __enter__(self):
        return lambda cells: None

    def __exit__(self, exc_type, *rest) -> None:  # noqa: ANN001
        if exc_type is None:
            self.client._tables_done += 1


class _RichProgress:
    """Live counters on stderr: tables, requests and cells of the fetch in progress."""

    def __init__(self, client: SsbClient, table_id: str, n_parts: int, n_cells: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.client = client
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.tables = self.progress.add_task(
            f"tabeller (nå {table_id})", total=client._tables_total, completed=client._tables_done
        )
        self.requests = self.progress.add_task("spørringer", total=n_parts)
        self.cells = self.progress.add_task("celler", total=n_cells)

    def __enter__(self):
        self.progress.start()

        def advance(cells: int) -> None:
            self.progress.advance(self.requests)
            self.progress.advance(self.cells, cells)

        return advance

    def __exit__(self, exc_type, *rest) -> None:  # noqa: ANN001
        if exc_type is None:
            self.client._tables_done += 1
            self.progress.update(self.tables, completed=self.client._tables_done)
        self.progress.stop()


# --- helpers -----------------------------------------------------------------------------------------


def _check_table_id(table_id: str) -> str:
    table_id = str(table_id).strip()
    if not table_id or not table_id.isalnum():
        raise SsbBadTableId(f"not a statbank table id: {table_id!r} (expected e.g. '12367')", table_id=None)
    return table_id


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _root_cause(exc: BaseException) -> str:
    """The innermost reason (e.g. 'Read timed out') rather than requests' nested wrapper text."""
    seen = exc
    while True:
        reason = getattr(seen, "reason", None)
        inner = reason if isinstance(reason, BaseException) else None
        if inner is None and seen.args and isinstance(seen.args[0], BaseException):
            inner = seen.args[0]
        if inner is None or inner is seen:
            return f"{seen.__class__.__name__}: {seen}"
        seen = inner


def _table_info(t: Mapping[str, Any]) -> TableInfo:
    return TableInfo(
        id=str(t["id"]),
        label=str(t.get("label", "")),
        updated=parse_time(t.get("updated")),
        first_period=t.get("firstPeriod"),
        last_period=t.get("lastPeriod"),
        # PxWebApi 2 allows null ("not stated"): only an explicit true means discontinued.
        discontinued=t.get("discontinued") is True,
    )


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _what_to_check(url: str) -> str:
    return (
        "Check the network connection, any proxy (HTTPS_PROXY/HTTP_PROXY), and the statbank roots "
        f"{V0_ROOT_ENV}/{V2_ROOT_ENV} (default {_host(config.SSB_V2_ROOT)})"
    )


def _unreachable_reason(exc: BaseException) -> str | None:
    """'the host name does not resolve' etc. when no connection could be made at all, else None."""
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

    seen: BaseException | None = exc
    chain = []
    while seen is not None and seen not in chain:
        chain.append(seen)
        reason = getattr(seen, "reason", None)
        nxt = reason if isinstance(reason, BaseException) else None
        if nxt is None and seen.args and isinstance(seen.args[0], BaseException):
            nxt = seen.args[0]
        seen = nxt or seen.__cause__ or seen.__context__
    for err in chain:
        if isinstance(err, NameResolutionError):
            return "the host name does not resolve (DNS)"
        if isinstance(err, ConnectionRefusedError) or "refused" in str(err).lower():
            return "the connection was refused"
        if isinstance(err, NewConnectionError):
            return f"no connection could be made ({err.__class__.__name__})"
    for err in chain:
        if isinstance(err, (ConnectTimeoutError, requests.exceptions.ConnectTimeout)):
            return "the connection timed out"
    return None


def _ssb_title(resp: requests.Response) -> tuple[str | None, int | None]:
    """SSB's v2 error body ``{"type": "Parameter error", "title": …, "status": …}``: (title, status)."""
    try:
        doc = orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(doc, dict) or not isinstance(doc.get("title"), str):
        return None, None
    inner = doc.get("status")
    return doc["title"], inner if isinstance(inner, int) else None


def _is_html(resp: requests.Response) -> bool:
    kind = resp.headers.get("Content-Type", "").lower()
    head = resp.content[:200].lstrip().lower()
    return "html" in kind or head.startswith((b"<!doctype html", b"<html"))


# What a body cut off after the headers looks like: the only failure urllib3's Retry cannot see.
_BROKEN_BODY = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    orjson.JSONDecodeError,
)


def worth_another_run(exc: BaseException) -> bool:
    """Whether a failed call may succeed if the whole fetch runs again later (the orchestrator's retry).

    True for a server that stayed busy or away through every urllib3 retry (:class:`SsbUnavailable`,
    :class:`SsbRateLimited`) and for a body cut off mid-transfer; False for a wrong query, a missing table
    or an answer that is whole but wrong, which another run would only repeat.
    """
    if isinstance(exc, (SsbUnavailable, SsbRateLimited)):
        return True
    return isinstance(exc, SsbBadResponse) and isinstance(exc.__cause__, _BROKEN_BODY)


def _after_retries(resp: requests.Response, retries: int) -> str:
    """'after 2 retries (3 attempts)': what urllib3 actually sent, the configured count if it cannot tell."""
    attempts = attempts_made(resp)
    if attempts is None:
        return f"after {retries} retries"
    return f"after {attempts - 1} retries ({attempts} attempt{'s' if attempts != 1 else ''})"


def _status_error(resp: requests.Response, *, table_id: str | None, query: Any, retries: int) -> SsbError:
    status = resp.status_code
    url = resp.url
    if status == 404 and _is_html(resp):
        method = resp.request.method if resp.request is not None else "GET"
        if method == "GET" and len(url) > MAX_GET_URL:
            return SsbUrlTooLong(
                f"URL too long: SSB's front end answered its HTML 404 page to a GET URL of {len(url):,} "
                f"characters (the limit is about 2,100); send the query by POST",
                table_id=table_id,
                query=query,
                url=url,
                status=status,
            )
        return SsbNotFound(
            "not found: the server answered an HTML page, not an API response; check the API root URL",
            table_id=table_id,
            query=query,
            url=url,
            status=status,
        )
    title, inner = _ssb_title(resp) if resp.content else (None, None)
    if status == 400 and title:
        kind: type[SsbError] = SsbQueryError
        if title == "Non-existent table" or inner == 404:
            kind = SsbNoSuchTable
        elif title == "Too many cells selected":
            kind = SsbTooManyCells
        return kind(f"SSB refused the query: {title}", table_id=table_id, query=query, url=url, status=status)
    text = resp.text.strip().replace("\n", " ")[:300] if resp.content else ""
    said = f": {text}" if text else ""
    if status == 400:
        return SsbQueryError(
            f"the server rejected the query{said}", table_id=table_id, query=query, url=url, status=status
        )
    if status == 403:
        return SsbTooManyCells(
            f"the extract is larger than the server allows{said}",
            table_id=table_id,
            query=query,
            url=url,
            status=status,
        )
    if status == 404:
        return SsbNotFound(f"not found{said}", table_id=table_id, query=query, url=url, status=status)
    if status == 429:
        return SsbRateLimited(
            f"still rate limited {_after_retries(resp, retries)}{said}",
            table_id=table_id,
            query=query,
            url=url,
            status=status,
        )
    if status >= 500:
        return SsbUnavailable(
            f"server error {_after_retries(resp, retries)}{said}",
            table_id=table_id,
            query=query,
            url=url,
            status=status,
        )
    return SsbError(f"unexpected answer{said}", table_id=table_id, query=query, url=url, status=status)
