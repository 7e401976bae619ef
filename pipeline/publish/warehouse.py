"""Publish the analyst warehouse atomically.

DuckDB allows one writer or many readers, never both. The pipeline therefore builds into a private file and
publishes a copy: the copy is written under a temporary name in the same folder and renamed over
``kostra.duckdb``. A rename is atomic on POSIX, so an analyst who holds the old file open keeps reading the
old build (its inode lives on) and anyone who opens the path afterwards gets the whole new build: nobody
waits for a lock and nobody sees half a build. The previous versions are kept as hard links in
``versions/``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline.config import Home
from pipeline.files import readable_mode, replacing
from pipeline.transform.reference_state import STATE_SCHEMA

DEFAULT_KEEP = 5
# dbt's working layers, the quality stage's own output and what the next build knows of this one: the
# analyst's file holds raw, reference and marts only (dbt Labs' guide: intermediate models are not exposed;
# the findings are in marts.dq_findings). The private build file keeps them for the quality checks and the
# next build.
PRIVATE_SCHEMAS = ("staging", "intermediate", "quality", STATE_SCHEMA)


class PublishError(RuntimeError):
    """The build could not be published; the previous warehouse is unchanged."""


@dataclass(frozen=True)
class Published:
    path: Path
    previous: Path | None
    bytes: int


def _verify(path: Path) -> None:
    # Open the copy read-only before it replaces anything: a broken copy must never be published.
    try:
        con = duckdb.connect(str(path), read_only=True)
        try:
            (cells,) = con.execute("select count(*) from raw.cells").fetchone()
        finally:
            con.close()
    except duckdb.Error as exc:
        raise PublishError(f"the build copy {path} does not open as a warehouse: {exc}") from exc
    if cells == 0:
        raise PublishError(
            "the build is empty (no cells were loaded), so it is not published; land a release first "
            "(`kostra run`, `kostra fetch` or `kostra ingest-file`)"
        )


def _strip_private(path: Path) -> None:
    """Drop dbt's staging and intermediate schemas from the copy that analysts will open."""
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise PublishError(f"the build copy {path} does not open as a warehouse: {exc}") from exc
    try:
        for schema in PRIVATE_SCHEMAS:
            con.execute(f"drop schema if exists {schema} cascade")
        con.execute("checkpoint")
    finally:
        con.close()


def publish(home: Home, *, keep: int = DEFAULT_KEEP) -> Published:
    """Copy the (closed) build file into place as the analyst warehouse."""
    src = home.build_db
    if not src.exists():
        raise PublishError(f"nothing to publish: the build file {src} does not exist (run `kostra build`)")
    home.ensure()
    dest = home.published_db
    with open(dest.parent / ".publish.lock", "w") as lock:
        # One publisher at a time; whoever holds the lock knows every leftover copy is a killed run's, with
        # its DuckDB write-ahead log (``….duckdb.tmp.wal``: a kill while the private schemas were dropped).
        fcntl.flock(lock, fcntl.LOCK_EX)
        for stale in dest.parent.glob(".kostra.*.duckdb.tmp*"):
            stale.unlink(missing_ok=True)
        return _publish_locked(home, src, dest, keep)


def _publish_locked(home: Home, src: Path, dest: Path, keep: int) -> Published:
    # 0644 less the user's umask: other analysts' accounts may read the warehouse.
    with replacing(
        dest, mode=readable_mode(0o644), temporary=".kostra.{token}.duckdb.tmp", companions=(".wal",)
    ) as tmp:
        shutil.copyfile(src, tmp)
        _strip_private(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        _verify(tmp)
        previous = None
        if dest.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            previous = home.versions_dir / f"kostra-{stamp}.duckdb"
            os.link(dest, previous)
    _prune(home.versions_dir, keep)
    return Published(dest, previous, dest.stat().st_size)


def _prune(versions: Path, keep: int) -> None:
    olds = sorted(versions.glob("kostra-*.duckdb"))
    for old in olds[: max(0, len(olds) - keep)]:
        old.unlink(missing_ok=True)


def connect_published(home: Home) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the analyst warehouse."""
    path = home.published_db
    if not path.exists():
        raise FileNotFoundError(
            f"no published warehouse at {path}: run `make demo`, `kostra run` or `kostra build` first"
        )
    return duckdb.connect(str(path), read_only=True)
