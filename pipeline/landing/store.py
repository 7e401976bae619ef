"""The landing store: every SSB response kept byte-for-byte, content-addressed by sha256.

Layout under ``<home>/landing``:

- ``objects/<sha[:2]>/<sha>.json``: the response bytes, never rewritten;
- ``manifest/<sha>.json``: one record per object (table id, query, ``updated``, fetched_at, source, cells…);
- ``fetches/<fetch_id>.json``: one record per complete fetch, written *last*.

A fetch split into several extracts is complete only when its fetch record exists, so a run that dies half
way leaves objects that no loader will take for a whole release. Every file is written to a temporary name
and renamed, so a reader never sees half a file, and identical bytes are stored once (re-landing is a no-op).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson


class LandingError(RuntimeError):
    """A landing-store operation failed; the message names the table or file."""


@dataclass(frozen=True)
class LandedObject:
    """The manifest row of one stored response."""

    sha256: str
    table_id: str
    query: dict | str | None
    updated: str | None
    fetched_at: str
    source: str
    cells: int
    fetch_id: str
    part: int
    parts: int
    newest_period: str | None = None


@dataclass(frozen=True)
class FetchRecord:
    """A complete fetch: every part of one query against one table at one ``updated``."""

    fetch_id: str
    table_id: str
    updated: str | None
    fetched_at: str
    source: str
    objects: list[str]
    cells: int
    newest_period: str | None = None
    new_objects: list[str] = field(default_factory=list)

    @property
    def is_noop(self) -> bool:
        """True when every part was already stored: nothing new was landed."""
        return not self.new_objects


@dataclass(frozen=True)
class Part:
    """One response to land: the exact bytes, and what was asked for."""

    body: bytes
    query: dict | str | None
    cells: int
    newest_period: str | None = None


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class LandingStore:
    """Content-addressed store of raw responses with a manifest."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.objects_dir = self.root / "objects"
        self.manifest_dir = self.root / "manifest"
        self.fetches_dir = self.root / "fetches"

    def object_path(self, sha256: str) -> Path:
        return self.objects_dir / sha256[:2] / f"{sha256}.json"

    def read_object(self, sha256: str) -> bytes:
        path = self.object_path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise LandingError(f"landing object {sha256} is missing ({path})") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise LandingError(f"landing object {path} does not match its sha256: the store is damaged")
        return data

    def land(
        self,
        table_id: str,
        parts: list[Part],
        *,
        updated: str | None,
        source: str,
        fetched_at: str | None = None,
    ) -> FetchRecord:
        """Store every part, then the fetch record. Identical content is stored once."""
        if not parts:
            raise LandingError(f"table {table_id}: a fetch with no parts cannot be landed")
        fetched_at = fetched_at or _now()
        shas = [hashlib.sha256(p.body).hexdigest() for p in parts]
        # The same bytes for the same table and release is the same fetch: re-landing must change nothing.
        fetch_id = hashlib.sha256(f"{table_id}|{updated}|{'|'.join(shas)}".encode()).hexdigest()[:32]
        existing = self.fetches_dir / f"{fetch_id}.json"
        if existing.exists():
            rec = self._read_fetch(existing)
            return FetchRecord(**{**asdict(rec), "new_objects": []})

        new_objects: list[str] = []
        for i, (sha, part) in enumerate(zip(shas, parts, strict=True)):
            obj = self.object_path(sha)
            if not obj.exists():
                _atomic_write(obj, part.body)
                new_objects.append(sha)
            man = self.manifest_dir / f"{sha}.json"
            if not man.exists():
                row = LandedObject(
                    sha256=sha,
                    table_id=table_id,
                    query=part.query,
                    updated=updated,
                    fetched_at=fetched_at,
                    source=source,
                    cells=part.cells,
                    fetch_id=fetch_id,
                    part=i,
                    parts=len(parts),
                    newest_period=part.newest_period,
                )
                _atomic_write(man, orjson.dumps(asdict(row), option=orjson.OPT_INDENT_2))
        periods = [p.newest_period for p in parts if p.newest_period]
        record = FetchRecord(
            fetch_id=fetch_id,
            table_id=table_id,
            updated=updated,
            fetched_at=fetched_at,
            source=source,
            objects=shas,
            cells=sum(p.cells for p in parts),
            newest_period=max(periods) if periods else None,
            new_objects=new_objects,
        )
        stored = {k: v for k, v in asdict(record).items() if k != "new_objects"}
        _atomic_write(existing, orjson.dumps(stored, option=orjson.OPT_INDENT_2))
        return record

    @staticmethod
    def _read_fetch(path: Path) -> FetchRecord:
        try:
            return FetchRecord(**orjson.loads(path.read_bytes()))
        except (orjson.JSONDecodeError, TypeError) as exc:
            raise LandingError(f"fetch record {path} is unreadable: {exc}") from exc

    def fetches(self, table_ids: Iterable[str] | None = None) -> Iterator[FetchRecord]:
        """Every complete fetch, oldest release first."""
        wanted = set(table_ids) if table_ids is not None else None
        records = []
        for path in sorted(self.fetches_dir.glob("*.json")) if self.fetches_dir.exists() else []:
            rec = self._read_fetch(path)
            if wanted is None or rec.table_id in wanted:
                records.append(rec)
        records.sort(key=lambda r: (r.updated or "", r.fetched_at, r.table_id, r.fetch_id))
        yield from records

    def manifest_row(self, sha256: str) -> LandedObject:
        path = self.manifest_dir / f"{sha256}.json"
        try:
            return LandedObject(**orjson.loads(path.read_bytes()))
        except FileNotFoundError as exc:
            raise LandingError(f"manifest row for landing object {sha256} is missing ({path})") from exc

    def releases(self) -> dict[str, set[str]]:
        """Landed releases: table id → the set of ``updated`` timestamps with a complete fetch."""
        out: dict[str, set[str]] = {}
        for rec in self.fetches():
            out.setdefault(rec.table_id, set()).add(rec.updated or "")
        return out
