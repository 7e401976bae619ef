"""A local PxWebApi-compatible statbank on 127.0.0.1: the demo run and the tests point the SSB client here.

It serves the paths the client uses, shaped like SSB's answers:

- v0: ``GET /api/v0/?config``, ``GET /api/v0/no/table/{id}`` (metadata), ``POST /api/v0/no/table/{id}`` (data);
- v2: ``GET /api/pxwebapi/v2/config``, ``GET …/tables?query=&pastdays=&pageNumber=``, ``GET …/tables/{id}``
  (the table record: ``updated``, ``firstPeriod``, ``lastPeriod``, ``discontinued``),
  ``GET …/tables/{id}/metadata``, ``GET|POST …/tables/{id}/data``;
- every path also under ``/asof/<release key or ISO date>/``: the statbank as it was then (the latest
  release with ``updated`` at or before that moment).

Tables come from a :class:`RecordedSource` (real JSON-stat2 responses replayed and sliced) or a
:class:`DemoSource` (the generated demo release: synthetic values, marked as such in every response).
Like SSB (as recorded on 2026-04-25, see ``docs``' "The live API (v2)") v2 parameter errors are HTTP 400 with
SSB's JSON body ``{"type": "Parameter error", "title": "Non-existent value", "status": 400}`` (an unknown
table: ``"title": "Non-existent table", "status": 404`` inside the 400), a GET URL over ``max_url_length``
characters gets IIS's HTML 404 page, every answer carries the call limit in ``x-ratelimit-*`` headers
(``x-ratelimit-policy: 30;w=60s``) while v2 ``/config`` reports the call limit as 0, as SSB's does. v0 answers
403 above the cell limit, and both answer 429 with ``Retry-After`` above the per-IP call limit. Tests can
queue faults (5xx, hangs, cut-off bodies, resets, HTML or non-JSON-stat answers, changed documents,
redirects, a changed ``updated``; see :class:`Fault`) from Python or through ``POST /_control/faults``, and
read every request it saw.
"""

from __future__ import annotations

import calendar
import fnmatch
import math
import re
import socket
import struct
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import timestamps
from pipeline.timestamps import OSLO

__all__ = [
    "Cube",
    "CubeDimension",
    "DemoSource",
    "Fault",
    "MUTATIONS",
    "PxWebServer",
    "RecordedSource",
    "RequestRecord",
    "parse_asof",
    "serve",
    "serve_demo",
]

SSB_SOURCE = "Statistisk sentralbyrå"
DEMO_SOURCE = "Statistisk sentralbyrå (DEMO: syntetiske tall)"
DEMO_NOTE = (
    "DEMO: syntetiske tall med ekte struktur (tabeller, koder og etiketter som i SSBs statistikkbank). "
    "Tallene er ikke SSBs og skal ikke brukes til analyse."
)
V0_PREFIX = "/api/v0"
V2_PREFIX = "/api/pxwebapi/v2"
_JSON = "application/json; charset=utf-8"
CUBE_CACHE_SIZE = 4
FRAME_CACHE_SIZE = 2


# --- tables ---------------------------------------------------------------------------------------------


@dataclass
class CubeDimension:
    id: str
    label: str
    codes: list[str]
    labels: list[str]
    units: dict | None = None  # ContentsCode: code -> {"base", "decimals"}
    # SSB lets a query leave out an eliminable variable (07459's Kjonn): the answer sums over it.
    elimination: bool = False

    def __post_init__(self) -> None:
        self.position = {code: i for i, code in enumerate(self.codes)}


@dataclass
class Cube:
    """One table at one release, as a dense row-major grid over ``dimensions``."""

    table_id: str
    title: str
    updated: datetime
    dimensions: list[CubeDimension]
    values: np.ndarray  # float64, NaN where the cell is null
    status: np.ndarray | None  # object: symbol or None
    time_dims: list[str] = field(default_factory=list)
    metric_dims: list[str] = field(default_factory=list)
    extension: dict = field(default_factory=dict)
    source: str = SSB_SOURCE
    notes: list[str] = field(default_factory=list)
    demo: bool = False
    discontinued: bool = False

    @property
    def label(self) -> str:
        return f"{self.table_id}: {self.title}"

    @property
    def sizes(self) -> list[int]:
        return [len(d.codes) for d in self.dimensions]

    def dimension(self, dim_id: str) -> CubeDimension | None:
        return next((d for d in self.dimensions if d.id == dim_id), None)

    def periods(self) -> list[str]:
        time_dim = self.dimension(self.time_dims[0]) if self.time_dims else None
        return time_dim.codes if time_dim else []


_iso = timestamps.format_z


def _parse_stamp(text: str, where: str) -> datetime:
    return timestamps.parse(text, what=f"{where}: 'updated'")


def parse_asof(text: str, release_keys: Mapping[str, datetime] | None = None) -> datetime:
    """The moment an ``/asof/<text>/`` prefix stands for (inclusive).

    A release key (``2016-03``) means that release's ``updated``; ``YYYY-MM`` otherwise the end of that
    month and ``YYYY-MM-DD`` the end of that day (Oslo time); a full ISO timestamp means itself.
    """
    text = text.strip()
    if release_keys and text in release_keys:
        return release_keys[text]
    tiny = timedelta(microseconds=1)
    if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"as-of {text!r}: no month {month}")
        last_day = calendar.monthrange(year, month)[1]
        return datetime(year, month, last_day, tzinfo=OSLO) + timedelta(days=1) - tiny
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = datetime.fromisoformat(text).replace(tzinfo=OSLO)
        return day + timedelta(days=1) - tiny
    try:
        return _parse_stamp(text, "as-of")
    except ValueError:
        raise ValueError(
            f"as-of {text!r} is neither a release key ({', '.join(sorted(release_keys or {})) or 'none'}) "
            "nor an ISO date (YYYY-MM, YYYY-MM-DD or a timestamp)"
        ) from None


class RecordedSource:
    """Recorded JSON-stat2 documents, one per release of a table, replayed and sliced by query.

    Documents of the same table with different ``updated`` stamps are its releases; a view as of a moment
    shows the newest release published by then.
    """

    demo = False

    def __init__(self, docs: Iterable[Path | str | bytes | dict] = ()) -> None:
        self._lock = threading.Lock()
        self._releases: dict[str, list[Cube]] = {}
        for doc in docs:
            self.add(doc)

    def add(self, doc: Path | str | bytes | dict, *, discontinued: bool = False) -> Cube:
        """Add one document (a path, raw bytes/text or a parsed dict) as a release of its table.

        ``discontinued``: the table record says SSB has stopped the series (the document cannot tell).
        """
        from pipeline.raw.jsonstat import decode

        where = "recorded document"
        if isinstance(doc, Path) or (isinstance(doc, str) and not doc.lstrip().startswith("{")):
            where = str(doc)
            doc = Path(doc).read_bytes()
        try:
            ds = decode(doc)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from exc
        table_id = ds.table_id
        if not table_id:
            raise ValueError(f"{where}: no table id (extension.px.tableid or a '12345: …' label)")
        if not ds.updated:
            raise ValueError(
                f"{where}: table {table_id} has no 'updated', so it cannot be placed as a release"
            )
        title = ds.label or table_id
        if title.startswith(f"{table_id}:"):
            title = title[len(table_id) + 1 :].strip()
        cells = ds.cells
        status = cells["status"].to_numpy(zero_copy_only=False).astype(object)
        cube = Cube(
            table_id=table_id,
            title=title,
            updated=_parse_stamp(ds.updated, where),
            dimensions=[
                CubeDimension(d.id, d.label, list(d.codes), list(d.labels), d.units) for d in ds.dimensions
            ],
            values=cells["value"].to_numpy(zero_copy_only=False).astype(np.float64),
            status=status if any(s is not None for s in status) else None,
            time_dims=list(ds.role.get("time", []))
            or (["Tid"] if any(d.id == "Tid" for d in ds.dimensions) else []),
            metric_dims=list(ds.role.get("metric", []))
            or (["ContentsCode"] if any(d.id == "ContentsCode" for d in ds.dimensions) else []),
            extension=dict(ds.extension),
            source=ds.source or SSB_SOURCE,
            notes=_notes_of(doc),
            discontinued=bool(discontinued),
        )
        with self._lock:
            releases = self._releases.setdefault(table_id, [])
            releases[:] = [c for c in releases if c.updated != cube.updated] + [cube]
            releases.sort(key=lambda c: c.updated)
        return cube

    def release_keys(self) -> dict[str, datetime]:
        return {}

    def table_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._releases)

    def table(self, table_id: str, cutoff: datetime | None = None) -> Cube | None:
        with self._lock:
            releases = list(self._releases.get(table_id, []))
        visible = [c for c in releases if cutoff is None or c.updated <= cutoff]
        return visible[-1] if visible else None


