"""Load landed responses into the build DuckDB as ``raw.cells`` and its side tables.

Loading is idempotent: a fetch is loaded once, keyed by its content-derived fetch id, and the objects of
one fetch go in inside one transaction, so ``raw.cells`` never holds half a release. Decoding stays
columnar (Arrow) from the landed bytes to DuckDB.

A landed object that cannot be loaded does not stop the build: every object of a fetch is checked before its
transaction (strict decoding by :func:`pipeline.raw.jsonstat.decode`; for a table the catalogue fetches also
the fetch-time checks of :func:`pipeline.ssb.client.dataset_mismatch`: the table named, plausible periods), and
an object that fails is quarantined in the landing store with the reason, its fetch skipped and every other
fetch loaded. ``raw.quarantined`` mirrors the store's quarantine history for the data-quality stage. Cells
already in ``raw.cells`` are never deleted.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import memory_limit_at_most
from pipeline.landing.store import FetchRecord, LandingError, LandingStore, Quarantine
from pipeline.raw.jsonstat import Dataset, JsonStatError, decode, max_cells
from pipeline.ssb.vintage import REVISED, UNREVISED, parse_updated, unrevised_year

# SSB dimension ids → the named columns of raw.cells. Anything else goes into other_dimensions, by its id.
REGION_DIMS = ("KOKkommuneregion0000", "Region", "KOKbydelsregion0000", "KOKfylkesregion0000")
NAMED_DIMS = {
    "ContentsCode": "contents_code",
    "KOKfunksjon0000": "funksjon",
    "KOKbvfunksjon0000": "funksjon",  # barnevern tables name their function dimension apart
    "KOKart0000": "art",
    "KOKregnskapsomfa0000": "regnskapsomfang",
    "KOKalder0000": "alder",
    "Alder": "alder",
    "Kjonn": "kjonn",
}
TIME_DIMS = ("Tid",)

RAW_DDL = """
create schema if not exists raw;
create table if not exists raw.cells (
    table_id varchar not null,
    release_updated timestamp not null,
    vintage varchar not null,
    contents_code varchar,
    region_code varchar,
    period varchar,
    year integer,
    funksjon varchar,
    art varchar,
    regnskapsomfang varchar,
    alder varchar,
    kjonn varchar,
    other_dimensions map(varchar, varchar),
    value double,
    status varchar,
    landing_sha256 varchar not null
);
create table if not exists raw.releases (
    table_id varchar not null,
    release_updated timestamp not null,
    title varchar,
    source varchar,
    newest_year integer,
    cells bigint,
    first_loaded_at timestamp,
    primary key (table_id, release_updated)
);
create table if not exists raw.dimension_labels (
    table_id varchar not null,
    release_updated timestamp not null,
    dimension_id varchar not null,
    code varchar not null,
    label varchar
);
create table if not exists raw.landing_objects (
    sha256 varchar not null,
    fetch_id varchar not null,
    table_id varchar not null,
    release_updated timestamp not null,
    query json,
    fetched_at timestamp,
    source varchar,
    cells bigint,
    part integer,
    parts integer,
    rows_loaded bigint,
    loaded_at timestamp
);
create table if not exists raw.quarantined (
    sha256 varchar not null,
    fetch_id varchar,
    table_id varchar not null,
    release_updated timestamp,
    reason varchar not null,
    quarantined_at timestamp not null,
    quarantined_by varchar,
    command varchar,
    released_at timestamp,
    released_by varchar,
    rows_in_raw_cells bigint not null,
    primary key (sha256, quarantined_at)
);
"""

# raw.cells as Arrow, in column order, for test fixtures. The loader builds the same columns with the codes
# dictionary-encoded (cells_table), which DuckDB inserts as these varchars.
RAW_CELLS_SCHEMA = pa.schema(
    [
        ("table_id", pa.string()),
        ("release_updated", pa.timestamp("us")),
        ("vintage", pa.string()),
        ("contents_code", pa.string()),
        ("region_code", pa.string()),
        ("period", pa.string()),
        ("year", pa.int32()),
        ("funksjon", pa.string()),
        ("art", pa.string()),
        ("regnskapsomfang", pa.string()),
        ("alder", pa.string()),
        ("kjonn", pa.string()),
        ("other_dimensions", pa.map_(pa.string(), pa.string())),
        ("value", pa.float64()),
        ("status", pa.string()),
        ("landing_sha256", pa.string()),
    ]
)

# The code columns of raw.cells, each a dimension's codes (dictionary-encoded, NULL where a table lacks it).
_CODE_COLUMNS = (
    "contents_code",
    "region_code",
    "period",
    "funksjon",
    "art",
    "regnskapsomfang",
    "alder",
    "kjonn",
)


class LoadError(RuntimeError):
    """A landed response could not be loaded; the message names the table and landing object."""


class UnloadableFetch(LoadError):
    """Objects of one fetch failed their checks; ``bad`` is (sha256, reason) of each. Nothing was loaded."""

    def __init__(self, rec: FetchRecord, bad: list[tuple[str, str]]) -> None:
        self.record = rec
        self.bad = bad
        first_sha, first_reason = bad[0]
        more = f" (and {len(bad) - 1} more of its parts)" if len(bad) > 1 else ""
        super().__init__(
            f"table {rec.table_id}: landing object {first_sha} cannot be loaded: {first_reason}{more}"
        )


@dataclass(frozen=True)
class LoadResult:
    fetches_loaded: int
    cells_loaded: int
    tables: tuple[str, ...]
    quarantined: tuple[Quarantine, ...] = ()  # the objects this load quarantined


# DuckDB's memory for a loading connection. A load's working set is one batch of COMMIT_CELLS cells; without a
# limit (DuckDB's default is 80 % of RAM) the buffer pool keeps every block the load writes, and the process
# grew by 0.8 GB over the whole demo (3.7 million cells). Capped, DuckDB evicts written blocks instead of
# spilling anything: 300MB loaded the demo in the same 9.1 s with a peak of 0.56 GB against 0.93 GB
# (200MB: 10.4 s, 0.48 GB; measured alone, 4 December 2026). A smaller KOSTRA_DUCKDB_MEMORY_LIMIT wins.
LOAD_MEMORY_LIMIT = "300MB"


def connect(db_path: Path) -> duckdb.DuckDBPyConnection:
    """The build file, opened to load cells (within :data:`LOAD_MEMORY_LIMIT`, or a smaller
    ``KOSTRA_DUCKDB_MEMORY_LIMIT``)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db_path), config={"memory_limit": memory_limit_at_most(LOAD_MEMORY_LIMIT)})
    ensure_schema(con)
    return con


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(RAW_DDL)


