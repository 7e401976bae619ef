"""``kostra run --releases`` is checked before any work starts: a malformed key, a month KOSTRA does not publish
in, a release before the first or not out yet, a reversed range, a release the statbank asked does not serve
are each one line naming ``--releases`` and the bad value, exit code 2, within seconds, and nothing is written
(no home, no demo, no Dagster instance)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from pipeline.cli import FIRST_DATA_YEAR, FIRST_RELEASE, UsageError, parse_releases, published_releases
from tests.conftest import REPO_ROOT

NOW = datetime.now(UTC)
CURRENT = published_releases()[-1]
DEMO_LAST = "2025-06"  # the demo release: data years 2015-2024 (pipeline.demo.generate's defaults)


def _run(tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "KOSTRA_HOME": str(tmp_path / "home"),
            "DAGSTER_HOME": str(tmp_path / "dagster"),
            # A live run must not get as far as the network either.
            "KOSTRA_SSB_V0_ROOT": "http://127.0.0.1:9/api/v0",
            "KOSTRA_SSB_V2_ROOT": "http://127.0.0.1:9/api/pxwebapi/v2",
        },
    )
    return proc, time.monotonic() - started


BAD = [
    pytest.param(
        ["--releases", "2024-3"], "'2024-3' is not a release key (YYYY-03 or YYYY-06", id="malformed"
    ),
    pytest.param(["--releases", "24-03"], "'24-03' is not a release key", id="short-year"),
    pytest.param(["--releases", "2024-05"], "KOSTRA publishes in March (YYYY-03) and June", id="month"),
    pytest.param(["--releases", "2015-06"], f"is before the first release, {FIRST_RELEASE}", id="too-early"),
    pytest.param(
        ["--releases", f"{NOW.year + 5}-03"],
        f"{NOW.year + 5}-03 is not out yet (due {NOW.year + 5}-03-",
        id="future",
    ),
    pytest.param(
        ["--releases", "2025-06..2024-03"],
        "the range 2025-06..2024-03 is reversed (write 2024-03..2025-06)",
        id="reversed",
    ),
    pytest.param(["--releases", "2024-03,,2024-06"], "an empty release key between commas", id="empty-item"),
    pytest.param(["--releases", ""], "no release keys given", id="empty"),
    pytest.param(
        ["--releases", f"2024-03..{CURRENT}"],
        f"the demo statbank serves releases 2016-03..{DEMO_LAST}, not ",
        id="beyond-the-demo",
    ),
    pytest.param(
        ["--live", "--releases", "2016-03"],
        f"a live run fetches SSB's current release only ({CURRENT})",
        id="live-old",
    ),
]


@pytest.mark.parametrize(("args", "why"), BAD)
def test_a_bad_releases_value_is_one_line_exit_2_and_nothing_written(tmp_path, args, why):
    proc, elapsed = _run(tmp_path, *args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    (line,) = lines
    value = args[-1]
    assert line.startswith(f"error: --releases {value if value else repr(value)}: "), line
    assert why in line
    assert "Traceback" not in proc.stderr
    assert elapsed < 15  # no demo generated, no Dagster started: the interpreter's start and the check
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no home, no Dagster instance


AT = datetime(2025, 6, 20, 12, tzinfo=UTC)  # after the June 2025 release (Monday 16 June, the 15th a Sunday)


def test_keys_and_ranges_name_the_releases_oldest_first():
    assert parse_releases("2025-03,2024-06", AT) == ["2024-06", "2025-03"]
    assert parse_releases("2024-03..2025-03", AT) == ["2024-03", "2024-06", "2025-03"]
    assert parse_releases(" 2016-03..2016-06 , 2025-06 ", AT) == ["2016-03", "2016-06", "2025-06"]
    assert parse_releases("2024-06..2024-06,2024-06", AT) == ["2024-06"]


def test_a_release_is_out_by_the_calendar_not_by_the_15th():
    sunday_15th = datetime(2025, 6, 15, 12, tzinfo=UTC)
    with pytest.raises(
        UsageError, match=r"2025-06 is not out yet \(due 2025-06-16\); the current release is 2025-03"
    ):
        parse_releases("2025-06", sunday_15th)
    assert parse_releases("2025-06", datetime(2025, 6, 16, 7, tzinfo=UTC)) == ["2025-06"]  # 08:00 Oslo


@pytest.mark.slow  # Dagster's partitions
def test_the_first_release_is_the_partitions_first():
    from orchestration import partitions

    assert (FIRST_DATA_YEAR, FIRST_RELEASE) == (partitions.FIRST_DATA_YEAR, partitions.FIRST_RELEASE)
    assert published_releases(AT) == partitions.release_keys(AT)