def _notes_of(doc: bytes | str | dict) -> list[str]:
    """The dataset's JSON-stat2 ``note`` array (SSB's table notes), kept when a recorded document replays."""
    if not isinstance(doc, dict):
        try:
            doc = orjson.loads(doc)
        except orjson.JSONDecodeError:
            return []
    notes = doc.get("note") if isinstance(doc, dict) else None
    if isinstance(notes, str):
        return [notes]
    return [str(n) for n in notes] if isinstance(notes, list) else []


class DemoSource:
    """The generated demo release (``$KOSTRA_HOME/demo``): ``releases.json`` + ``tables/<id>.{json,parquet}``.

    As of a release a table shows every year up to the release's data year: that year in the release's
    vintage (unrevised in March, revised in June), earlier years revised.
    """

    demo = True

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        releases_file = self.folder / "releases.json"
        if not releases_file.is_file():
            raise FileNotFoundError(
                f"no demo release at {self.folder} ({releases_file.name} is missing); generate the demo release first"
            )
        try:
            raw = orjson.loads(releases_file.read_bytes())
            self.releases = sorted(
                (
                    {
                        "key": str(r["key"]),
                        "updated": _parse_stamp(r["updated"], str(releases_file)),
                        "data_year": int(r["data_year"]),
                        "vintage": str(r.get("vintage", "revised")),
                    }
                    for r in raw
                ),
                key=lambda r: r["updated"],
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"{releases_file}: not a list of {{key, updated, data_year, vintage}}: {exc}"
            ) from exc
        if not self.releases:
            raise ValueError(f"{releases_file}: lists no releases")
        bad = [r["vintage"] for r in self.releases if r["vintage"] not in ("unrevised", "revised")]
        if bad:
            raise ValueError(f"{releases_file}: vintage must be 'unrevised' or 'revised', got {bad}")
        tables_dir = self.folder / "tables"
        self._specs = {p.stem: p for p in sorted(tables_dir.glob("*.json"))} if tables_dir.is_dir() else {}
        # Each cube is a dense grid (up to ~1M cells); keep only the recently used table/release views, and the
        # indexed rows of the tables asked for last. An ingest asks for one table at a time, release after
        # release, each release a few times (record, metadata, data): serving the demo's largest tables peaked at
        # 0.85 GB with every table's rows and 24 cubes kept, 0.63 GB with these (4 December 2026).
        self._cache: OrderedDict[tuple[str, str], Cube | None] = OrderedDict()
        self._frames: OrderedDict[str, _DemoFrame] = OrderedDict()
        self._lock = threading.Lock()

    def release_keys(self) -> dict[str, datetime]:
        return {r["key"]: r["updated"] for r in self.releases}

    def table_ids(self) -> list[str]:
        return sorted(self._specs)

    def _release_at(self, cutoff: datetime | None) -> dict | None:
        visible = [r for r in self.releases if cutoff is None or r["updated"] <= cutoff]
        return visible[-1] if visible else None

    def table(self, table_id: str, cutoff: datetime | None = None) -> Cube | None:
        if table_id not in self._specs:
            return None
        release = self._release_at(cutoff)
        if release is None:
            return None
        key = (table_id, release["key"])
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
            else:
                self._cache[key] = self._build(table_id, release)
                while len(self._cache) > CUBE_CACHE_SIZE:
                    self._cache.popitem(last=False)
            return self._cache[key]

    def _spec(self, table_id: str) -> dict:
        path = self._specs[table_id]
        try:
            spec = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from exc
        return _normalise_demo_spec(spec, table_id, path)

    def _frame(self, table_id: str, spec: dict) -> _DemoFrame:
        # Read and index once per table: every release of it is a view of the same rows.
        if table_id in self._frames:
            self._frames.move_to_end(table_id)
        else:
            parquet = self.folder / "tables" / f"{table_id}.parquet"
            if not parquet.is_file():
                raise FileNotFoundError(f"demo table {table_id}: {parquet} is missing")
            self._frames[table_id] = _DemoFrame.read(parquet, table_id, spec["dimensions"])
            while len(self._frames) > FRAME_CACHE_SIZE:
                self._frames.popitem(last=False)
        return self._frames[table_id]

    def _build(self, table_id: str, release: dict) -> Cube | None:
        spec = self._spec(table_id)
        if spec["releases"] is not None and release["key"] not in spec["releases"]:
            return None
        frame = self._frame(table_id, spec)
        dims: list[CubeDimension] = spec["dimensions"]
        time_id = "Tid"
        data_year = release["data_year"]
        time_dim = next(d for d in dims if d.id == time_id)
        periods = [
            (c, lbl)
            for c, lbl in zip(time_dim.codes, time_dim.labels, strict=True)
            if _year_of(c) <= data_year
        ]
        if not periods:
            return None
        dims = [
            CubeDimension(
                time_id, time_dim.label, [c for c, _ in periods], [lbl for _, lbl in periods], time_dim.units
            )
            if d.id == time_id
            else d
            for d in dims
        ]
        # A row's place in this release's grid: its code positions (Tid's among the periods released so far).
        kept_period = {c: i for i, (c, _) in enumerate(periods)}
        time_remap = np.array([kept_period.get(c, -1) for c in time_dim.codes], dtype=np.int64)
        n = math.prod(len(d.codes) for d in dims)
        flat = np.zeros(frame.rows, dtype=np.int64)
        keep = frame.valid.copy()
        stride = 1
        for dim in reversed(dims):
            pos = frame.positions[dim.id]
            if dim.id == time_id:
                pos = np.where(pos >= 0, time_remap[np.maximum(pos, 0)], -1)
                keep &= pos >= 0
            flat += np.maximum(pos, 0) * stride
            stride *= len(dim.codes)
        unrevised = frame.years == data_year if release["vintage"] == "unrevised" else None

        def pick(kind: str) -> np.ndarray:
            revised = getattr(frame, f"{kind}_revised")
            if unrevised is None:
                return revised
            return np.where(unrevised, getattr(frame, f"{kind}_unrevised"), revised)

        at = flat[keep]
        values = np.full(n, np.nan)
        values[at] = pick("value")[keep]
        status = None
        if pick("flagged")[keep].any():
            status = np.full(n, None, dtype=object)
            status[at] = pick("status")[keep]
        decimals = spec["decimals"]
        return Cube(
            table_id=table_id,
            title=spec["title"],
            updated=release["updated"],
            dimensions=dims,
            values=values,
            status=status,
            time_dims=[time_id],
            metric_dims=["ContentsCode"] if any(d.id == "ContentsCode" for d in dims) else [],
            extension={
                "px": {"tableid": table_id, "decimals": decimals},
                "demo": {
                    "synthetic": True,
                    "release": release["key"],
                    "vintage": release["vintage"],
                    "note": DEMO_NOTE,
                },
            },
            source=DEMO_SOURCE,
            # ``notes`` (a list) supersedes the older single ``note``.
            notes=[DEMO_NOTE] + (spec["notes"] or ([spec["note"]] if spec["note"] else [])),
            demo=True,
            discontinued=spec["discontinued"],
        )