def _year_from_period(period: pa.Array) -> pa.Array:
    # Tid is "2015" for KOSTRA, "2020M01"/"2020K1" elsewhere: the year is the leading four digits.
    head = pc.utf8_slice_codeunits(period, 0, 4)
    is_year = pc.match_substring_regex(head, r"^\d{4}$")
    return pc.if_else(is_year, pc.cast(pc.if_else(is_year, head, pa.scalar("0")), pa.int32()), None)


def _region_dim(ds: Dataset) -> str | None:
    ids = [d.id for d in ds.dimensions]
    for name in REGION_DIMS:
        if name in ids:
            return name
    geo = [d.id for d in ds.dimensions if d.role == "geo"]
    return geo[0] if geo else None


def time_dimension(ds: Dataset):
    """The dataset's time dimension (role ``time`` or SSB's ``Tid``), or None."""
    return next((d for d in ds.dimensions if d.role == "time" or d.id in TIME_DIMS), None)


def _time_dim(ds: Dataset) -> str | None:
    dim = time_dimension(ds)
    return dim.id if dim else None


def _metric_dim(ds: Dataset) -> str | None:
    for d in ds.dimensions:
        if d.role == "metric" or d.id == "ContentsCode":
            return d.id
    return None


_CODES = pa.dictionary(pa.int32(), pa.string())


