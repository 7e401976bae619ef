"""Faults from the statbank: the local PxWebApi server (:mod:`pipeline.demo.server`) misbehaves, the fetch runs.

The home has one release of table 13502 landed, loaded and published; the server has the next release. For
every fault (:data:`FAULTS`) and every place it can hit (:data:`TARGETS`: the data request of a one-part
fetch, the second part of a three-part fetch, the v0 metadata, the v2 table record) a copy of the home fetches
the table (``pipeline.landing.ingest.ingest_table``, as ``kostra fetch`` and the ingest assets do) and loads
what landed into the build file (``load_pending``, as the build does). A case is *handled* when the fault was
really served and the fetch ended as the fault's kind says it must:

- a fault that goes away after one try (429 with and without ``Retry-After``, 500/502/503, a time-out, a
  connection reset) ends in *correct data*: the build file's cells of the new release are exactly the server's
  (region, code, period, value, status), from one complete fetch;
- every other fault ends in a *clear error*: an error of the pipeline's own kinds (shown as one line by the
  CLI), naming the table, on one line; nothing of the new release landed or loaded;

and, in both cases, the published warehouse is byte for byte what it was and no temporary file is left.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from bench.proof import Clock, SuiteResult, cached_catalogue, leftovers, sha

TABLE = "13502"
REGIONS = ["0301", "4601", "3201", "1103", "5001", "EAK"]
OLD_RELEASE = "2025-03-17T07:00:00Z"
NEW_RELEASE = "2026-03-16T07:00:00Z"
TIMEOUT = 0.6  # the client's read timeout; a 'hang' fault waits longer than this
RETRIES = 2


@dataclass(frozen=True)
class Case:
    name: str
    fault: dict
    expect: str  # "data" or "error"
    data_only: bool = False  # the fault changes a dataset document: it means nothing on metadata
    multipart_only: bool = False


def _faults() -> list[Case]:
    once = {"count": 1}
    always = {"count": 50}
    transient = [
        ("429 with Retry-After", {"kind": "status", "status": 429, "retry_after": 1}),
        ("429 without Retry-After", {"kind": "status", "status": 429}),
        ("500", {"kind": "status", "status": 500}),
        ("502", {"kind": "status", "status": 502}),
        ("503", {"kind": "status", "status": 503}),
        ("time-out", {"kind": "hang", "seconds": TIMEOUT * 3}),
        ("connection reset", {"kind": "reset"}),
    ]
    cases = [Case(f"{name}, once", {**f, **once}, "data") for name, f in transient]
    cases += [Case(f"{name}, every try", {**f, **always}, "error") for name, f in transient]
    bad = [
        ("body cut off (connection dropped)", {"kind": "truncate", "length": "full"}, False),
        ("body cut off (short Content-Length)", {"kind": "truncate", "length": "short"}, False),
        (
            "malformed JSON",
            {"kind": "body", "body": '{"version": "2.0", "class": "dataset", "value": [1, 2,'},
            False,
        ),
        ("valid JSON, not JSON-stat (object)", {"kind": "body", "body": '{"tables": [], "page": {}}'}, False),
        ("valid JSON, not JSON-stat (array)", {"kind": "body", "body": "[1, 2, 3]"}, False),
        ("403 too many cells", {"kind": "status", "status": 403}, False),
        ("HTML with 200", {"kind": "html"}, False),
        ("off-host redirect", {"kind": "redirect"}, False),
        ("size/value mismatch", {"kind": "mutate", "mutation": "short_values"}, True),
        ("a value that is a string", {"kind": "mutate", "mutation": "string_value"}, True),
        ("changed dimensions", {"kind": "mutate", "mutation": "renamed_dimension"}, True),
        ("codes not asked for", {"kind": "mutate", "mutation": "changed_codes"}, True),
        ("another table's document", {"kind": "mutate", "mutation": "other_table"}, True),
    ]
    cases += [Case(name, {**f, **once}, "error", data_only=d) for name, f, d in bad]
    cases.append(
        Case(
            "release changed between parts",
            {"kind": "updated", "updated": "2026-03-17T07:00:00Z", **once},
            "error",
            data_only=True,
            multipart_only=True,
        )
    )
    return cases


FAULTS = _faults()


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    method: str
    skip: int = 0
    parts: int = 1
    data: bool = True


TARGETS = [
    Target("data, one part", f"/table/{TABLE}", "POST"),
    Target("data, part 2 of 3", f"/table/{TABLE}", "POST", skip=1, parts=3),
    Target("v0 metadata", f"/table/{TABLE}", "GET", data=False),
    Target("v2 table record", f"/tables/{TABLE}", "GET", data=False),
]
SIZES = {"small": TARGETS[:1], "full": TARGETS}


@dataclass
class Fixture:
    base: Path
    published_sha: str
    truth: set[tuple]
    docs: dict[str, bytes] = field(default_factory=dict)


def _doc(updated: str, years: list[str], shift: float) -> bytes:
    from pipeline.landing.ingest import catalogue_filters
    from tests.jsonstat_factory import make_doc

    contents = catalogue_filters()[TABLE]["ContentsCode"]
    dims = {"KOKkommuneregion0000": REGIONS, "ContentsCode": contents, "Tid": years}
    values = {}
    status = {}
    for r, region in enumerate(REGIONS):
        for c, code in enumerate(contents):
            for y, year in enumerate(years):
                if (r + c + y) % 7 == 3:
                    status[(region, code, year)] = ":"  # suppressed, as SSB sends some
                else:
                    values[(region, code, year)] = round(10 + r * 3.5 + c * 0.25 + y + shift, 1)
    return make_doc(TABLE, dims, values, status, updated=updated)


def _truth(body: bytes, period: str) -> set[tuple]:
    from pipeline.raw.jsonstat import decode

    cells = decode(body).cells.to_pylist()
    return {
        (c["KOKkommuneregion0000"], c["ContentsCode"], c["Tid"], c["value"], c["status"])
        for c in cells
        if c["Tid"] == period
    }


def _fixture(workdir: Path) -> Fixture:
    """A home with the old release landed, loaded and published (raw cells only: no dbt needed here)."""
    from pipeline.config import Home
    from pipeline.landing.ingest import ingest_files
    from pipeline.landing.store import LandingStore
    from pipeline.publish.warehouse import publish
    from pipeline.raw.load import connect, load_pending

    base = workdir / "base"
    home = Home(base).ensure()
    old = workdir / "old.json"
    old.write_bytes(_doc(OLD_RELEASE, ["2023", "2024"], 0.0))
    store = LandingStore(home.landing)
    ingest_files(store, [old])
    con = connect(home.build_db)
    try:
        load_pending(con, store)
    finally:
        con.close()
    publish(home)
    new = _doc(NEW_RELEASE, ["2024", "2025"], 100.0)
    return Fixture(base, sha(home.published_db) or "", _truth(new, "2025"), {"new": new})


def _new_cells(home) -> set[tuple]:
    con = duckdb.connect(str(home.build_db), read_only=True)
    try:
        rows = con.execute(
            "select region_code, contents_code, period, value, status from raw.cells "
            "where table_id = ? and release_updated = ?",
            [TABLE, NEW_RELEASE.replace("T", " ").removesuffix("Z")],
        ).fetchall()
    finally:
        con.close()
    counted = set(rows)
    if len(counted) != len(rows):
        return {("doubled", len(rows) - len(counted))}
    return counted


def _run_case(fix: Fixture, server, case: Case, target: Target, workdir: Path) -> tuple[bool, str]:
    from pipeline.config import Home
    from pipeline.errors import is_user_error
    from pipeline.landing.ingest import catalogue_filters, ingest_table
    from pipeline.landing.store import LandingStore
    from pipeline.raw.load import connect, load_pending
    from pipeline.ssb.client import SsbClient

    tag = hashlib.sha1(f"{case.name}|{target.name}".encode()).hexdigest()[:10]
    root = workdir / tag
    shutil.copytree(fix.base, root)
    home = Home(root)
    store = LandingStore(home.landing)
    server.reset()
    server.faults.add(**{**case.fault, "path": target.path, "method": target.method, "skip": target.skip})
    v0, v2 = server.roots()
    error: BaseException | None = None
    try:
        with SsbClient(
            v0, v2, timeout=TIMEOUT, retries=RETRIES, backoff_factor=0.05, backoff_max=1.0, progress=False
        ) as client:
            ingest_table(client, store, TABLE, catalogue_filters()[TABLE])
    except Exception as exc:  # noqa: BLE001 - what the pipeline raised is what the case judges
        error = exc
    con = connect(home.build_db)
    try:
        load_pending(con, store)
    finally:
        con.close()
    try:
        fired = [r for r in server.requests if r.fault == case.fault["kind"]]
        if not fired:
            return False, "the fault was never served (nothing was tested)"
        if sha(home.published_db) != fix.published_sha:
            return False, "the published warehouse changed"
        left = leftovers(root)
        if left:
            return False, f"left behind: {left[:3]}"
        landed_new = [r for r in store.fetches([TABLE]) if r.updated == NEW_RELEASE]
        cells = _new_cells(home)
        if case.expect == "data":
            if error is not None:
                return False, f"expected correct data after the retry, got {type(error).__name__}: {error}"
            if len(landed_new) != 1:
                return False, f"{len(landed_new)} complete fetches of the new release, expected 1"
            if cells != fix.truth:
                lost, extra = len(fix.truth - cells), len(cells - fix.truth)
                return False, f"cells differ from the server's: {lost} missing, {extra} wrong or doubled"
            return True, ""
        if error is None:
            return False, "the fetch succeeded where a clear error was due"
        text = str(error)
        if not is_user_error(error):
            return False, f"not a clear error but {type(error).__name__}: {text[:200]}"
        if "\n" in text or TABLE not in text:
            return False, f"the error is not one line naming the table: {text[:200]!r}"
        if landed_new or cells:
            return False, "part of the new release landed or loaded despite the error"
        return True, ""
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(
    size: str = "full", *, workdir: Path | None = None, only: list[str] | None = None, **_: object
) -> SuiteResult:
    """Every fault of :data:`FAULTS` (or those named in ``only``) at every target of the size."""
    from pipeline.demo.server import RecordedSource, serve

    result = SuiteResult("faults", size)
    clock = Clock()
    with cached_catalogue(), tempfile.TemporaryDirectory(prefix="proof-faults-", dir=workdir) as tmp:
        work = Path(tmp)
        fix = _fixture(work)
        total = len(fix.truth)
        source = RecordedSource([fix.docs["new"]])
        one = serve(source, max_calls=1000, window_seconds=1)
        three = serve(source, max_calls=1000, window_seconds=1, max_cells=math.ceil(total / 3))
        try:
            for target in SIZES[size]:
                server = three if target.parts == 3 else one
                for case in FAULTS:
                    if (case.data_only and not target.data) or (case.multipart_only and target.parts == 1):
                        continue
                    if only is not None and case.name not in only:
                        continue
                    ok, why = _run_case(fix, server, case, target, work)
                    result.count(target.name, ok, f"{case.name}: {why}")
        finally:
            one.shutdown()
            three.shutdown()
    result.seconds = clock()
    return result
