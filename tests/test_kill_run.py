"""A run killed mid-build leaves the published warehouse exactly as it was, and the next run completes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.demo_build import TINY_DIMS, TINY_TABLE, copy_home
from tests.jsonstat_factory import make_doc

pytestmark = pytest.mark.slow

KOSTRA = str(Path(sys.executable).with_name("kostra"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _kostra(env, *args, timeout=600):
    return subprocess.run([KOSTRA, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_killed_build_leaves_the_published_warehouse_and_the_next_run_completes(tmp_path, tiny_built_home):
    # The first run (13502's March release: `kostra ingest-file`, `kostra build`) is the run's shared tiny
    # home; this test works on its own copy.
    home = copy_home(tiny_built_home, tmp_path / "home")
    env = {**os.environ, "KOSTRA_HOME": str(home)}
    published = home / "kostra.duckdb"
    assert published.exists()
    before = _sha(published)

    june = tmp_path / "june.json"
    june.write_bytes(
        make_doc(
            TINY_TABLE,
            TINY_DIMS,
            default=2.0,
            updated="2025-06-16T06:00:00Z",
        )
    )
    assert _kostra(env, "ingest-file", str(june)).returncode == 0
    proc = subprocess.Popen(
        [KOSTRA, "build"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    # Kill the whole process group once dbt is under way (its first model has started).
    deadline = time.time() + 120
    out = b""
    while time.time() < deadline:
        line = proc.stdout.readline()
        out += line
        if b"START sql" in line or b"START seed" in line or proc.poll() is not None:
            break
    assert proc.poll() is None, out.decode()[-3000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert _sha(published) == before  # untouched: the kill happened before any publish
    assert not list((tmp_path / "home").glob(".kostra.*.tmp"))

    again = _kostra(env, "build")
    assert again.returncode == 0, again.stderr[-3000:]
    assert _sha(published) != before
    import duckdb

    con = duckdb.connect(str(published), read_only=True)
    try:
        rows = con.execute(
            "select vintage, value from marts.indicator_values where municipality_id = '3201' and year = 2024"
        ).fetchall()
    finally:
        con.close()
    assert rows == [("revised", 2.0)]  # the June release, built whole