def _dictionary_strings(arr: pa.Array) -> pa.DictionaryArray:
    """``arr`` as dictionary<int32, string>: one type for every fetch, so a batch concatenates."""
    if not pa.types.is_dictionary(arr.type):
        return pc.dictionary_encode(pc.cast(arr, pa.string())).cast(_CODES)
    return arr.cast(_CODES)


def _repeated(value: str, n: int) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], pa.string())
    )


def cells_table(ds: Dataset, *, table_id: str, release_updated: datetime, sha256: str) -> pa.Table:
    """The decoded cells in the raw.cells layout (vintage included)."""
    n = ds.cells.num_rows
    region, time, metric = _region_dim(ds), _time_dim(ds), _metric_dim(ds)
    columns: dict[str, pa.Array] = {}
    named_source = {region: "region_code", time: "period", metric: "contents_code"}
    named_source.update({k: v for k, v in NAMED_DIMS.items() if k not in named_source})
    others = []
    for dim in ds.dimensions:
        col = named_source.get(dim.id)
        arr = ds.cells.column(dim.id).combine_chunks()
        if col and col not in columns:
            # Codes stay dictionary-encoded (DuckDB reads them as varchar at the same speed): a batch of a
            # million cells is a third of its size with every code spelled out.
            columns[col] = _dictionary_strings(arr)
        else:
            arr = arr.dictionary_decode() if pa.types.is_dictionary(arr.type) else arr
            others.append((dim.id, pc.cast(arr, pa.string())))
    for name in _CODE_COLUMNS:
        if name not in columns:
            columns[name] = pa.nulls(n, _CODES)
    period = columns["period"]
    if time:
        codes = period.dictionary
        year = pc.take(_year_from_period(codes), period.indices)
    else:
        year = pa.nulls(n, pa.int32())
    if others:
        # One map per row, {dimension id: code}, laid out row by row as MapArray expects.
        names = np.array([d for d, _ in others], dtype=object)
        values = np.stack([a.to_numpy(zero_copy_only=False) for _, a in others], axis=1).ravel()
        offsets = pa.array(np.arange(0, n * len(others) + 1, len(others), dtype=np.int32))
        other = pa.MapArray.from_arrays(
            offsets, pa.array(np.tile(names, n), pa.string()), pa.array(values, pa.string())
        )
    else:
        other = pa.nulls(n, pa.map_(pa.string(), pa.string()))
    target = unrevised_year(release_updated)
    if target is not None:
        unrev = pc.fill_null(pc.equal(year, pa.scalar(target, pa.int32())), False)
        vintage = pc.if_else(unrev, UNREVISED, REVISED)
    else:
        vintage = pa.repeat(REVISED, n)
    ts = pa.scalar(release_updated.astimezone(UTC).replace(tzinfo=None), pa.timestamp("us"))
    return pa.table(
        {
            "table_id": _repeated(table_id, n),
            "release_updated": pa.repeat(ts, n),
            "vintage": vintage,
            "contents_code": columns["contents_code"],
            "region_code": columns["region_code"],
            "period": period,
            "year": year,
            "funksjon": columns["funksjon"],
            "art": columns["art"],
            "regnskapsomfang": columns["regnskapsomfang"],
            "alder": columns["alder"],
            "kjonn": columns["kjonn"],
            "other_dimensions": other,
            "value": ds.cells.column("value").combine_chunks(),
            "status": pc.cast(ds.cells.column("status").combine_chunks(), pa.string()),
            "landing_sha256": _repeated(sha256, n),
        }
    )


def _newest_year(datasets: Iterable[Dataset]) -> int | None:
    years = []
    for ds in datasets:
        dim = time_dimension(ds)
        if dim:
            years += [int(c[:4]) for c in dim.codes if c[:4].isdigit()]
    return max(years) if years else None


