"""The landing store: every SSB response kept byte-for-byte, content-addressed by sha256.

Layout under ``<home>/landing``:

- ``objects/<sha[:2]>/<sha>.json``: the response bytes, never rewritten;
- ``manifest/<sha>.json``: one record per object (table id, query, ``updated``, fetched_at, source, cells…);
- ``fetches/<fetch_id>.json``: one record per complete fetch, written *last*;
- ``quarantine/<sha>.json``: the quarantine history of one object (why, when, by whom, which command).

A fetch split into several extracts is complete only when its fetch record exists, so a run that dies half
way leaves objects that no loader will take for a whole release. Every file is written to a temporary name
and renamed, so a reader never sees half a file, and identical bytes are stored once (re-landing is a no-op).

A writer killed before its rename leaves its temporary file (``.<name>.<random>.tmp`` beside the file it was
writing). Every writer holds a shared lock on ``<landing>/.writers.lock`` while it writes; the next one to
open the store for writing (:meth:`LandingStore.writing`: a fetch, an ``ingest-file``, a build's load) that
finds the lock free of other writers, and so holds it exclusively for a moment, knows every such file is a
dead writer's and removes it. Nothing else is ever removed: only names of that pattern, in the store's own
folders.

Quarantine takes an object out of what builds load without touching its bytes: the object stays where it is,
and its quarantine record says so. A fetch with a quarantined part is not complete any more (``fetches`` and
``releases`` leave it out), so nothing loads it and the next fetch of that release fetches it again. The
record is the single file a quarantine or a release writes (temporary name, then rename), so the change is
atomic; it keeps every event, so nothing is forgotten either. Landing the same object again (a new fetch or
``kostra ingest-file`` of the release) lifts its quarantine, as ``kostra landing release`` does: the next load
checks it afresh and quarantines it again if it still cannot be loaded.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import os
import re
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from pipeline.files import replacing


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


@dataclass(frozen=True)
class Quarantine:
    """One quarantine of one object: why, when, by whom and with which command; and its release, if any."""

    sha256: str
    table_id: str
    updated: str | None
    fetch_id: str | None
    reason: str
    quarantined_at: str
    quarantined_by: str
    command: str
    released_at: str | None = None
    released_by: str | None = None
    released_command: str | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None


QUARANTINE = "quarantine"
RELEASE = "release"
RELANDED = "relanded"
SHA_PREFIX_MIN = 4
_HEX = frozenset("0123456789abcdef")


def who() -> str:
    """``user@host`` of this process, for the records of who quarantined or released an object."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


WRITERS_LOCK = ".writers.lock"
# What _atomic_write names its temporary file (pipeline.files.TEMPORARY): eight random characters between the
# final name (with a leading dot) and ".tmp".
_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def is_temporary(name: str) -> bool:
    """Whether ``name`` is one of the landing store's temporary files (a write not yet renamed into place)."""
    return bool(_TEMPORARY.match(name))


