"""Quarantine instead of deletion (issue 11, item 4): a landed object a build cannot load is quarantined with
its reason and the rest is loaded; `kostra landing list|quarantine|release` show and move objects; a
quarantined release no longer counts as landed, so it is fetched again; nothing landed is ever deleted."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import duckdb
import orjson
import pytest

from pipeline.cli import main
from pipeline.config import Home
from pipeline.landing.ingest import ingest_table
from pipeline.landing.store import LandingStore, Part
from pipeline.raw.load import connect, load_pending
from tests.conftest import REPO_ROOT
from tests.jsonstat_factory import make_doc
from tests.pxweb_fixtures import fast_client, recorded_server

TABLE = "12367"  # in the catalogue: held to the fetch-time checks (plausible periods) when loaded
OTHER = "13502"
DIMS = {"KOKkommuneregion0000": ["3201", "0219"], "ContentsCode": ["KOSbelop0000"], "Tid": ["2022", "2023"]}
MARCH = "2024-03-15T07:00:00Z"
JUNE = "2024-06-17T06:00:00Z"
NEXT_MARCH = "2025-03-14T07:00:00Z"


def _doc(table_id: str = TABLE, updated: str = JUNE, dims=None, **changes) -> bytes:
    doc = orjson.loads(make_doc(table_id, dims or DIMS, updated=updated))
    doc.update(changes)
    return orjson.dumps(doc)


def _land(store: LandingStore, body: bytes, updated: str, table_id: str = TABLE):
    return store.land(table_id, [Part(body=body, query=None, cells=4)], updated=updated, source="test")


def _short_value() -> bytes:
    return _doc(value=[1.0, 2.0, 3.0])  # right size, a value array one short


def _strings() -> bytes:
    return _doc(value=[1.0, "x", 3.0, 4.0])


def _year_1899() -> bytes:
    return _doc(dims={**DIMS, "Tid": ["1899", "2023"]})


def _undecodable() -> bytes:
    return _doc()[:-40]  # cut off: not JSON any more


BAD = {
    "short value array": (_short_value, "'value' has 3 entries, but 'size' gives 4 cells"),
    "strings in value": (_strings, "not a number or null"),
    "a year of 1899": (_year_1899, "implausible periods ['1899']"),
    "undecodable": (_undecodable, "not valid JSON"),
}


def kostra(home: Home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env={**os.environ, "KOSTRA_HOME": str(home.root)},
    )


def _load(home: Home):
    con = connect(home.build_db)
    try:
        return load_pending(con, LandingStore(home.landing))
    finally:
        con.close()


def _rows(home: Home, sql: str, params=()):
    con = duckdb.connect(str(home.build_db), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


@pytest.fixture()
def h(tmp_path) -> Home:
    return Home(tmp_path / "home").ensure()


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_object_is_quarantined_and_every_other_fetch_loads(h, case):
    make_bad, reason = BAD[case]
    store = LandingStore(h.landing)
    _land(store, _doc(updated=MARCH), MARCH)
    bad = _land(store, make_bad(), JUNE)
    _land(store, _doc(OTHER, JUNE), JUNE, table_id=OTHER)  # a later table's release, landed after the bad one
    bad_sha = bad.objects[0]
    before = store.object_path(bad_sha).read_bytes()

    result = _load(h)  # no exception: the bad object no longer blocks the build

    assert result.fetches_loaded == 2 and result.cells_loaded == 8
    assert [q.sha256 for q in result.quarantined] == [bad_sha]
    assert reason in result.quarantined[0].reason
    assert _rows(
        h,
        "select table_id, strftime(release_updated, '%Y-%m-%dT%H:%M:%SZ'), count(*) from raw.cells group by all order by all",
    ) == [(TABLE, MARCH, 4), (OTHER, JUNE, 4)]
    (row,) = _rows(
        h,
        "select sha256, table_id, strftime(release_updated, '%Y-%m-%dT%H:%M:%SZ'), reason, quarantined_at, "
        "released_at, rows_in_raw_cells from raw.quarantined",
    )
    assert row[:3] == (bad_sha, TABLE, JUNE) and reason in row[3]
    assert row[4] is not None and row[5] is None and row[6] == 0
    # Kept byte for byte where it was; the release no longer counts as landed, so a fetch takes it again.
    assert store.object_path(bad_sha).read_bytes() == before
    assert store.releases() == {TABLE: {MARCH}, OTHER: {JUNE}}
    # The next build meets no bad object and records the event once.
    again = _load(h)
    assert again.fetches_loaded == 0 and again.quarantined == ()
    assert _rows(h, "select count(*) from raw.quarantined") == [(1,)]


def test_a_damaged_object_is_quarantined_and_left_on_disk(h):
    store = LandingStore(h.landing)
    rec = _land(store, _doc(), JUNE)
    path = store.object_path(rec.objects[0])
    path.write_bytes(b"tampered")
    result = _load(h)
    assert "does not match its sha256" in result.quarantined[0].reason
    assert path.read_bytes() == b"tampered"  # never deleted, even when damaged


def test_a_bad_part_holds_back_only_its_own_fetch(h):
    store = LandingStore(h.landing)
    good, bad = _doc(updated=NEXT_MARCH), _year_1899()
    rec = store.land(
        TABLE,
        [Part(body=good, query={"part": 0}, cells=4), Part(body=bad, query={"part": 1}, cells=4)],
        updated=NEXT_MARCH,
        source="test",
    )
    _land(store, _doc(updated=MARCH), MARCH)
    result = _load(h)
    # Only the bad part is quarantined; raw.cells never holds half a release.
    assert [q.sha256 for q in result.quarantined] == [rec.objects[1]]
    assert _rows(h, "select distinct strftime(release_updated, '%Y-%m-%dT%H:%M:%SZ') from raw.cells") == [
        (MARCH,)
    ]


def test_cells_loaded_before_a_quarantine_stay_in_raw_cells(h):
    store = LandingStore(h.landing)
    march = _land(store, _doc(updated=MARCH), MARCH)
    _load(h)
    store.quarantine(march.objects[0], "totals look doubled", command="test")
    _land(store, _doc(updated=JUNE), JUNE)
    result = _load(h)
    assert result.fetches_loaded == 1
    assert _rows(h, "select count(*) from raw.cells where landing_sha256 = ?", [march.objects[0]]) == [(4,)]
    assert _rows(h, "select reason, rows_in_raw_cells from raw.quarantined") == [("totals look doubled", 4)]


def _states(stdout: str) -> dict[str, list[str]]:
    lines = stdout.strip().splitlines()
    assert lines[0].split()[:6] == ["release", "table", "updated", "sha256", "bytes", "state"]
    return {line.split()[3]: line.split(maxsplit=6) for line in lines[1:]}


def test_landing_list_shows_every_object_and_its_state(h):
    store = LandingStore(h.landing)
    loaded = _land(store, _doc(updated=MARCH), MARCH)
    bad = _land(store, _short_value(), JUNE)
    two = store.land(
        TABLE,
        [
            Part(body=_doc(updated=NEXT_MARCH), query=None, cells=4),
            Part(body=_year_1899(), query=None, cells=4),
        ],
        updated=NEXT_MARCH,
        source="test",
    )
    _load(h)
    pending = _land(store, _doc(OTHER, JUNE), JUNE, table_id=OTHER)

    proc = kostra(h, "landing", "list")
    assert proc.returncode == 0, proc.stderr
    states = _states(proc.stdout)
    assert len(states) == 5  # one line per landed object
    got = {sha: fields[5] for sha, fields in states.items()}
    assert got == {
        loaded.objects[0]: "loaded",
        bad.objects[0]: "quarantined",
        two.objects[0]: "blocked",
        two.objects[1]: "quarantined",
        pending.objects[0]: "pending",
    }
    release, table, updated, _sha, size, _state, why = states[bad.objects[0]]
    assert (release, table, updated) == ("2024-06", TABLE, JUNE)
    assert int(size) == store.object_path(bad.objects[0]).stat().st_size
    assert "'value' has 3 entries" in why
    only = kostra(h, "landing", "list", "--state", "quarantined")
    assert set(_states(only.stdout)) == {bad.objects[0], two.objects[1]}


def test_quarantine_by_sha_prefix_takes_a_good_object_out_of_the_next_load(h):
    store = LandingStore(h.landing)
    _land(store, _doc(updated=MARCH), MARCH)
    june = _land(store, _doc(updated=JUNE, label=f"{TABLE}: june"), JUNE)
    sha = june.objects[0]
    before = store.object_path(sha).read_bytes()

    proc = kostra(h, "landing", "quarantine", sha[:10], "--reason", "SSB withdrew the June figures")
    assert proc.returncode == 0, proc.stderr
    assert sha in proc.stdout + proc.stderr

    result = _load(h)
    assert result.fetches_loaded == 1
    assert _rows(h, "select distinct strftime(release_updated, '%Y-%m-%dT%H:%M:%SZ') from raw.cells") == [
        (MARCH,)
    ]
    assert store.object_path(sha).read_bytes() == before  # the bytes stay in the store
    q = store.quarantined()[sha]
    assert q.reason == "SSB withdrew the June figures"
    assert q.command.startswith("kostra landing quarantine") and q.quarantined_by and q.quarantined_at
    assert store.releases() == {TABLE: {MARCH}}  # fetched again by the next `kostra fetch`/`kostra run`
    assert _rows(h, "select sha256, reason from raw.quarantined") == [(sha, "SSB withdrew the June figures")]

    # Taken back, it loads with the next build; the history keeps both events.
    back = kostra(h, "landing", "release", sha[:10])
    assert back.returncode == 0, back.stderr
    assert _load(h).fetches_loaded == 1
    assert _rows(h, "select count(*) from raw.cells") == [(8,)]
    assert _rows(h, "select released_at is not null, released_by is not null from raw.quarantined") == [
        (True, True)
    ]


def test_a_release_key_quarantines_every_object_of_that_release(h):
    store = LandingStore(h.landing)
    march = _land(store, _doc(updated=MARCH), MARCH)
    _land(store, _doc(updated=JUNE), JUNE)
    proc = kostra(h, "landing", "quarantine", f"{TABLE}@2024-03", "--reason", "wrong unit")
    assert proc.returncode == 0, proc.stderr
    assert set(store.quarantined()) == {march.objects[0]}


def test_a_quarantined_release_is_fetched_and_landed_again(tmp_path):
    store = LandingStore(tmp_path / "landing")
    with recorded_server() as server:
        client = fast_client(server)
        first = ingest_table(client, store, "99001", {"ContentsCode": ["KOSbelop0000"]}, years="all")
        assert first is not None
        assert ingest_table(client, store, "99001", {"ContentsCode": ["KOSbelop0000"]}) is None  # landed
        store.quarantine(first.objects[0], "suspicious", command="test")
        again = ingest_table(client, store, "99001", {"ContentsCode": ["KOSbelop0000"]}, years="all")
    assert again is not None  # not "already landed" any more
    # The same bytes landed again: the quarantine is lifted, and the release counts and loads.
    assert store.quarantined() == {}
    (event,) = store.quarantine_history()
    assert event.released_at and event.released_command.startswith("land from")
    con = connect(tmp_path / "b.duckdb")
    assert load_pending(con, store).fetches_loaded == 1
    con.close()


def test_a_corrected_file_loads_after_its_bad_one_was_quarantined(h, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KOSTRA_HOME", str(h.root))
    bad = tmp_path / "bad.json"
    bad.write_bytes(_year_1899())
    assert main(["ingest-file", str(bad)]) == 0  # landed, quarantined by the load, no error
    store = LandingStore(h.landing)
    assert len(store.quarantined()) == 1
    assert _rows(h, "select count(*) from raw.cells") == [(0,)]
    fixed = tmp_path / "fixed.json"
    fixed.write_bytes(_doc())
    assert main(["ingest-file", str(fixed)]) == 0
    assert _rows(h, "select count(*), min(year) from raw.cells") == [(4, 2022)]
    assert len(store.quarantined()) == 1  # the bad bytes stay quarantined, and on disk
    assert len(store.objects()) == 2


def _colliding_bodies(digits: int = 4) -> tuple[bytes, bytes, str]:
    seen: dict[str, bytes] = {}
    i = 0
    while True:
        body = b"body %d" % i
        prefix = hashlib.sha256(body).hexdigest()[:digits]
        if prefix in seen:
            return seen[prefix], body, prefix
        seen[prefix] = body
        i += 1


# Each bad reference to `kostra landing`, and what its one error line says (None: only that it is one line).
# The landed objects are two whose sha256 share their first four digits (ambiguous as a prefix).
BAD_REFERENCES = {
    "unknown sha": (("quarantine", "{unknown}", "--reason", "x"), "no landed object has sha256"),
    "ambiguous prefix": (("quarantine", "{prefix}", "--reason", "x"), "is ambiguous: 2 objects"),
    "release never landed": (
        ("quarantine", f"{TABLE}@2019-06", "--reason", "x"),
        f"no landed release {TABLE}@2019-06",
    ),
    "table never landed": (
        ("quarantine", "99999@2024-06", "--reason", "x"),
        "no landed release 99999@2024-06",
    ),
    "not a release key": (("quarantine", f"{TABLE}@soon", "--reason", "x"), "is not a release key"),
    "neither sha nor release": (("quarantine", "not-a-sha", "--reason", "x"), "neither a sha256"),
    "ambiguous, blank reason": (
        ("quarantine", "{prefix}", "--reason", " "),
        None,
    ),  # the reason is per object
    "release of a kept object": (("release", "{sha}"), "among the quarantined objects"),
    "blank reason": (("quarantine", "{sha}", "--reason", "  "), "a quarantine needs a reason"),
}


@pytest.mark.parametrize("case", list(BAD_REFERENCES))
def test_every_bad_reference_is_one_line_and_a_non_zero_exit(h, case):
    store = LandingStore(h.landing)
    one, two, prefix = _colliding_bodies()
    store.land(TABLE, [Part(body=one, query=None, cells=0)], updated=MARCH, source="test")
    store.land(TABLE, [Part(body=two, query=None, cells=0)], updated=JUNE, source="test")
    names = {
        "unknown": "f" * 64 if not prefix.startswith("f") else "e" * 64,
        "prefix": prefix,
        "sha": hashlib.sha256(one).hexdigest(),
    }
    template, message = BAD_REFERENCES[case]
    args = [arg.format(**names) for arg in template]
    proc = kostra(h, "landing", *args)
    assert proc.returncode != 0, args
    assert "Traceback" not in proc.stdout + proc.stderr, args
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), (args, proc.stderr)
    if message:
        assert message in lines[0], (args, lines[0])
    if case == "blank reason":
        assert lines[0].startswith(f"error: landing object {names['sha']}: a quarantine needs a reason")
    assert store.quarantined() == {}


@pytest.mark.slow
def test_the_raw_tables_asset_reports_how_many_were_quarantined(h):
    import dagster as dg

    from orchestration.defs.warehouse.assets import RAW_CELLS, raw_tables_asset
    from orchestration.resources import HomeResource

    store = LandingStore(h.landing)
    _land(store, _doc(updated=MARCH), MARCH)
    bad = _land(store, _strings(), JUNE)
    result = dg.materialize([raw_tables_asset([])], resources={"home": HomeResource(root=str(h.root))})
    assert result.success
    (mat,) = [m for m in result.asset_materializations_for_node("raw_tables") if m.asset_key == RAW_CELLS]
    assert mat.metadata["objects_quarantined_now"].value == 1
    assert mat.metadata["objects_in_quarantine"].value == 1
    assert bad.objects[0][:12] in mat.metadata["quarantined_now"].value
    assert mat.metadata["fetches_loaded_now"].value == 1