@dataclass(frozen=True)
class _DemoFrame:
    """One demo table's rows, indexed once: each row's position in every dimension's code list (-1 where
    the spec does not list the code), its year, and both vintages' values and status symbols as arrays."""

    rows: int
    positions: dict[str, np.ndarray]
    valid: np.ndarray
    years: np.ndarray
    value_revised: np.ndarray
    value_unrevised: np.ndarray
    status_revised: np.ndarray
    status_unrevised: np.ndarray
    flagged_revised: np.ndarray
    flagged_unrevised: np.ndarray

    @classmethod
    def read(cls, parquet: Path, table_id: str, dims: list[CubeDimension]) -> _DemoFrame:
        frame = pq.read_table(parquet)
        if not any(d.id == "Tid" for d in dims):
            raise ValueError(f"demo table {table_id}: no Tid dimension in its spec")
        missing = [d.id for d in dims if d.id not in frame.column_names]
        needed = ["value_unrevised", "status_unrevised", "value_revised", "status_revised"]
        missing += [c for c in needed if c not in frame.column_names]
        if missing:
            raise ValueError(f"demo table {table_id}: {parquet} lacks column(s) {missing}")
        positions = {}
        valid = np.ones(frame.num_rows, dtype=bool)
        for dim in dims:
            pos = pc.index_in(frame[dim.id].cast("string"), value_set=pa.array(dim.codes, pa.string()))
            pos = pos.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
            valid &= pos >= 0
            positions[dim.id] = pos

        def values(kind: str) -> np.ndarray:
            return frame[f"value_{kind}"].cast(pa.float64()).to_numpy(zero_copy_only=False)

        def status(kind: str) -> np.ndarray:
            col = frame[f"status_{kind}"].cast(pa.string()).combine_chunks()
            # An empty string is no status at all.
            col = pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)
            return col.to_numpy(zero_copy_only=False)

        status_revised, status_unrevised = status("revised"), status("unrevised")
        return cls(
            rows=frame.num_rows,
            positions=positions,
            valid=valid,
            years=_years(frame["Tid"], table_id),
            value_revised=values("revised"),
            value_unrevised=values("unrevised"),
            status_revised=status_revised,
            status_unrevised=status_unrevised,
            flagged_revised=pc.is_valid(pa.array(status_revised, pa.string())).to_numpy(zero_copy_only=False),
            flagged_unrevised=pc.is_valid(pa.array(status_unrevised, pa.string())).to_numpy(
                zero_copy_only=False
            ),
        )


def _years(periods, table_id: str) -> np.ndarray:
    """The year (first four characters) of every period code, vectorised."""
    try:
        years = pc.cast(pc.utf8_slice_codeunits(periods.cast(pa.string()), 0, 4), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(f"demo table {table_id}: a Tid code does not start with a year: {exc}") from None
    return years.to_numpy(zero_copy_only=False)


def _year_of(period: str) -> int:
    try:
        return int(str(period)[:4])
    except ValueError:
        raise ValueError(f"period {period!r} does not start with a year") from None


def _normalise_demo_spec(spec: Any, table_id: str, path: Path) -> dict:
    """Read ``tables/<id>.json``: title, dimensions in order with codes and labels, units.

    Accepts ``dimensions`` as a list of ``{id, label, codes, labels}`` (labels a list or a code→label
    object) or a JSON-stat-like ``id`` list plus ``dimension`` object with ``category.index/label``.
    Optional: ``discontinued`` (bool, default false: the table record says so) and ``notes`` (a list of
    strings, default []: the JSON-stat2 ``note`` array of data and metadata responses).
    """
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: expected a JSON object")
    title = spec.get("title")
    if not isinstance(title, str) or not title:
        raise ValueError(f"{path}: no 'title'")
    if title.startswith(f"{table_id}:"):
        title = title[len(table_id) + 1 :].strip()
    units = spec.get("units") or {}
    raw_dims = spec.get("dimensions")
    entries: list[tuple[str, dict]] = []
    if isinstance(raw_dims, list):
        entries = [(str(d.get("id") or d.get("code")), d) for d in raw_dims if isinstance(d, dict)]
    elif isinstance(raw_dims, dict):
        order = spec.get("dimension_order") or spec.get("id") or list(raw_dims)
        entries = [(str(k), raw_dims[k]) for k in order]
    elif isinstance(spec.get("dimension"), dict) and isinstance(spec.get("id"), list):
        entries = [(str(k), spec["dimension"][k]) for k in spec["id"]]
    if not entries:
        raise ValueError(f"{path}: no 'dimensions' (a list of {{id, label, codes, labels}})")
    dims = []
    for dim_id, d in entries:
        category = d.get("category") if isinstance(d.get("category"), dict) else {}
        codes = d.get("codes") or d.get("values") or category.get("index")
        if isinstance(codes, dict):
            codes = sorted(codes, key=codes.__getitem__)
        if not isinstance(codes, list) or not codes:
            raise ValueError(f"{path}: dimension {dim_id!r} lists no codes")
        codes = [str(c) for c in codes]
        labels = d.get("labels") or d.get("valueTexts") or category.get("label") or {}
        if isinstance(labels, dict):
            labels = [str(labels.get(c, c)) for c in codes]
        if len(labels) != len(codes):
            raise ValueError(f"{path}: dimension {dim_id!r} has {len(codes)} codes but {len(labels)} labels")
        dim_units = d.get("units") or category.get("unit")
        if dim_id == "ContentsCode" and not dim_units:
            dim_units = {c: units[c] for c in codes if c in units} or None
        elimination = d.get("elimination", (d.get("extension") or {}).get("elimination", False))
        if not isinstance(elimination, bool):
            raise ValueError(f"{path}: dimension {dim_id!r}: 'elimination' must be true or false")
        dims.append(
            CubeDimension(
                dim_id,
                str(d.get("label") or d.get("text") or dim_id),
                codes,
                [str(x) for x in labels],
                dim_units,
                elimination,
            )
        )
    decimals = spec.get("decimals")
    if decimals is None:
        unit_decimals = [
            u.get("decimals") for d in dims if d.units for u in d.units.values() if isinstance(u, dict)
        ]
        decimals = max((int(x) for x in unit_decimals if x is not None), default=0)
    releases = spec.get("releases")
    discontinued = spec.get("discontinued", False)
    if not isinstance(discontinued, bool):
        raise ValueError(f"{path}: 'discontinued' must be true or false, got {discontinued!r}")
    notes = spec.get("notes") or []
    if isinstance(notes, str):
        notes = [notes]
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ValueError(f"{path}: 'notes' must be a list of strings, got {notes!r:.200}")
    return {
        "title": title,
        "dimensions": dims,
        "decimals": int(decimals),
        "releases": [str(r) for r in releases] if isinstance(releases, list) else None,
        "note": spec.get("note") if isinstance(spec.get("note"), str) else None,
        "notes": list(notes),
        "discontinued": discontinued,
    }


# --- selections -----------------------------------------------------------------------------------------


# SSB's v2 error titles (PxWebApi 2's "Parameter error" problems; the spelling "mandantory" is SSB's).
NON_EXISTENT_TABLE = "Non-existent table"
NON_EXISTENT_VALUE = "Non-existent value"
NON_EXISTENT_VARIABLE = "Non-existent variable"
NON_EXISTENT_CODELIST = "Non-existent codelist"
MISSING_SELECTION = "Missing selection for mandantory variable"
ILLEGAL_EXPRESSION = "Illegal selection expression"
TOO_MANY_CELLS = "Too many cells selected"
UNSUPPORTED_FORMAT = "Unsupported output format"
# IIS's own page for a URL its request filter refuses, as SSB's front end sends it for a GET over ~2,100
# characters (recorded 2026-04-25: HTTP 404, text/html, ~1.2 kB).
IIS_404_PAGE = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\r\n'
    '<html xmlns="http://www.w3.org/1999/xhtml">\r\n<head>\r\n'
    '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>\r\n'
    "<title>404 - File or directory not found.</title>\r\n"
    '<style type="text/css">\r\n<!--\r\n'
    "body{margin:0;font-size:.7em;font-family:Verdana, Arial, Helvetica, sans-serif;background:#EEEEEE;}\r\n"
    "fieldset{padding:0 15px 10px 15px;} \r\n"
    "h1{font-size:2.4em;margin:0;color:#FFF;}\r\n"
    "h2{font-size:1.7em;margin:0;color:#CC0000;} \r\n"
    "h3{font-size:1.2em;margin:10px 0 0 0;color:#000000;} \r\n"
    '#header{width:96%;margin:0 0 0 0;padding:6px 2% 6px 2%;font-family:"trebuchet MS", Verdana, sans-serif;'
    "color:#FFF;\r\nbackground-color:#555555;}\r\n"
    "#content{margin:0 0 0 2%;position:relative;}\r\n"
    ".content-container{background:#FFF;width:96%;margin-top:8px;padding:10px;position:relative;}\r\n"
    "-->\r\n</style>\r\n</head>\r\n<body>\r\n"
    '<div id="header"><h1>Server Error</h1></div>\r\n'
    '<div id="content">\r\n <div class="content-container"><fieldset>\r\n'
    "  <h2>404 - File or directory not found.</h2>\r\n"
    "  <h3>The resource you are looking for might have been removed, had its name changed, or is "
    "temporarily unavailable.</h3>\r\n"
    " </fieldset></div>\r\n</div>\r\n</body>\r\n</html>\r\n"
).encode("iso-8859-1")