def table_id_of(ds: Dataset, fallback: str | None = None) -> str:
    """SSB's table id (extension.px.tableid or the "12367: …" label), required: raises LoadError if absent."""
    table_id = ds.table_id or fallback
    if not table_id:
        raise LoadError(
            f"dataset {ds.label!r} names no SSB table id (extension.px.tableid or 'NNNNN: title')"
        )
    return table_id


def is_loaded(con: duckdb.DuckDBPyConnection, fetch_id: str) -> bool:
    # fetchall: a result left half-read blocks the connection's next register() (DuckDB 2)
    rows = con.execute("select count(*) from raw.landing_objects where fetch_id = ?", [fetch_id]).fetchall()
    return bool(rows[0][0])


def catalogue_table_ids() -> frozenset[str] | None:
    """The tables the catalogue fetches (held to the fetch-time checks when loaded), or None if unreadable."""
    try:
        from pipeline.reference.catalogue import tables

        return frozenset(t for t in tables() if t)
    except Exception:  # noqa: BLE001 - a broken catalogue fails the build elsewhere, with its own message
        return None


def _check_object(store: LandingStore, sha: str, rec: FetchRecord, fetch_checks: bool) -> Dataset | str:
    """The decoded object, or why it cannot be loaded (the existing strict checks, nothing new)."""
    try:
        body = store.read_object(sha)
    except LandingError as exc:  # missing, or not the bytes its sha256 names
        return str(exc)
    try:
        ds = decode(body)
    except JsonStatError as exc:  # not JSON, value array length, non-numbers, booleans, structure
        return str(exc)
    if fetch_checks:
        # What a fetched part must pass before it counts (the table named, plausible periods), applied again:
        # the object may have landed before the check existed, or from a file.
        from pipeline.ssb.client import dataset_mismatch

        time_dim = time_dimension(ds)
        own = {d.id: d.codes for d in ds.dimensions}
        problem = dataset_mismatch(ds, rec.table_id, own, time_dim.id if time_dim else None)
        if problem:
            return problem
    return ds


# Cells per insert (CellBatch) and per load transaction (load_pending).
COMMIT_CELLS = 250_000