def _atomic_write(path: Path, data: bytes) -> None:
    with replacing(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _now_precise() -> str:
    # Quarantine events are keyed by their moment: a quarantine, a release and a new quarantine of one object
    # may well fall in the same second.
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class LandingStore:
    """Content-addressed store of raw responses with a manifest."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.objects_dir = self.root / "objects"
        self.manifest_dir = self.root / "manifest"
        self.fetches_dir = self.root / "fetches"
        self.quarantine_dir = self.root / "quarantine"
        self._writing = 0  # how deep this store is inside writing(): the lock is taken once
        self._swept = False  # this store object has removed killed writers' temporaries once
        # Fetch records read before, by file name, with the (inode, mtime, size) they were read at: an ingest
        # asks which releases are landed once per table and release, and a record is replaced only whole
        # (a new file renamed into place, so a new inode), never edited.
        self._fetch_cache: dict[str, tuple[tuple[int, int, int], FetchRecord]] = {}

    # --- writers and the temporary files of killed ones ----------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[list[Path]]:
        """Hold the store open for writing (a shared lock, beside any other live writer); yields the temporary
        files of killed writers it removed on the way in.

        Taking the lock, it first tries to hold it alone: if it can, no other writer is alive, so every
        temporary file in the store is a killed writer's (a kill releases its lock) and is removed. If another
        writer holds it, the sweep is left to a later writer: those files may be that writer's, still being
        written. A store object sweeps so once (its first write, or :meth:`sweep`). Re-entrant within one
        store object."""
        if self._writing:
            self._writing += 1
            try:
                yield []
            finally:
                self._writing -= 1
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / WRITERS_LOCK, "a+b") as fh:
            removed: list[Path] = []
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fcntl.flock(fh, fcntl.LOCK_SH)  # another writer is alive: its temporaries may be in flight
            else:
                # Once per store object: an ingest lands release after release (measured on the whole demo:
                # 1.6 s of its 22 s walking the store before each). A writer killed since is swept by the
                # next process's first write or sweep().
                if not self._swept:
                    removed = self._remove_temporaries()
                    self._swept = True
                # Not atomic (flock drops the lock, then takes the shared one), which is safe: this process
                # has no temporary file yet for another sweeper to take for a dead one.
                fcntl.flock(fh, fcntl.LOCK_SH)
            self._writing = 1
            try:
                yield removed
            finally:
                self._writing = 0
                fcntl.flock(fh, fcntl.LOCK_UN)

    def sweep(self) -> list[Path]:
        """Remove the temporary files of killed writers now, if no other writer is alive; the files removed.

        What a fetch, an ingest or a load calls first, so that a run that turns out to write nothing (every
        release already landed) still cleans up after a killed one. A store this process cannot write to
        (no lock file and a read-only folder) has nothing of its own to clean: nothing is done."""
        if self._writing:
            return []  # this process is writing: its own temporaries are in flight
        try:
            fh = open(self.root / WRITERS_LOCK, "a+b")  # noqa: SIM115 - closed below
        except OSError:
            return []
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return []  # another writer is alive: the sweep is left to a later one
            try:
                removed = self._remove_temporaries()
                self._swept = True
                return removed
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _remove_temporaries(self) -> list[Path]:
        removed = []
        for folder in (self.objects_dir, self.manifest_dir, self.fetches_dir, self.quarantine_dir):
            if not folder.is_dir():
                continue
            dirs = [folder, *(d for d in folder.iterdir() if d.is_dir() and not d.is_symlink())]
            for d in dirs:
                for path in d.iterdir():
                    if is_temporary(path.name) and path.is_file() and not path.is_symlink():
                        try:
                            path.unlink(missing_ok=True)
                        except OSError:
                            continue  # not ours to remove (a read-only folder): left as it was
                        removed.append(path)
        return sorted(removed)

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
        with self.writing():
            return self._land(table_id, parts, updated=updated, source=source, fetched_at=fetched_at)

    def _land(
        self, table_id: str, parts: list[Part], *, updated: str | None, source: str, fetched_at: str | None
    ) -> FetchRecord:
        fetched_at = fetched_at or _now()
        shas = [hashlib.sha256(p.body).hexdigest() for p in parts]
        # The same bytes for the same table and release is the same fetch: re-landing must change nothing.
        fetch_id = hashlib.sha256(f"{table_id}|{updated}|{'|'.join(shas)}".encode()).hexdigest()[:32]
        existing = self.fetches_dir / f"{fetch_id}.json"
        if existing.exists():
            rec = self._read_fetch(existing)
            self._lift(shas, source)
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
        self._lift(shas, source)
        return record

    def _lift(self, shas: list[str], source: str) -> None:
        """Landing an object again (once the fetch is complete) lifts its quarantine: the next load checks it
        afresh and quarantines it again if it still cannot be loaded."""
        held = self.quarantined()
        for sha in dict.fromkeys(shas):
            if sha in held:
                event = {
                    "action": RELANDED,
                    "at": _now_precise(),
                    "by": who(),
                    "command": f"land from {source}",
                }
                self._append_event(sha, event)

    @staticmethod
    def _read_fetch(path: Path) -> FetchRecord:
        try:
            return FetchRecord(**orjson.loads(path.read_bytes()))
        except (orjson.JSONDecodeError, TypeError) as exc:
            raise LandingError(f"fetch record {path} is unreadable: {exc}") from exc

    def fetches(
        self, table_ids: Iterable[str] | None = None, *, include_quarantined: bool = False
    ) -> Iterator[FetchRecord]:
        """Every complete fetch, oldest release first; a fetch with a quarantined part only if asked for."""
        wanted = set(table_ids) if table_ids is not None else None
        held = set() if include_quarantined else set(self.quarantined())
        records = []
        for rec in self._fetch_records():
            if (wanted is None or rec.table_id in wanted) and not held.intersection(rec.objects):
                records.append(rec)
        records.sort(key=lambda r: (r.updated or "", r.fetched_at, r.table_id, r.fetch_id))
        yield from records

    def _fetch_records(self) -> list[FetchRecord]:
        """Every fetch record in the store; a file unchanged since this store last read it is not read again."""
        try:
            entries = [e for e in os.scandir(self.fetches_dir) if e.name.endswith(".json") and e.is_file()]
        except FileNotFoundError:
            return []
        seen, records = {}, []
        for entry in sorted(entries, key=lambda e: e.name):
            st = entry.stat()
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
            cached = self._fetch_cache.get(entry.name)
            rec = cached[1] if cached is not None and cached[0] == key else self._read_fetch(Path(entry.path))
            seen[entry.name] = (key, rec)
            records.append(rec)
        self._fetch_cache = seen
        return records

    def manifest_row(self, sha256: str) -> LandedObject:
        path = self.manifest_dir / f"{sha256}.json"
        try:
            return LandedObject(**orjson.loads(path.read_bytes()))
        except FileNotFoundError as exc:
            raise LandingError(f"manifest row for landing object {sha256} is missing ({path})") from exc

    def releases(self) -> dict[str, set[str]]:
        """Landed releases: table id → the set of ``updated`` timestamps with a complete fetch.

        A fetch with a quarantined part does not count: that release is fetched again."""
        out: dict[str, set[str]] = {}
        for rec in self.fetches():
            out.setdefault(rec.table_id, set()).add(rec.updated or "")
        return out

    def objects(self) -> list[LandedObject]:
        """The manifest row of every landed object, oldest release first."""
        rows = []
        for path in sorted(self.manifest_dir.glob("*.json")) if self.manifest_dir.exists() else []:
            try:
                rows.append(LandedObject(**orjson.loads(path.read_bytes())))
            except (orjson.JSONDecodeError, TypeError) as exc:
                raise LandingError(f"manifest row {path} is unreadable: {exc}") from exc
        rows.sort(key=lambda r: (r.updated or "", r.table_id, r.fetched_at, r.fetch_id, r.part))
        return rows

    def object_size(self, sha256: str) -> int | None:
        """The stored object's size in bytes, or None when its file is missing."""
        try:
            return self.object_path(sha256).stat().st_size
        except FileNotFoundError:
            return None

    # --- quarantine -----------------------------------------------------------------------------------

    def _quarantine_path(self, sha256: str) -> Path:
        return self.quarantine_dir / f"{sha256}.json"

    @contextmanager
    def _quarantine_lock(self) -> Iterator[None]:
        # Read-modify-write of one record: two commands quarantining at once must not lose an event.
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        with open(self.quarantine_dir / ".lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read_quarantine(self, path: Path) -> dict:
        try:
            doc = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise LandingError(f"quarantine record {path} is unreadable: {exc}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
            raise LandingError(f"quarantine record {path} is unreadable: no list of events")
        return doc

    @staticmethod
    def _history(doc: dict) -> list[Quarantine]:
        """Each quarantine event of one record, with the release (or re-landing) that ended it, if any."""
        out: list[Quarantine] = []
        for event in doc["events"]:
            if event.get("action") == QUARANTINE:
                out.append(
                    Quarantine(
                        sha256=doc["sha256"],
                        table_id=doc.get("table_id") or "",
                        updated=doc.get("updated"),
                        fetch_id=doc.get("fetch_id"),
                        reason=event.get("reason") or "",
                        quarantined_at=event["at"],
                        quarantined_by=event.get("by") or "",
                        command=event.get("command") or "",
                    )
                )
            elif out and out[-1].active:
                by = event.get("by")
                out[-1] = Quarantine(
                    **{
                        **asdict(out[-1]),
                        "released_at": event["at"],
                        "released_by": by,
                        "released_command": event.get("command"),
                    }
                )
        return out

    def quarantine_history(self) -> list[Quarantine]:
        """Every quarantine ever made, released ones included, oldest first."""
        events: list[Quarantine] = []
        for path in sorted(self.quarantine_dir.glob("*.json")) if self.quarantine_dir.exists() else []:
            events += self._history(self._read_quarantine(path))
        events.sort(key=lambda q: (q.quarantined_at, q.sha256))
        return events

    def quarantined(self) -> dict[str, Quarantine]:
        """The objects quarantined now: sha256 → its quarantine."""
        out: dict[str, Quarantine] = {}
        for path in sorted(self.quarantine_dir.glob("*.json")) if self.quarantine_dir.exists() else []:
            history = self._history(self._read_quarantine(path))
            if history and history[-1].active:
                out[history[-1].sha256] = history[-1]
        return out

    def _append_event(self, sha256: str, event: dict, header: dict | None = None) -> dict:
        with self.writing(), self._quarantine_lock():
            path = self._quarantine_path(sha256)
            doc = (
                self._read_quarantine(path)
                if path.exists()
                else {"sha256": sha256, **(header or {}), "events": []}
            )
            doc["events"].append(event)
            _atomic_write(path, orjson.dumps(doc, option=orjson.OPT_INDENT_2))
            return doc

    def quarantine(self, sha256: str, reason: str, *, command: str, by: str | None = None) -> Quarantine:
        """Take one object out of what builds load, keeping its bytes; its quarantine (the current one, if it
        is quarantined already). ``reason`` says why, ``command`` what quarantined it."""
        if not reason or not reason.strip():
            raise LandingError(f"landing object {sha256}: a quarantine needs a reason")
        current = self.quarantined().get(sha256)
        if current is not None:
            return current
        try:
            row = self.manifest_row(sha256)
        except LandingError:
            if not self.object_path(sha256).exists():
                raise LandingError(f"no landed object has sha256 {sha256}") from None
            row = None
        header = {
            "table_id": row.table_id if row else "",
            "updated": row.updated if row else None,
            "fetch_id": row.fetch_id if row else None,
        }
        event = {
            "action": QUARANTINE,
            "at": _now_precise(),
            "reason": " ".join(reason.split()),
            "by": by or who(),
            "command": command,
        }
        return self._history(self._append_event(sha256, event, header))[-1]

    def release(self, sha256: str, *, command: str, by: str | None = None) -> Quarantine:
        """Take a quarantined object back into what builds load; the quarantine it ended."""
        if sha256 not in self.quarantined():
            raise LandingError(f"landing object {sha256} is not quarantined")
        event = {"action": RELEASE, "at": _now_precise(), "by": by or who(), "command": command}
        return self._history(self._append_event(sha256, event))[-1]

    def resolve(self, ref: str, *, among: Iterable[str] | None = None) -> list[str]:
        """The objects ``ref`` names: a sha256, a unique sha256 prefix (at least 4 hex digits), or a release
        key ``TABLE@UPDATED`` (``updated`` as landed, or the publication ``YYYY-MM``: every object of that
        table's fetches of the release). ``among`` limits the candidates (e.g. to quarantined objects).

        Raises :class:`LandingError` with one line for an unknown sha, an ambiguous prefix or an unknown
        release key."""
        from pipeline.ssb.calendar import release_for
        from pipeline.ssb.vintage import parse_updated

        ref = ref.strip()
        rows = self.objects()
        candidates: dict[str, LandedObject | None] = {r.sha256: r for r in rows}
        if among is not None:
            keep = set(among)
            # An object quarantined without a manifest row (its fetch died before writing it) has no release.
            candidates = {s: candidates.get(s) for s in keep}
        where = " among the quarantined objects" if among is not None else ""
        if "@" in ref:
            table_id, _, when = ref.partition("@")
            table_id, when = table_id.strip(), when.strip()
            if not table_id or not when:
                raise LandingError(
                    f"{ref!r} is not a release key: write TABLE@UPDATED, e.g. 13502@2024-06 or "
                    "13502@2024-06-17T06:00:00Z"
                )
            is_key = len(when) == 7 and when[4] == "-" and when[:4].isdigit() and when[5:].isdigit()
            try:
                moment = None if is_key else parse_updated(when)
            except ValueError:
                raise LandingError(
                    f"{ref!r} is not a release key: {when!r} is neither a publication (YYYY-MM) nor an "
                    "'updated' timestamp"
                ) from None

            def matches(row: LandedObject) -> bool:
                if row.table_id != table_id or not row.updated:
                    return False
                try:
                    at = parse_updated(row.updated)
                except ValueError:
                    return False
                if is_key:
                    rel = release_for(at)
                    return rel is not None and rel.key == when
                return at == moment

            found = [s for s, r in candidates.items() if r is not None and matches(r)]
            if not found:
                known = sorted({r.updated or "" for r in rows if r.table_id == table_id})
                hint = f"; table {table_id} has releases {', '.join(known)}" if known else ""
                raise LandingError(f"no landed release {ref}{where}{hint}")
            return found
        sha = ref.lower()
        if not sha or not _HEX.issuperset(sha) or len(sha) > 64:
            raise LandingError(
                f"{ref!r} is neither a sha256 (or a prefix of one) nor a release key TABLE@UPDATED "
                "(e.g. 13502@2024-06)"
            )
        if len(sha) < SHA_PREFIX_MIN:
            raise LandingError(
                f"sha256 prefix {ref!r} is too short: give at least {SHA_PREFIX_MIN} hex digits"
            )
        found = sorted(s for s in candidates if s.startswith(sha))
        if not found:
            raise LandingError(f"no landed object{where} has sha256 {sha if len(sha) == 64 else sha + '…'}")
        if len(found) > 1:
            shown = ", ".join(s[:12] for s in found[:5]) + (" …" if len(found) > 5 else "")
            raise LandingError(f"sha256 prefix {ref!r} is ambiguous: {len(found)} objects{where} ({shown})")
        return found