class HttpError(Exception):
    """An error answer. ``title`` (and ``body_status``) make it SSB's v2 JSON body on v2 paths; ``message``
    is the detailed reason (v0 bodies, the request log)."""

    def __init__(
        self, status: int, message: str, *, title: str | None = None, body_status: int | None = None
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.title = title
        self.body_status = body_status


class HtmlNotFound(HttpError):
    """IIS's HTML 404 (not JSON), as SSB's front end answers an over-long GET URL."""


_FUNC = re.compile(r"^(top|bottom|from|to|range)\((.*)\)$", re.IGNORECASE)


def _select(cube: Cube, dim: CubeDimension, items: list[str], *, time: bool) -> list[str]:
    """Codes of ``dim`` chosen by v0/v2 selection items, in the table's order."""
    chosen: set[str] = set()
    codes = dim.codes
    for raw in items:
        item = str(raw).strip()
        m = _FUNC.match(item)
        if item == "*":
            chosen.update(codes)
        elif m:
            func, arg = m.group(1).lower(), m.group(2).strip()
            if func in ("top", "bottom"):
                if not arg.isdigit() or int(arg) < 1:
                    raise HttpError(
                        400, f"{dim.id}: {item!r} needs a positive count", title=ILLEGAL_EXPRESSION
                    )
                count = int(arg)
                # For time, top(n) are the newest periods; SSB lists periods oldest first.
                if func == "top":
                    chosen.update(codes[-count:] if time else codes[:count])
                else:
                    chosen.update(codes[:count] if time else codes[-count:])
            elif func == "from":
                chosen.update(codes[_position(dim, arg) :])
            elif func == "to":
                chosen.update(codes[: _position(dim, arg) + 1])
            else:
                bounds = [b.strip() for b in arg.split(",")]
                if len(bounds) != 2:
                    raise HttpError(
                        400, f"{dim.id}: {item!r} must be range(first,last)", title=ILLEGAL_EXPRESSION
                    )
                chosen.update(codes[_position(dim, bounds[0]) : _position(dim, bounds[1]) + 1])
        elif "*" in item or "?" in item:
            matched = fnmatch.filter(codes, item)
            if not matched:
                raise HttpError(400, f"{dim.id}: no value matches {item!r}", title=NON_EXISTENT_VALUE)
            chosen.update(matched)
        elif item in dim.position:
            chosen.add(item)
        else:
            raise HttpError(
                400,
                f"table {cube.table_id}: variable {dim.id} has no value {item!r}",
                title=NON_EXISTENT_VALUE,
            )
    if not chosen:
        raise HttpError(400, f"{dim.id}: the selection is empty", title=MISSING_SELECTION)
    return [c for c in codes if c in chosen]


def _position(dim: CubeDimension, code: str) -> int:
    if code not in dim.position:
        raise HttpError(400, f"variable {dim.id} has no value {code!r}", title=NON_EXISTENT_VALUE)
    return dim.position[code]


def _complete_selection(cube: Cube, given: dict[str, list[str]]) -> dict[str, list[str]]:
    unknown = [k for k in given if cube.dimension(k) is None]
    if unknown:
        raise HttpError(
            400, f"table {cube.table_id} has no variable(s) {unknown}", title=NON_EXISTENT_VARIABLE
        )
    missing = [d.id for d in cube.dimensions if d.id not in given and not d.elimination]
    if missing:
        # Only variables whose metadata says elimination may be left out, as at SSB.
        raise HttpError(
            400, f"table {cube.table_id}: variable(s) {missing} must be selected", title=MISSING_SELECTION
        )
    # An eliminated variable is absent from the selection: the answer sums over it.
    return {
        d.id: _select(cube, d, given[d.id], time=d.id in cube.time_dims)
        for d in cube.dimensions
        if d.id in given
    }


def _split_value_codes(text: str) -> list[str]:
    """``a,b,range(x,y)`` → items; commas inside parentheses belong to the function."""
    return [part for part in re.split(r",(?![^(]*\))", text) if part != ""]


# --- documents -----------------------------------------------------------------------------------------


def _dimension_doc(cube: Cube, dim: CubeDimension, codes: list[str], *, metadata: bool) -> dict:
    label_of = dict(zip(dim.codes, dim.labels, strict=True))
    category: dict[str, Any] = {
        "index": {code: i for i, code in enumerate(codes)},
        "label": {code: label_of[code] for code in codes},
    }
    if dim.units:
        category["unit"] = {code: dim.units[code] for code in codes if code in dim.units}
    doc: dict[str, Any] = {"label": dim.label, "category": category}
    if metadata:
        doc["extension"] = {"elimination": dim.elimination, "show": "value"}
    return doc


def _dataset_doc(cube: Cube, selection: dict[str, list[str]] | None, *, metadata: bool = False) -> dict:
    selection = selection or {d.id: d.codes for d in cube.dimensions}
    dims = [d for d in cube.dimensions if d.id in selection]
    doc: dict[str, Any] = {
        "version": "2.0",
        "class": "dataset",
        "label": cube.label,
        "source": cube.source,
        "updated": _iso(cube.updated),
    }
    if cube.notes:
        doc["note"] = list(cube.notes)
    doc["role"] = {"time": cube.time_dims, "metric": cube.metric_dims}
    doc["id"] = [d.id for d in dims]
    doc["size"] = [len(selection[d.id]) for d in dims]
    doc["dimension"] = {d.id: _dimension_doc(cube, d, selection[d.id], metadata=metadata) for d in dims}
    extension = dict(cube.extension)
    px = dict(extension.get("px") or {})
    px.setdefault("tableid", cube.table_id)
    px.setdefault("decimals", 0)
    extension["px"] = px
    doc["extension"] = extension
    if metadata:
        return doc
    positions = [
        np.array([d.position[c] for c in selection[d.id]], dtype=np.int64)
        if d.id in selection
        else np.arange(len(d.codes), dtype=np.int64)
        for d in cube.dimensions
    ]
    index = np.ix_(*positions)
    eliminated = tuple(k for k, d in enumerate(cube.dimensions) if d.id not in selection)
    values = cube.values.reshape(cube.sizes)[index]
    sub = cube.status.reshape(cube.sizes)[index] if cube.status is not None else None
    if eliminated:
        # The sum over the eliminated variables; a cell without a number keeps the first status it has.
        values = values.sum(axis=eliminated)
        if sub is not None:
            moved = np.moveaxis(sub, eliminated, tuple(range(len(eliminated))))
            flat = moved.reshape(-1, *values.shape)
            first = flat[0].copy()
            for layer in flat[1:]:
                first = np.where(np.equal(first, None), layer, first)
            sub = np.where(np.isnan(values), first, None)
    doc["value"] = _json_values(values.ravel())
    status: dict[str, str] = {}
    if sub is not None:
        sub = sub.ravel()
        status = {str(i): sub[i] for i in np.flatnonzero(np.not_equal(sub, None))}
    doc["status"] = status
    return doc


def _json_values(values: np.ndarray) -> list:
    """Cell values for JSON: null for missing, whole numbers without a fraction as SSB writes them."""
    missing = np.isnan(values)
    present = values[~missing]
    if present.size and np.all(present == np.round(present)) and np.all(np.abs(present) < 2**53):
        out = np.where(missing, 0, values).astype(np.int64).astype(object)
    else:
        out = values.astype(object)
    out[missing] = None
    return out.tolist()


# --- requests, faults, limits ------------------------------------------------------------------------


@dataclass
class RequestRecord:
    """One request the server saw (control requests excluded). ``at`` is ``time.monotonic()`` on arrival."""

    at: float
    method: str
    path: str
    client: str
    status: int | None = None
    cells: int | None = None
    fault: str | None = None
    error: str | None = None  # the detailed reason of an error answer (SSB's v2 bodies carry only a title)


FAULT_KINDS = ("status", "hang", "truncate", "updated", "reset", "html", "redirect", "body", "mutate")
# What a ``mutate`` fault does to a dataset document: fewer values than ``size`` gives, another table's id,
# a dimension under another id, a region code that was not asked for, a value that is a string.
MUTATIONS = ("short_values", "other_table", "renamed_dimension", "changed_codes", "string_value")
HTML_200_PAGE = (
    b"<!DOCTYPE html>\r\n<html><head><title>Velkommen</title></head><body><h1>Logg inn</h1>"
    b"<p>Du m\xc3\xa5 logge inn p\xc3\xa5 nettverket f\xc3\xb8r du kan bruke Internett.</p></body></html>\r\n"
)


def mutate(doc: Any, mutation: str) -> Any:
    """``doc`` (a dataset document) changed as the ``mutate`` fault ``mutation`` says; anything else as is."""
    if not isinstance(doc, dict) or doc.get("class") != "dataset":
        return doc
    doc = dict(doc)
    ids = list(doc.get("id") or [])
    if mutation == "short_values" and isinstance(doc.get("value"), list) and doc["value"]:
        doc["value"] = doc["value"][:-1]
    elif mutation == "other_table":
        other = "12209" if (doc.get("extension") or {}).get("px", {}).get("tableid") != "12209" else "12210"
        doc["extension"] = {**(doc.get("extension") or {}), "px": {"tableid": other, "decimals": 0}}
        label = str(doc.get("label") or "")
        doc["label"] = f"{other}: {label.split(':', 1)[-1].strip()}"
    elif mutation == "renamed_dimension" and ids:
        old = ids[0]
        doc["id"] = ["Region" if d == old else d for d in ids]
        doc["dimension"] = {("Region" if k == old else k): v for k, v in doc["dimension"].items()}
        doc["role"] = {
            k: ["Region" if d == old else d for d in v] for k, v in (doc.get("role") or {}).items()
        }
    elif mutation == "changed_codes" and ids:
        dim = doc["dimension"][ids[0]]
        category = dict(dim["category"])
        index = dict(category["index"])
        last = max(index, key=index.__getitem__)
        index["9999"] = index.pop(last)
        category["index"] = index
        category["label"] = {("9999" if c == last else c): t for c, t in category.get("label", {}).items()}
        doc["dimension"] = {**doc["dimension"], ids[0]: {**dim, "category": category}}
    elif mutation == "string_value" and isinstance(doc.get("value"), list):
        values = list(doc["value"])
        at = next((i for i, v in enumerate(values) if v is not None), 0)
        values[at] = "1,5"
        doc["value"] = values
    return doc


@dataclass
class Fault:
    """A planned misbehaviour for the next matching requests.

    kind: ``status`` (answer ``status``, with ``Retry-After`` if ``retry_after`` is set), ``hang`` (wait
    ``seconds`` before answering), ``truncate`` (send half the body, then drop the connection; with
    ``length="short"`` announce only the half, so the body is well-delimited but broken JSON),
    ``updated`` (answer normally but stamp the document with ``updated``), ``reset`` (close the connection
    with a TCP reset instead of answering), ``html`` (HTTP 200 with an HTML page, as a captive portal or a
    misrouted proxy sends), ``redirect`` (HTTP 302 to ``location``, by default on another host), ``body``
    (HTTP 200 with ``body`` as the JSON body: malformed, or valid JSON that is not JSON-stat) or ``mutate``
    (answer with the document changed by ``mutation``, one of :data:`MUTATIONS`).
    ``path`` is a substring of the request path, ``method`` an HTTP method; ``skip`` matching requests pass
    untouched before the fault hits ``count`` of them.
    """

    kind: str
    path: str | None = None
    method: str | None = None
    count: int = 1
    skip: int = 0
    status: int = 503
    retry_after: int | None = None
    seconds: float = 5.0
    length: str = "full"
    updated: str | None = None
    location: str = "http://kostra-elsewhere.invalid/api/v0/no/table/00000"
    body: str | None = None
    mutation: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}, not {self.kind!r}")
        if self.kind == "updated" and not self.updated:
            raise ValueError("an 'updated' fault needs the updated stamp to send")
        if self.kind == "body" and self.body is None:
            raise ValueError("a 'body' fault needs the body to send")
        if self.kind == "mutate" and self.mutation not in MUTATIONS:
            raise ValueError(f"a 'mutate' fault needs a mutation, one of {', '.join(MUTATIONS)}")
        if self.length not in ("full", "short"):
            raise ValueError(f"fault length must be 'full' or 'short', not {self.length!r}")
        if self.count < 1 or self.skip < 0:
            raise ValueError(f"fault count must be >= 1 and skip >= 0, got {self.count}, {self.skip}")

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and (
            self.path is None or self.path in path
        )