class CellBatch:
    """raw.cells rows waiting for one insert, in the caller's transaction.

    DuckDB appends many rows at once about three times faster than the same rows a fetch at a time
    (measured on the demo's 3.7 million cells in 280 fetches: 2.4 s against 8 s), so :func:`load_pending`
    gathers the fetches' cells and inserts them in batches of ``rows``. A quarter of a million (about 45 MB
    of Arrow) loaded the demo as fast as a million within the spread (9.4 s against 8.8 s) with a peak about
    75 MB lower (4 December 2026)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, rows: int = COMMIT_CELLS):
        self.con, self.rows = con, rows
        self._tables: list[pa.Table] = []
        self._pending = 0

    def add(self, tbl: pa.Table) -> None:
        self._tables.append(tbl)
        self._pending += tbl.num_rows
        if self._pending >= self.rows:
            self.flush()

    def flush(self) -> None:
        if not self._tables:
            return
        batch = pa.concat_tables(self._tables)
        self._tables, self._pending = [], 0
        # Row order in raw.cells means nothing; not keeping it lets DuckDB append on every thread.
        self.con.execute("set preserve_insertion_order = false")
        self.con.register("incoming_cells", batch)
        try:
            self.con.execute("insert into raw.cells by name select * from incoming_cells")
        finally:
            self.con.unregister("incoming_cells")
            self.con.execute("reset preserve_insertion_order")


def load_fetch(
    con: duckdb.DuckDBPyConnection,
    store: LandingStore,
    rec: FetchRecord,
    *,
    fetch_checks: bool | None = None,
    batch: CellBatch | None = None,
) -> int | None:
    """Load one complete fetch in one transaction: the cells loaded, or None if it was loaded before.

    Every object is checked first; :class:`UnloadableFetch` names the ones that fail, and nothing is loaded.
    ``fetch_checks`` applies the fetch-time checks too (default: when the catalogue fetches the table).
    With a ``batch``, the caller holds the transaction and the batch (:func:`load_pending` loads every
    pending fetch in one), so this fetch commits or rolls back with the others; the caller flushes the batch
    before it commits."""
    if is_loaded(con, rec.fetch_id):
        return None
    if fetch_checks is None:
        fetch_checks = rec.table_id in (catalogue_table_ids() or ())
    try:
        updated = parse_updated(rec.updated)
        problem = None if updated is not None else f"fetch {rec.fetch_id} has no 'updated' timestamp"
    except ValueError as exc:
        updated, problem = None, f"fetch {rec.fetch_id}: {exc}"
    if problem:
        raise UnloadableFetch(rec, [(sha, problem) for sha in dict.fromkeys(rec.objects)])
    datasets, bad = [], []
    for sha in rec.objects:
        checked = _check_object(store, sha, rec, fetch_checks)
        if isinstance(checked, str):
            bad.append((sha, checked))
        else:
            datasets.append((sha, checked))
    if bad:
        raise UnloadableFetch(rec, bad)
    release_ts = updated.astimezone(UTC).replace(tzinfo=None)
    newest = _newest_year(ds for _, ds in datasets)
    if rec.newest_period and rec.newest_period[:4].isdigit():
        newest = max(newest or 0, int(rec.newest_period[:4]))
    now = datetime.now(UTC).replace(tzinfo=None)
    total = 0
    own_transaction = batch is None
    if own_transaction:
        batch = CellBatch(con)
        con.execute("begin transaction")
    try:
        for sha, ds in datasets:
            tbl = cells_table(ds, table_id=rec.table_id, release_updated=updated, sha256=sha)
            batch.add(tbl)
            labels = ds.labels()
            con.register("incoming_labels", labels)
            con.execute(
                """
                insert into raw.dimension_labels
                select ?, ?, l.dimension_id, l.code, l.label from incoming_labels l
                where not exists (
                    select 1 from raw.dimension_labels d
                    where d.table_id = ? and d.release_updated = ?
                      and d.dimension_id = l.dimension_id and d.code = l.code)
                """,
                [rec.table_id, release_ts, rec.table_id, release_ts],
            )
            con.unregister("incoming_labels")
            row = store.manifest_row(sha)
            con.execute(
                "insert into raw.landing_objects values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    sha,
                    rec.fetch_id,
                    rec.table_id,
                    release_ts,
                    orjson.dumps(row.query).decode(),
                    parse_updated(row.fetched_at).replace(tzinfo=None),
                    row.source,
                    row.cells,
                    row.part,
                    row.parts,
                    tbl.num_rows,
                    now,
                ],
            )
            total += tbl.num_rows
        title = datasets[0][1].label if datasets else None
        con.execute(
            """
            insert into raw.releases values (?, ?, ?, ?, ?, ?, ?)
            on conflict (table_id, release_updated) do update set
                cells = raw.releases.cells + excluded.cells,
                newest_year = greatest(raw.releases.newest_year, excluded.newest_year)
            """,
            [
                rec.table_id,
                release_ts,
                title,
                datasets[0][1].source if datasets else None,
                newest,
                total,
                now,
            ],
        )
        if own_transaction:
            batch.flush()
            con.execute("commit")
    except BaseException:
        if own_transaction:
            con.execute("rollback")
        raise
    return total


def _default_command() -> str:
    argv = [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv and sys.argv[0] else []
    return "raw load" + (f" ({shlex.join(argv)})" if argv else "")


def load_pending(
    con: duckdb.DuckDBPyConnection,
    store: LandingStore,
    table_ids: Iterable[str] | None = None,
    *,
    command: str | None = None,
    catalogue: Collection[str] | None = None,
) -> LoadResult:
    """Load every complete fetch not yet in raw.cells, oldest release first.

    An object that cannot be loaded is quarantined in the landing store (the reason, and ``command`` as what
    did it) and its fetch skipped; every other fetch is loaded. ``raw.quarantined`` is brought up to date with
    the store's quarantine history (manual quarantines included). ``catalogue`` is the set of tables held to
    the fetch-time checks (default: the catalogue's tables).

    The fetches load in transactions of about :data:`COMMIT_CELLS` cells, each committed between two fetches.
    A DuckDB commit cost about 50 ms on this machine (not the disk's sync, which took 0.3 ms), a third of a
    20-release demo load with a commit per fetch (280); one transaction for every fetch made the file's
    checkpoint at close compress every new cell at once, the load's peak (1.13–1.19 GB on the demo's 3.7
    million cells against 0.77–0.89 GB committed every quarter million, in the same 11 s; 4 December 2026).
    A fetch loads whole or not at all; an interrupted load keeps the fetches committed before it, and the
    next build loads the rest (a loaded fetch is skipped)."""
    ensure_schema(con)
    store.sweep()  # a killed writer's temporary files: a build cleans up after a killed fetch too
    max_cells()  # a bad KOSTRA_MAX_CELLS is the user's setting, not a fault of every object: fail on it here
    checked = frozenset(catalogue) if catalogue is not None else (catalogue_table_ids() or frozenset())
    command = command or _default_command()
    fetches = cells = 0
    tables: set[str] = set()
    quarantined: dict[str, Quarantine] = {}
    batch = CellBatch(con)
    uncommitted = 0
    con.execute("begin transaction")
    try:
        for rec in store.fetches(table_ids):
            if uncommitted >= COMMIT_CELLS:  # between two fetches: each one is in or out whole
                batch.flush()
                con.execute("commit")
                con.execute("begin transaction")
                uncommitted = 0
            try:
                n = load_fetch(con, store, rec, fetch_checks=rec.table_id in checked, batch=batch)
            except UnloadableFetch as exc:  # raised before the fetch inserted anything
                for sha, reason in exc.bad:
                    if sha not in quarantined:
                        quarantined[sha] = store.quarantine(sha, reason, command=command)
                continue
            if n is None:
                continue
            fetches += 1
            cells += n
            uncommitted += n
            tables.add(rec.table_id)
        batch.flush()
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    record_quarantines(con, store)
    return LoadResult(fetches, cells, tuple(sorted(tables)), tuple(quarantined.values()))


def _utc_naive(stamp: str | None) -> datetime | None:
    try:
        at = parse_updated(stamp)
    except ValueError:
        return None
    return at.astimezone(UTC).replace(tzinfo=None) if at else None


def record_quarantines(con: duckdb.DuckDBPyConnection, store: LandingStore) -> int:
    """Bring ``raw.quarantined`` up to date with the landing store's quarantine history: one row per
    quarantine of an object, with its release if it was taken back. Returns how many are in force."""
    ensure_schema(con)
    history = store.quarantine_history()
    rows = [
        [
            q.sha256,
            q.fetch_id,
            q.table_id,
            _utc_naive(q.updated),
            q.reason,
            _utc_naive(q.quarantined_at),
            q.quarantined_by,
            q.command,
            _utc_naive(q.released_at),
            q.released_by,
            q.sha256,
        ]
        for q in history
    ]
    if rows:
        con.execute("begin transaction")
        try:
            con.executemany(
                """
                insert into raw.quarantined
                select ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                    (select coalesce(sum(rows_loaded), 0) from raw.landing_objects where sha256 = ?)
                on conflict (sha256, quarantined_at) do update set
                    released_at = excluded.released_at,
                    released_by = excluded.released_by,
                    rows_in_raw_cells = excluded.rows_in_raw_cells
                """,
                rows,
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return sum(q.active for q in history)


def loaded_objects(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The sha256 of every landed object already loaded into this build file."""
    return {sha for (sha,) in con.execute("select distinct sha256 from raw.landing_objects").fetchall()}
