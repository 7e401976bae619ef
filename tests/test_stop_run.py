"""Runs that stop: SIGTERM (``kill``) during ``kostra run``'s ingest and SIGINT (Ctrl+C, to the whole process
group) during ``kostra build``'s dbt step end the command within seconds with exit code 143 / 130 and one line,
the in-process Dagster run marked CANCELED, no child process left (dbt, Dagster's log tails), the published
warehouse byte for byte as it was, the landing store whole. A build killed outright (SIGKILL to the group)
leaves the published warehouse as it was too, and its run is failed as abandoned by the next. After each, the
next run of the same command completes. Analysts reading the published warehouse all the while (held open, or
opened per query) never get an error, never hold a build up and never see half a build."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipeline import interrupt
from pipeline.config import REPO_ROOT
from tests.demo_build import TINY_DIMS, TINY_TABLE, copy_home
from tests.jsonstat_factory import make_doc

pytestmark = pytest.mark.slow

KOSTRA = str(Path(sys.executable).with_name("kostra"))
# Small runs of one table. The Ctrl+C test builds a copy of the shared tiny home again (one 13502 release,
# built and published): the build job is the same whatever the home holds, and a small home's build reaches
# dbt within seconds. The SIGTERM test starts from an empty home with every demo release (twenty), so that its ingest run
# lasts long enough to be caught in the middle.
BUILD = ["build"]
RUN_LONGER_INGEST = ["run", "--releases", "2016-03..2025-06", "--tables", "13502"]
STOP_WITHIN = 10.0  # seconds from the signal to the process's exit


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def dagster_env(tmp_path, monkeypatch) -> dict:
    """A Dagster instance of the test's own (the settings `make dev` uses), read by the test as well."""
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copy(REPO_ROOT / "orchestration" / "dagster.yaml", dagster_home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    return {**os.environ, "DAGSTER_HOME": str(dagster_home)}


def _start(env: dict, args: list[str]) -> subprocess.Popen:
    # Its own session: the test can tell its processes (and their orphans) from everyone else's.
    return subprocess.Popen(
        [KOSTRA, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )


def _runs() -> list[dg.DagsterRun]:
    with dg.DagsterInstance.get() as instance:
        return list(instance.get_runs())


def _wait_for_a_started_run(proc: subprocess.Popen, job_name: str, timeout: float = 300) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
        started = [r for r in _runs() if r.job_name == job_name and r.status == dg.DagsterRunStatus.STARTED]
        if started:
            return started[0]
        time.sleep(0.2)
    raise AssertionError(f"no {job_name} run started within {timeout} s")


def _wait_for_a_running_step(proc: subprocess.Popen, run: dg.DagsterRun, step_key: str, timeout: float = 300):
    """Until ``step_key`` of ``run`` has started. A signal before that (the run starting, its resources set
    up) is one Dagster only notes: the run then goes on to the end and is a success, not cancelled."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
        with dg.DagsterInstance.get() as instance:
            started = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
        if any(e.step_key == step_key for e in started):
            return
        time.sleep(0.1)
    raise AssertionError(f"step {step_key} of run {run.run_id} did not start within {timeout} s")


def _stop(proc: subprocess.Popen, sig: int, *, group: bool) -> tuple[int, float, str]:
    """Send ``sig`` (to the process or its whole group, as a terminal's Ctrl+C does); (exit code, seconds
    to the exit, the output after the signal)."""
    sent = time.monotonic()
    (os.killpg if group else os.kill)(proc.pid, sig)
    try:
        rest, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc.returncode, time.monotonic() - sent, rest.decode()


def _left_over(session: int, home: Path) -> list[str]:
    """Processes still alive from the stopped run: in its session, or naming its home (dbt's log path)."""
    left = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] == "Z":
            continue  # gone, waiting to be reaped by init
        if int(fields[3]) == session or str(home) in cmdline:
            left.append(f"{entry}: {cmdline[:200]}")
    return left


def _no_process_left(session: int, home: Path) -> None:
    deadline = time.monotonic() + 3
    while _left_over(session, home) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _left_over(session, home) == []


def _landing_whole(home: Path) -> None:
    landing = home / "landing"
    assert not [p for p in landing.rglob("*") if p.name.startswith(".") and p.suffix == ".tmp"]
    for path in landing.rglob("*.json"):
        json.loads(path.read_bytes())  # every file whole


def _stop_line(out: str, name: str, log_dir: Path, command: str) -> str:
    last = out.strip().splitlines()[-1]
    assert last.startswith(
        f"stopped by {name}; the published warehouse is unchanged, the landing store whole"
    )
    assert last.endswith(".log)") and " (log: " in last
    log = Path(last.rsplit(" (log: ", 1)[1][:-1])
    assert log.parent == log_dir and log.name.endswith(f"-{command}.log")
    assert last in log.read_text(encoding="utf-8")
    return last


def _next_run_completes(env: dict, args: list[str]) -> None:
    again = subprocess.run([KOSTRA, *args], env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]


def test_sigterm_during_the_ingest_run_stops_it_and_cancels_the_dagster_run(tmp_path, dagster_env):
    home = tmp_path / "home"
    env = {**dagster_env, "KOSTRA_HOME": str(home)}
    published = home / "kostra.duckdb"
    proc = _start(env, RUN_LONGER_INGEST)
    run = _wait_for_a_started_run(proc, "ingest_release")
    _wait_for_a_running_step(proc, run, "ssb__table_13502")
    code, seconds, out = _stop(proc, signal.SIGTERM, group=False)
    print(f"SIGTERM during the ingest run: exit {code} after {seconds:.2f} s")

    assert code == 128 + signal.SIGTERM, out[-3000:]
    assert seconds < STOP_WITHIN
    _stop_line(out, "SIGTERM", home / "logs", "run")
    assert "Traceback" not in out
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED
        events = {e.dagster_event.event_type for e in instance.all_logs(run.run_id) if e.dagster_event}
    # The step stopped, and was not put up for retry (the run then went on, and ended at the watchdog's
    # deadline or as a success).
    assert dg.DagsterEventType.STEP_UP_FOR_RETRY not in events
    assert seconds < interrupt.DEADLINE
    assert not [r for r in _runs() if r.status in (dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING)]
    _no_process_left(proc.pid, home)
    assert not published.exists()  # nothing was published
    _landing_whole(home)

    _next_run_completes(env, RUN_LONGER_INGEST)
    assert published.exists()


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


class _Readers:
    """Analysts querying the published warehouse in a loop while the builds run: one holds its connection for
    the whole session (a notebook), two open one per query (a dashboard)."""

    def __init__(self, published: Path) -> None:
        ctx = mp.get_context("spawn")
        self.out, self.stop = ctx.Queue(), ctx.Event()
        self.procs = [
            ctx.Process(target=_reader, args=(str(published), hold, self.stop, self.out))
            for hold in (True, False, False)
        ]
        for proc in self.procs:
            proc.start()

    def results(self) -> list[tuple[bool, list[str], list[str], int]]:
        self.stop.set()
        results = [self.out.get(timeout=60) for _ in self.procs]
        for proc in self.procs:
            proc.join(timeout=30)
        return results

    def close(self) -> None:
        self.stop.set()
        for proc in self.procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()


def _start_dbt(env: dict) -> subprocess.Popen:
    """``kostra build`` in a session of its own, returned once dbt has started its first node."""
    proc = _start(env, BUILD)
    out = b""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        out += line
        if b" START sql " in line or b" START seed " in line or not line:
            break  # dbt is building
    assert proc.poll() is None, out.decode()[-3000:]
    return proc


def test_ctrl_c_then_a_kill_during_dbt_leave_the_warehouse_as_it_was_and_the_next_build_completes(
    tmp_path, tiny_built_home, dagster_env
):
    """Two builds stopped in their dbt step, one after the other on the same home and Dagster instance (as an
    analyst who presses Ctrl+C, then loses the machine, would leave it), then a build that completes, while
    analysts read the published warehouse the whole time: no reader error, no build waiting for or failing on
    the readers, and every reader sees whole builds only."""
    home = copy_home(tiny_built_home, tmp_path / "home")
    env = {**dagster_env, "KOSTRA_HOME": str(home)}
    published = home / "kostra.duckdb"
    before = _sha(published)
    inode = published.stat().st_ino
    readers = _Readers(published)
    try:
        _stopped_killed_completed(tmp_path, home, env, published, before, inode)
        time.sleep(1)
        results = readers.results()
    finally:
        readers.close()
    for hold, seen, errors, queries in results:
        assert errors == []
        assert queries > 10
        if hold:
            assert seen == ["2025-03-17 07:00:00"]  # the build it opened, whole, to the end
        else:
            assert seen[-1] == "2025-06-16 06:00:00"  # a new connection always gets the newest build


def _stopped_killed_completed(
    tmp_path: Path, home: Path, env: dict, published: Path, before: str, inode: int
):

    # Ctrl+C: the whole process group gets SIGINT, as from a terminal.
    proc = _start_dbt(env)
    (run,) = [r for r in _runs() if r.job_name == "build_and_publish"]
    code, seconds, rest = _stop(proc, signal.SIGINT, group=True)
    print(f"Ctrl+C during dbt: exit {code} after {seconds:.2f} s")
    assert code == 128 + signal.SIGINT, rest[-3000:]
    assert seconds < STOP_WITHIN
    _stop_line(rest, "SIGINT", home / "logs", "build")
    # No traceback of kostra's own. (Ctrl+C reaches the whole group: Dagster's compute-log helpers, which a
    # persistent instance starts, print their own KeyboardInterrupt before they go.)
    assert "pipeline/" not in rest and "orchestration/" not in rest, rest[-3000:]
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED
    _no_process_left(proc.pid, home)
    assert _sha(published) == before
    assert not list(home.glob(".kostra.*.tmp"))
    _landing_whole(home)

    # SIGKILL to the whole group (the machine lost), with a June release landed that the build was loading.
    june = tmp_path / "june.json"
    june.write_bytes(make_doc(TINY_TABLE, TINY_DIMS, default=2.0, updated="2025-06-16T06:00:00Z"))
    landed = subprocess.run([KOSTRA, "ingest-file", str(june)], env=env, capture_output=True, text=True)
    assert landed.returncode == 0, landed.stderr[-3000:]
    proc = _start_dbt(env)
    killed = {r.run_id for r in _runs() if r.status == dg.DagsterRunStatus.STARTED}
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    _no_process_left(proc.pid, home)
    assert _sha(published) == before  # untouched: the kill happened before any publish
    assert not list(home.glob(".kostra.*.tmp"))
    _landing_whole(home)

    # The next build completes: it builds the June release whole and publishes a new file.
    _next_run_completes(env, BUILD)
    assert published.stat().st_ino != inode  # built and published again (a new file renamed into place)
    con = duckdb.connect(str(published), read_only=True)
    try:
        rows = con.execute(
            "select vintage, value from marts.indicator_values where municipality_id = '3201' and year = 2024"
        ).fetchall()
    finally:
        con.close()
    assert rows == [("revised", 2.0)]
    # The killed run was found abandoned and failed (which frees its pool slot); nothing is left running.
    with dg.DagsterInstance.get() as instance:
        assert killed and {instance.get_run_by_id(r).status for r in killed} == {dg.DagsterRunStatus.FAILURE}
    assert not [r for r in _runs() if r.status in (dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING)]