class FaultQueue:
    """Thread-safe queue of :class:`Fault`; the first matching fault applies to a request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault | None = None, /, **kwargs: Any) -> Fault:
        fault = fault or Fault(**kwargs)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                if fault.skip:
                    fault.skip -= 1
                    return None
                fault.count -= 1
                if fault.count == 0:
                    self._faults.remove(fault)
                return fault
        return None


class _CallWindow:
    """Per-client rolling window of accepted calls: SSB's per-IP limit."""

    def __init__(self, max_calls: int, window_seconds: float) -> None:
        self.max_calls = max_calls
        self.window_seconds = window_seconds
        self._lock = threading.Lock()
        self._calls: dict[str, deque[float]] = {}

    def admit(self, client: str, now: float) -> float | None:
        """None when the call is admitted (and counted); otherwise the seconds until a slot frees."""
        with self._lock:
            calls = self._calls.setdefault(client, deque())
            while calls and calls[0] <= now - self.window_seconds:
                calls.popleft()
            if len(calls) >= self.max_calls:
                return calls[0] + self.window_seconds - now
            calls.append(now)
            return None

    def headers(self, client: str, now: float) -> dict[str, str]:
        """The ``x-ratelimit-*`` headers for ``client``'s window right now.

        ``x-ratelimit-policy`` (``40;w=60s``) is what SSB was seen to send; ``-limit``, ``-remaining`` and
        ``-reset`` are the usual companions of that header.
        """
        with self._lock:
            calls = [t for t in self._calls.get(client, ()) if t > now - self.window_seconds]
        remaining = max(0, self.max_calls - len(calls))
        reset = max(0, math.ceil(calls[0] + self.window_seconds - now)) if calls else 0
        window = f"{self.window_seconds:g}"
        return {
            "x-ratelimit-policy": f"{self.max_calls};w={window}s",
            "x-ratelimit-limit": str(self.max_calls),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(reset),
        }

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()


