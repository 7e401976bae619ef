"""Analysts hold the published warehouse open and query it in a loop while a full run publishes:
no reader error, no lock error in the pipeline, and every reader sees whole builds only."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.demo_build import TINY_DIMS, TINY_RELEASE, TINY_TABLE, copy_home
from tests.jsonstat_factory import make_doc

pytestmark = pytest.mark.slow

KOSTRA = str(Path(sys.executable).with_name("kostra"))
# The first release is the run's shared tiny home (tests/demo_build.py: ingested and built once, copied here);
# the test ingests and builds the next one while the readers read.
RELEASES = [TINY_RELEASE, "2026-03-16T07:00:00Z"]


def _reader(path: str, hold: bool, stop, out) -> None:
    """``hold``: one connection for the whole session (an analyst's open notebook); otherwise a new
    connection per query (a dashboard). DuckDB caches one database instance per path and process, so a
    process that holds a connection keeps reading the build it opened: whole, but not the newest."""
    seen, errors, queries = set(), [], 0
    held = duckdb.connect(path, read_only=True) if hold else None
    while not stop.is_set():
        try:
            con = held or duckdb.connect(path, read_only=True)
            raw_newest, mart_newest, findings = con.execute(
                "select (select max(release_updated) from raw.releases), "
                "(select max(release_updated) from marts.indicator_values), "
                "(select count(*) from marts.dq_findings)"
            ).fetchall()[0]
            if con is not held:
                con.close()
            # A whole build has marts built from the same releases as its raw cells, and its checks have run.
            if raw_newest != mart_newest or findings is None:
                errors.append(f"half a build: raw {raw_newest} vs marts {mart_newest}")
            seen.add(str(raw_newest))
            queries += 1
        except Exception as exc:  # every reader error fails the test
            errors.append(repr(exc))
        time.sleep(0.2)
    if held is not None:
        held.close()
    out.put((hold, sorted(seen), errors, queries))


def test_readers_never_block_a_run_and_never_see_half_a_build(tmp_path, tiny_built_home):
    home = copy_home(tiny_built_home, tmp_path / "home")  # release 0 (value 1.0), ingested and built
    env = {**os.environ, "KOSTRA_HOME": str(home)}

    def ingest_and_build(i: int) -> None:
        f = tmp_path / f"release{i}.json"
        f.write_bytes(make_doc(TINY_TABLE, TINY_DIMS, updated=RELEASES[i], default=float(i + 1)))
        for args in (["ingest-file", str(f)], ["build"]):
            done = subprocess.run([KOSTRA, *args], env=env, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stderr[-3000:]

    published = str(home / "kostra.duckdb")
    ctx = mp.get_context("spawn")
    out, stop = ctx.Queue(), ctx.Event()
    readers = [
        ctx.Process(target=_reader, args=(published, hold, stop, out)) for hold in (True, False, False)
    ]
    for r in readers:
        r.start()
    try:
        ingest_and_build(1)  # the build must finish without waiting for, or failing on, the readers
        time.sleep(1)
    finally:
        stop.set()
    results = [out.get(timeout=60) for _ in readers]
    for r in readers:
        r.join(timeout=30)
    for hold, seen, errors, queries in results:
        assert errors == []
        assert queries > 10
        if hold:
            assert seen == ["2025-03-17 07:00:00"]  # the build it opened, whole, to the end
        else:
            assert seen[-1] == "2026-03-16 07:00:00"  # a new connection always gets the newest build
