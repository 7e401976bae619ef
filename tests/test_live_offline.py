"""Without a network, live runs fail fast and clearly: ``kostra run --live`` pointed at a closed port or an
unresolvable host exits within seconds with one line naming the host and what to check, publishes nothing;
``kostra fetch`` reports each failed table on its own line and still fetches the others."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO_ROOT
from tests.pxweb_fixtures import recorded_server

pytestmark = pytest.mark.slow  # `kostra run --live` and `kostra fetch` start Dagster runs


def kostra(
    args: list[str], home, timeout: float = 120, **env: str
) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env={**os.environ, "KOSTRA_HOME": str(home), **env},
    )
    return proc, time.monotonic() - started


@pytest.mark.parametrize(
    ("root", "host", "why"),
    [
        ("http://127.0.0.1:9", "127.0.0.1:9", "the connection was refused"),
        (
            "http://kostra-no-such-host.invalid/",
            "kostra-no-such-host.invalid",
            "the host name does not resolve",
        ),
    ],
)
def test_run_live_without_network_fails_fast_in_one_line(tmp_path, root, host, why):
    home = tmp_path / "home"
    base = root.rstrip("/")
    proc, elapsed = kostra(
        ["run", "--live"],
        home,
        KOSTRA_SSB_V0_ROOT=f"{base}/api/v0",
        KOSTRA_SSB_V2_ROOT=f"{base}/api/pxwebapi/v2",
    )
    assert proc.returncode != 0
    assert elapsed < 60
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    (line,) = lines
    assert f"cannot reach {host}: {why}" in line
    assert "network" in line and "proxy" in line and "KOSTRA_SSB_V0_ROOT" in line
    assert not (home / "kostra.duckdb").exists()  # nothing published
    assert not any((home / "landing").rglob("*.json")) if (home / "landing").exists() else True


def test_fetch_reports_each_failed_table_and_fetches_the_others(tmp_path):
    with recorded_server(max_calls=1000, window_seconds=1) as server:
        proc, _ = kostra(
            [
                "fetch",
                "12345",
                "99001",
                "--years",
                "all",
                "--v0-root",
                server.v0_root,
                "--v2-root",
                server.v2_root,
            ],
            tmp_path / "home",
        )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    err = proc.stderr
    assert "table 99001: landed release 2024-06-17T06:00:00Z, 144 cells" in err
    assert "2 tables: 1 landed, 0 already current, 1 failed" in err
    failed = [line for line in err.splitlines() if line.startswith("table 12345: SsbCatalogue")]
    assert len(failed) == 1
    assert "the catalogue names this table but the statbank has no such table" in failed[0]
    assert "(SSB answered: Non-existent table)" in failed[0]