# --- HTTP ----------------------------------------------------------------------------------------------


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-request (a run stopped by Ctrl+C or SIGTERM, a timeout) is no error of
        # the server: socketserver would print a traceback between dashes into the user's terminal, in the
        # middle of the one line the stopped command prints.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle + delayed ACK add ~40 ms per request.
    disable_nagle_algorithm = True
    server_version = "kostra-pxweb-local/1.0"
    pxweb: PxWebServer  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        if self.pxweb.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        content_type: str = _JSON,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str) -> None:
        try:
            self._dispatch(method)
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. after its timeout during a 'hang' fault); nothing left to tell it.
            self.close_connection = True

    def _dispatch(self, method: str) -> None:
        srv = self.pxweb
        body = self._read_body()
        if urlsplit(self.path).path.startswith("/_control"):
            self._control(method, body)
            return
        record = srv._record(method, self.path, self.client_address[0])
        wait = srv._calls.admit(record.client, record.at)
        limits = srv._calls.headers(record.client, record.at)
        if wait is not None:
            record.status = 429
            retry_after = max(1, math.ceil(wait))
            self._send(
                429,
                orjson.dumps({"status": 429, "title": f"Too many requests; wait {retry_after} s"}),
                {**limits, "Retry-After": str(retry_after)},
            )
            return
        fault = srv.faults.take(method, self.path)
        record.fault = fault.kind if fault else None
        if fault and fault.kind == "status":
            record.status = fault.status
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            message = (
                HTTPStatus(fault.status).phrase if fault.status in HTTPStatus._value2member_map_ else "Fault"
            )
            self._send(
                fault.status, orjson.dumps({"status": fault.status, "title": message}), {**limits, **headers}
            )
            return
        if fault and fault.kind == "reset":
            # SO_LINGER 0: close() sends a TCP RST, so the client sees "connection reset by peer".
            record.status = None
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if fault and fault.kind == "html":
            record.status = 200
            self._send(200, HTML_200_PAGE, limits, content_type="text/html; charset=utf-8")
            return
        if fault and fault.kind == "redirect":
            record.status = 302
            self._send(302, b"", {**limits, "Location": fault.location}, content_type="text/plain")
            return
        if fault and fault.kind == "body":
            record.status = 200
            self._send(200, str(fault.body).encode(), limits)
            return
        if fault and fault.kind == "hang":
            srv._stopping.wait(fault.seconds)
        try:
            status, doc, cells = srv._route(method, self.path, body)
        except HtmlNotFound as exc:
            record.status, record.error = exc.status, exc.message
            self._send(exc.status, IIS_404_PAGE, limits, content_type="text/html")
            return
        except (ValueError, OSError) as exc:
            # A broken table file: say so (and which) instead of dropping the connection.
            record.error = str(exc)
            status, doc, cells = (
                500,
                {"status": 500, "title": f"the local server cannot read a table: {exc}"},
                None,
            )
        except HttpError as exc:
            record.error = exc.message
            status, doc, cells = exc.status, {"status": exc.status, "title": exc.message}, None
            if exc.title and _is_v2(self.path):
                # SSB's v2 shape: always HTTP 400, the problem's own status inside the body.
                status = 400
                doc = {"type": "Parameter error", "title": exc.title, "status": exc.body_status or 400}
                if exc.title in (TOO_MANY_CELLS, UNSUPPORTED_FORMAT):
                    doc = {"type": "Parameter error", "title": exc.title, "detail": exc.title, "status": 400}
        record.status, record.cells = status, cells
        if fault and fault.kind == "updated" and isinstance(doc, dict) and "updated" in doc:
            doc["updated"] = fault.updated
        if fault and fault.kind == "mutate" and status == 200:
            doc = mutate(doc, str(fault.mutation))
        payload = orjson.dumps(doc)
        if fault and fault.kind == "truncate":
            half = payload[: max(1, len(payload) // 2)]
            self.send_response(status)
            self.send_header("Content-Type", _JSON)
            self.send_header("Content-Length", str(len(payload) if fault.length == "full" else len(half)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(half)
            self.wfile.flush()
            self.close_connection = True
            return
        self._send(status, payload, limits)

    def _control(self, method: str, body: bytes) -> None:
        srv = self.pxweb
        path = urlsplit(self.path).path.rstrip("/")
        try:
            if path == "/_control/faults" and method == "POST":
                spec = orjson.loads(body or b"[]")
                specs = spec if isinstance(spec, list) else [spec]
                added = [srv.faults.add(Fault(**s)) for s in specs]
                self._send(200, orjson.dumps({"added": [asdict(f) for f in added]}))
            elif path == "/_control/faults" and method == "DELETE":
                srv.faults.clear()
                self._send(200, b"{}")
            elif path == "/_control/faults" and method == "GET":
                self._send(200, orjson.dumps([asdict(f) for f in srv.faults.pending()]))
            elif path == "/_control/requests" and method == "GET":
                self._send(200, orjson.dumps([asdict(r) for r in srv.requests]))
            elif path == "/_control/reset" and method == "POST":
                srv.reset()
                self._send(200, b"{}")
            else:
                self._send(
                    404, orjson.dumps({"status": 404, "title": f"no control endpoint {method} {path}"})
                )
        except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
            self._send(400, orjson.dumps({"status": 400, "title": f"bad control request: {exc}"}))


class PxWebServer:
    """A running local statbank. Use :func:`serve` to create one; it is a context manager."""

    def __init__(
        self,
        source: RecordedSource | DemoSource,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_cells: int = 800_000,
        max_calls: int = 30,
        window_seconds: float = 60.0,
        max_url_length: int = 2100,
        page_size: int = 20,
        verbose: bool = False,
    ) -> None:
        if max_cells < 1 or max_calls < 1 or window_seconds <= 0:
            raise ValueError(
                f"limits must be positive: max_cells={max_cells}, max_calls={max_calls}, window_seconds={window_seconds}"
            )
        self.source = source
        self.max_cells = int(max_cells)
        self.max_calls = int(max_calls)
        self.window_seconds = float(window_seconds)
        self.max_url_length = int(max_url_length)
        self.page_size = int(page_size)
        self.verbose = verbose
        self.faults = FaultQueue()
        self._calls = _CallWindow(self.max_calls, self.window_seconds)
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._stopping = threading.Event()
        handler = type("Handler", (_Handler,), {"pxweb": self})
        self._httpd = _HttpServer((host, port), handler)
        self.host, self.port = self._httpd.server_address[:2]
        self._thread: threading.Thread | None = None

    # --- addresses ---

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def roots(self, asof: str | None = None) -> tuple[str, str]:
        """(v0_root, v2_root) for an SsbClient, optionally as of a release key or date."""
        base = f"{self.url}/asof/{quote(asof, safe='')}" if asof else self.url
        return base + V0_PREFIX, base + V2_PREFIX

    @property
    def v0_root(self) -> str:
        return self.roots()[0]

    @property
    def v2_root(self) -> str:
        return self.roots()[1]

    # --- request log ---

    @property
    def requests(self) -> list[RequestRecord]:
        with self._log_lock:
            return list(self._log)

    def _record(self, method: str, path: str, client: str) -> RequestRecord:
        record = RequestRecord(at=time.monotonic(), method=method, path=path, client=client)
        with self._log_lock:
            self._log.append(record)
        return record

    def reset(self) -> None:
        """Forget the request log, pending faults and the rate-limit windows."""
        with self._log_lock:
            self._log.clear()
        self.faults.clear()
        self._calls.reset()

    # --- lifecycle ---

    def start(self) -> PxWebServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"pxweb-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> PxWebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # --- routing ---

    def _route(self, method: str, raw_path: str, body: bytes) -> tuple[int, Any, int | None]:
        parts = urlsplit(raw_path)
        path = parts.path
        cutoff = None
        if method == "GET" and len(raw_path) > self.max_url_length:
            # SSB's front end refuses long URLs with 404; clients must POST instead.
            raise HtmlNotFound(404, f"URL longer than {self.max_url_length} characters; use POST")
        if m := re.match(r"^/asof/([^/]+)(/.*)$", path):
            try:
                cutoff = parse_asof(unquote(m.group(1)), self.source.release_keys())
            except ValueError as exc:
                raise HttpError(400, str(exc)) from None
            path = m.group(2)
        query = parse_qs(parts.query, keep_blank_values=True)
        path = path.rstrip("/") or "/"

        if path == "/" and method == "GET":
            return 200, self._index(), None
        if path in (V0_PREFIX, f"{V0_PREFIX}/no", f"{V0_PREFIX}/en") and "config" in query:
            return 200, self._v0_config(), None
        if m := re.fullmatch(rf"{V0_PREFIX}/(\w+)/table/(\w+)", path):
            cube = self._cube(m.group(2), cutoff)
            if method == "GET":
                return 200, self._v0_metadata(cube), None
            if method == "POST":
                return self._data(cube, self._v0_selection(cube, body))
        if path == f"{V2_PREFIX}/config" and method == "GET":
            return 200, self._v2_config(), None
        if path == f"{V2_PREFIX}/tables" and method == "GET":
            return 200, self._v2_tables(query, cutoff), None
        if (m := re.fullmatch(rf"{V2_PREFIX}/tables/(\w+)", path)) and method == "GET":
            return 200, self._v2_table(self._cube(m.group(1), cutoff), full=True), None
        if (m := re.fullmatch(rf"{V2_PREFIX}/tables/(\w+)/metadata", path)) and method == "GET":
            _check_format(query)
            return 200, _dataset_doc(self._cube(m.group(1), cutoff), None, metadata=True), None
        if m := re.fullmatch(rf"{V2_PREFIX}/tables/(\w+)/data", path):
            cube = self._cube(m.group(1), cutoff)
            _check_format(query)
            if method == "GET":
                return self._data(cube, self._v2_get_selection(cube, query), v2=True)
            if method == "POST":
                return self._data(cube, self._v2_post_selection(cube, body), v2=True)
        raise HttpError(404, f"no such resource: {method} {path}")

    def _cube(self, table_id: str, cutoff: datetime | None) -> Cube:
        cube = self.source.table(table_id, cutoff)
        if cube is None:
            when = f" as of {_iso(cutoff)}" if cutoff else ""
            raise HttpError(404, f"no table {table_id}{when}", title=NON_EXISTENT_TABLE, body_status=404)
        return cube

    def _data(self, cube: Cube, selection: dict[str, list[str]], *, v2: bool = False) -> tuple[int, Any, int]:
        cells = math.prod(len(v) for v in selection.values())
        if cells > self.max_cells:
            # v0 answers 403; v2 answers PxWebApi 2's 400 "Too many cells selected".
            raise HttpError(
                400 if v2 else 403,
                f"too many cells selected: {cells} > {self.max_cells}",
                title=TOO_MANY_CELLS if v2 else None,
            )
        return 200, _dataset_doc(cube, selection), cells

    # --- v0 ---

    def _v0_config(self) -> dict:
        return {
            "maxValues": self.max_cells,
            "maxCells": self.max_cells,
            "maxCalls": self.max_calls,
            "timeWindow": self.window_seconds,
            "CORS": True,
        }

    def _v0_metadata(self, cube: Cube) -> dict:
        variables = []
        for d in cube.dimensions:
            var: dict[str, Any] = {"code": d.id, "text": d.label, "values": d.codes, "valueTexts": d.labels}
            if d.id in cube.time_dims:
                var["time"] = True
            var["elimination"] = d.elimination
            variables.append(var)
        return {"title": cube.label, "variables": variables}

    def _v0_selection(self, cube: Cube, body: bytes) -> dict[str, list[str]]:
        try:
            doc = orjson.loads(body)
            fmt = str((doc.get("response") or {}).get("format") or "json-stat2").lower()
            items = doc["query"]
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError) as exc:
            raise HttpError(400, f"table {cube.table_id}: not a v0 query ({exc!r})") from None
        if fmt != "json-stat2":
            raise HttpError(400, f"response format {fmt!r} is not offered here; use json-stat2")
        given: dict[str, list[str]] = {}
        for item in items:
            try:
                code = str(item["code"])
                kind = str(item["selection"].get("filter", "item")).lower()
                values = [str(v) for v in item["selection"]["values"]]
            except (KeyError, TypeError, AttributeError):
                raise HttpError(400, f"table {cube.table_id}: malformed query item {item!r:.200}") from None
            if kind == "item":
                given[code] = values
            elif kind == "all":
                given[code] = values or ["*"]
            elif kind == "top":
                if len(values) != 1:
                    raise HttpError(400, f"{code}: filter 'top' takes one count")
                given[code] = [f"top({values[0]})"]
            else:
                raise HttpError(400, f"{code}: filter {kind!r} is not supported by the local server")
        return _complete_selection(cube, given)

    # --- v2 ---

    def _v2_config(self) -> dict:
        return {
            "apiVersion": "2.0.0",
            "appVersion": "kostra-warehouse local server",
            "languages": [{"id": "no", "label": "Norsk"}],
            "defaultLanguage": "no",
            "maxDataCells": self.max_cells,
            # SSB's v2 config reports 0 here and announces the limit in x-ratelimit-* headers instead.
            "maxCallsPerTimeWindow": 0,
            "timeWindow": 0,
            "license": "https://www.ssb.no/en/diverse/lisens",
            "sourceReferences": [
                {"language": "no", "text": f"Kilde: {DEMO_SOURCE if self.source.demo else SSB_SOURCE}"}
            ],
            "defaultDataFormat": "json-stat2",
            "dataFormats": ["json-stat2"],
        }

    def _v2_get_selection(self, cube: Cube, query: dict[str, list[str]]) -> dict[str, list[str]]:
        given: dict[str, list[str]] = {}
        for key, values in query.items():
            if m := re.fullmatch(r"valueCodes\[(.+)\]", key, re.IGNORECASE):
                given[m.group(1)] = [item for v in values for item in _split_value_codes(v)]
            elif re.fullmatch(r"(codelist|outputValues)\[.+\]", key, re.IGNORECASE):
                raise HttpError(
                    400, f"{key} is not supported by the local server", title=NON_EXISTENT_CODELIST
                )
        return _complete_selection(cube, given)

    def _v2_post_selection(self, cube: Cube, body: bytes) -> dict[str, list[str]]:
        try:
            doc = orjson.loads(body)
            given = {
                str(item["variableCode"]): [str(v) for v in item["valueCodes"]]
                for item in doc.get("selection") or []
            }
            if any(item.get("codelist") for item in doc.get("selection") or []):
                raise HttpError(
                    400, "codelist is not supported by the local server", title=NON_EXISTENT_CODELIST
                )
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError) as exc:
            raise HttpError(400, f"table {cube.table_id}: not a v2 selection ({exc!r})") from None
        return _complete_selection(cube, given)

    def _v2_tables(self, query: dict[str, list[str]], cutoff: datetime | None) -> dict:
        text = (query.get("query") or [""])[0].strip().lower()
        past_days = (query.get("pastdays") or [""])[0]
        try:
            page = max(1, int((query.get("pageNumber") or ["1"])[0]))
            size = max(1, int((query.get("pageSize") or [str(self.page_size)])[0]))
            days = int(past_days) if past_days else None
        except ValueError:
            raise HttpError(400, "pageNumber, pageSize and pastdays must be integers") from None
        now = cutoff or datetime.now(UTC)
        hits = []
        for table_id in self.source.table_ids():
            cube = self.source.table(table_id, cutoff)
            if cube is None:
                continue
            if days is not None and cube.updated < now - timedelta(days=days):
                continue
            if text and not all(_term_matches(term, cube) for term in text.split()):
                continue
            hits.append(cube)
        hits.sort(key=lambda c: c.table_id)
        total_pages = max(1, math.ceil(len(hits) / size))
        shown = hits[(page - 1) * size : page * size]
        base = f"{self.url}{V2_PREFIX}"
        links = []
        if page < total_pages:
            links.append(
                {
                    "rel": "next",
                    "hreflang": "no",
                    "href": f"{base}/tables?pageNumber={page + 1}&pageSize={size}",
                }
            )
        if page > 1:
            links.append(
                {
                    "rel": "previous",
                    "hreflang": "no",
                    "href": f"{base}/tables?pageNumber={page - 1}&pageSize={size}",
                }
            )
        return {
            "language": "no",
            "tables": [self._v2_table(c) for c in shown],
            "page": {
                "pageNumber": page,
                "pageSize": size,
                "totalElements": len(hits),
                "totalPages": total_pages,
                "links": links,
            },
            "links": [
                {"rel": "self", "hreflang": "no", "href": f"{base}/tables?pageNumber={page}&pageSize={size}"}
            ],
        }

    def _v2_table(self, cube: Cube, *, full: bool = False) -> dict:
        """The v2 table record: a search hit, or (``full``) ``GET /tables/{id}``.

        ``lastPeriod`` is the newest period the table serves as of the request's cutoff (``/asof/``).
        """
        base = f"{self.url}{V2_PREFIX}"
        periods = cube.periods()
        record: dict[str, Any] = {
            "type": "Table",
            "id": cube.table_id,
            "label": cube.label,
            "description": DEMO_NOTE if cube.demo else "",
            "updated": _iso(cube.updated),
            "firstPeriod": periods[0] if periods else None,
            "lastPeriod": periods[-1] if periods else None,
            "category": "public",
            "variableNames": [d.label for d in cube.dimensions],
            "discontinued": bool(cube.discontinued),
            "source": cube.source,
            "timeUnit": "Annual",
            "links": [{"rel": "self", "hreflang": "no", "href": f"{base}/tables/{cube.table_id}"}],
        }
        if full:
            record = {"language": "no", **record}
            record["links"] = [
                *record["links"],
                {"rel": "metadata", "hreflang": "no", "href": f"{base}/tables/{cube.table_id}/metadata"},
                {"rel": "data", "hreflang": "no", "href": f"{base}/tables/{cube.table_id}/data"},
            ]
        return record

    def _index(self) -> dict:
        return {
            "server": "kostra-warehouse local PxWebApi",
            "demo": bool(self.source.demo),
            "note": DEMO_NOTE if self.source.demo else "Replays recorded SSB responses.",
            "v0": self.v0_root,
            "v2": self.v2_root,
            "tables": self.source.table_ids(),
            "releases": sorted(self.source.release_keys()),
            "limits": {
                "maxCells": self.max_cells,
                "maxCalls": self.max_calls,
                "timeWindow": self.window_seconds,
            },
        }


def _is_v2(raw_path: str) -> bool:
    path = urlsplit(raw_path).path
    if m := re.match(r"^/asof/[^/]+(/.*)$", path):
        path = m.group(1)
    return path.startswith(V2_PREFIX)


def _check_format(query: dict[str, list[str]]) -> None:
    fmt = (query.get("outputFormat") or query.get("outputformat") or ["json-stat2"])[0].lower()
    if fmt != "json-stat2":
        raise HttpError(
            400, f"outputFormat {fmt!r} is not offered here; use json-stat2", title=UNSUPPORTED_FORMAT
        )


def _term_matches(term: str, cube: Cube) -> bool:
    if term.startswith("updated:"):
        return fnmatch.fnmatch(cube.updated.astimezone(UTC).strftime("%Y%m%d"), term.split(":", 1)[1])
    return term in cube.table_id.lower() or term in cube.label.lower()


# --- entry points ---------------------------------------------------------------------------------------


def serve(
    source: RecordedSource | DemoSource,
    host: str = "127.0.0.1",
    port: int = 0,
    **limits: Any,
) -> PxWebServer:
    """Start a server in a background thread; ``port=0`` picks a free port (see ``.url``).

    ``limits``: max_cells, max_calls, window_seconds, max_url_length, page_size, verbose.
    """
    return PxWebServer(source, host, port, **limits).start()


def serve_demo(home: Any = None, host: str = "127.0.0.1", port: int = 8000, **limits: Any) -> int:
    """Serve the demo release of ``home`` (a :class:`pipeline.config.Home`, a folder, or $KOSTRA_HOME) until
    interrupted; what ``kostra serve-demo`` runs."""
    from pipeline.config import Home

    if home is None:
        home = Home.from_env()
    elif not isinstance(home, Home):
        home = Home(Path(home))
    source = DemoSource(home.demo_dir)
    limits.setdefault("verbose", True)
    server = PxWebServer(source, host, port, **limits)
    keys = sorted(source.release_keys())
    print(f"Lokal PxWebApi-server med DEMO-data (syntetiske tall) på {server.url}")
    print(f"  v0: {server.v0_root}\n  v2: {server.v2_root}")
    print(f"  tabeller: {', '.join(source.table_ids()) or '(ingen)'}")
    print(f"  som publisert tidligere: {server.url}/asof/<utgivelse>/…  (utgivelser: {', '.join(keys)})")
    print("Stopp med Ctrl+C.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._stopping.set()
        server._httpd.server_close()
    return 0
