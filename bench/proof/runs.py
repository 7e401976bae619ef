"""What the crash and interrupt suites share: a home that runs ``kostra`` with a Dagster instance, the local
statbank it fetches from, a ledger of every cell landed, and the checks of the warehouse after a run.

The home starts as a copy of the tests' tiny home (one 13502 release, built and published). Its Dagster
instance (``$DAGSTER_HOME`` = ``<home>/dagster``, the settings of ``make dev``) keeps every run's event log, so
a suite can tell which step a run was in when it was killed, and a killed run's pool slots must be freed by
the next run (``orchestration.run.fail_abandoned_runs``). The statbank serves 13502 with the catalogue's
contents codes and a cell limit that splits each fetch into three parts.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from bench.proof import REPO, copy_home, env_for, group_alive, leftovers, sha, start_kostra, tiny_home

TABLE = "13502"
REGIONS = ["0301", "4601", "3201", "1103", "5001", "EAK"]
PARTS = 3
# The build job's steps, in order, and what each is.
STEPS = {
    "raw_tables": "load",
    "kostra_dbt_models": "dbt",
    "quality__findings": "quality",
    "kostra_dbt_quality_models": "dbt (quality models)",
    "warehouse__published": "publish",
    "reports__quality_report": "report",
    "reports__kostra_report": "report",
}
# First guesses of each step's length (seconds), on the short side of what they take on two cores (a kill
# early in the step rather than after it); every build that finishes a step replaces its guess by what it took.
GUESSES = {
    "raw_tables": 0.4,
    "kostra_dbt_models": 10.0,
    "quality__findings": 3.0,
    "kostra_dbt_quality_models": 5.0,
    "warehouse__published": 0.25,
    "reports__quality_report": 0.4,
    "reports__kostra_report": 3.0,
}
FIRST_NEW_RELEASE = datetime(2026, 3, 16, 7, tzinfo=UTC)


class RunHome:
    """A private home with a Dagster instance, the statbank and the ledger of landed cells."""

    def __init__(self, workdir: Path, tiny: Path | None, seed: int) -> None:
        from pipeline.demo.server import RecordedSource, serve

        self.workdir = Path(workdir)
        self.rng = random.Random(seed)
        source_home = tiny or tiny_home(self.workdir)
        self.home = copy_home(source_home, self.workdir / "home")
        self.published = self.home / "kostra.duckdb"
        self.build_db = self.home / "build" / "kostra_build.duckdb"
        self.dagster = self.home / "dagster"
        self.dagster.mkdir(exist_ok=True)
        shutil.copy(REPO / "orchestration" / "dagster.yaml", self.dagster / "dagster.yaml")
        self.env = env_for(self.home, DAGSTER_HOME=str(self.dagster))
        self.logs = self.workdir / "logs"
        self.logs.mkdir(exist_ok=True)
        self.ledger = self._loaded_counts()  # (table_id, release) -> cells: what raw.cells must hold
        self.durations = dict(GUESSES)
        self.notes: list[str] = []  # what a suite should tell without counting it against a trial
        self.known_leftovers: set[str] = set(leftovers(self.home))  # already blamed on an earlier trial
        self.source = RecordedSource()
        self.releases = 0
        self.server = None
        self._serve = serve
        self._codes: list[str] | None = None
        self.procs: list = []  # every kostra started here that may still be running

    # --- the statbank ---

    def statbank(self):
        if self.server is None:
            self.new_release()
            cells = len(REGIONS) * len(self._contents())
            self.server = self._serve(
                self.source, max_calls=1000, window_seconds=1, max_cells=-(-cells // PARTS)
            )
        return self.server

    def _contents(self) -> list[str]:
        # Read from the catalogue's seeds once per home (with pandas, most of a second each time).
        if self._codes is None:
            from pipeline.landing.ingest import catalogue_filters

            self._codes = list(catalogue_filters()[TABLE]["ContentsCode"])
        return self._codes

    def _next_stamp(self) -> str:
        self.releases += 1
        at = FIRST_NEW_RELEASE + timedelta(days=self.releases)
        return at.strftime("%Y-%m-%dT%H:%M:%SZ")

    def new_release(self) -> str:
        """The statbank's next release of 13502 (one period new, as a March release has); its ``updated``."""
        from tests.jsonstat_factory import make_doc

        stamp = self._next_stamp()
        dims = {"KOKkommuneregion0000": REGIONS, "ContentsCode": self._contents(), "Tid": ["2024", "2025"]}
        self.source.add(make_doc(TABLE, dims, updated=stamp, default=float(self.releases)))
        return stamp

    def release_file(self) -> tuple[Path, str]:
        """A release of 13502 saved as a file (the tiny home's dimensions), for ``kostra ingest-file``."""
        from tests.demo_build import TINY_DIMS
        from tests.jsonstat_factory import make_doc

        stamp = self._next_stamp()
        path = self.workdir / f"release-{self.releases}.json"
        path.write_bytes(make_doc(TABLE, TINY_DIMS, updated=stamp, default=100.0 + self.releases))
        return path, stamp

    def statbank_cells(self) -> int:
        """The cells of one fetch of the statbank's release: every region and code, the newest period."""
        return len(REGIONS) * len(self._contents())

    def fetch_args(self) -> list[str]:
        v0, v2 = self.statbank().roots()
        return ["fetch", TABLE, "--v0-root", v0, "--v2-root", v2]

    def close(self, keep: Path | None = None) -> None:
        """Stop the statbank and any ``kostra`` still running (a trial that raised); with ``keep``, copy
        every log of the suite there first (for a failed run)."""
        for proc in self.procs:
            if proc.poll() is None or group_alive(proc.pid):
                self.notes.append(f"a kostra process (pid {proc.pid}) was still running at the end: killed")
                kill_group(proc)
                reap(proc)
        if self.server is not None:
            self.server.shutdown()
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copytree(self.logs, keep / "runs", dirs_exist_ok=True)
            for name in ("logs", "dbt/logs"):
                if (self.home / name).is_dir():
                    shutil.copytree(self.home / name, keep / name.replace("/", "-"), dirs_exist_ok=True)

    # --- processes ---

    def start(self, *args: str, tag: str):
        proc = start_kostra(self.env, *args, log=self.logs / f"{tag}.log")
        self.procs = [p for p in self.procs if p.poll() is None] + [proc]
        return proc

    def run(self, *args: str, tag: str, timeout: float = 900) -> tuple[int, str]:
        proc = self.start(*args, tag=tag)
        try:
            code = proc.wait(timeout=timeout)
        except Exception:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        return code, (self.logs / f"{tag}.log").read_text(errors="replace")

    def run_dbs(self) -> set[Path]:
        runs = self.dagster / "history" / "runs"
        return {p for p in runs.glob("*.db") if p.name != "index.db"} if runs.is_dir() else set()

    # --- the ledger and the checks ---

    def _loaded_counts(self, path: Path | None = None) -> dict[tuple[str, str], int]:
        con = duckdb.connect(str(path or self.build_db), read_only=True)
        try:
            rows = con.execute(
                "select table_id, strftime(release_updated, '%Y-%m-%dT%H:%M:%SZ'), count(*) "
                "from raw.cells group by all"
            ).fetchall()
        finally:
            con.close()
        return {(t, r): n for t, r, n in rows}

    def landed_fetches(self, stamp: str) -> list:
        """The complete fetches of 13502's release ``stamp`` in the landing store, each object checked."""
        from pipeline.landing.store import LandingStore

        store = LandingStore(self.home / "landing")
        found = [r for r in store.fetches([TABLE]) if r.updated == stamp]
        for rec in found:
            for obj in rec.objects:
                store.read_object(obj)  # raises if missing or not the bytes its sha names
        return found

    def warehouse_whole(self, before: str | None) -> str:
        """'' when the published warehouse opens and is the one before or a whole new build of the ledger."""
        now = sha(self.published)
        if now is None:
            return "no published warehouse"
        try:
            con = duckdb.connect(str(self.published), read_only=True)
        except duckdb.Error as exc:
            return f"the published warehouse does not open: {exc}"
        try:
            raw_newest, mart_newest = con.execute(
                "select (select max(release_updated) from raw.releases), "
                "(select max(release_updated) from marts.indicator_values)"
            ).fetchone()
            con.execute("select count(*) from marts.dq_findings").fetchone()
        except duckdb.Error as exc:
            return f"the published warehouse is not a whole build: {exc}"
        finally:
            con.close()
        if now == before:
            return ""
        if raw_newest != mart_newest:
            return f"half a build: raw newest {raw_newest}, marts newest {mart_newest}"
        problem = self.cells_problem(self.published, whole=False)
        return f"a new publish, but {problem}" if problem else ""

    def cells_problem(self, path: Path, *, whole: bool = True) -> str:
        """'' when raw.cells in ``path`` holds every landed release's cells once (``whole``: every release
        of the ledger; otherwise only those it has must be complete, as an older build may lack newer ones)."""
        counts = self._loaded_counts(path)
        lost = {k: (n, counts.get(k, 0)) for k, n in self.ledger.items() if counts.get(k, 0) < n}
        if not whole:
            lost = {k: v for k, v in lost.items() if v[1] > 0}
        extra = {k: (self.ledger.get(k, 0), n) for k, n in counts.items() if n > self.ledger.get(k, 0)}
        con = duckdb.connect(str(path), read_only=True)
        try:
            (doubled,) = con.execute(
                "select count(*) from (select table_id, release_updated, region_code, contents_code, period "
                "from raw.cells group by all having count(*) > 1)"
            ).fetchone()
        finally:
            con.close()
        problems = []
        if lost:
            problems.append(f"cells lost {dict(list(lost.items())[:3])} (expected, found)")
        if extra:
            problems.append(f"cells doubled or unknown {dict(list(extra.items())[:3])}")
        if doubled:
            problems.append(f"{doubled} cells twice")
        return "; ".join(problems)

    def after_completed_run(self) -> str:
        """'' when a run that completed left a whole warehouse: every landed cell once (in the build file and
        the published warehouse), the newest release in the marts, nothing temporary left, no Dagster run of
        this home still marked running."""
        problems = []
        for path in (self.build_db, self.published):
            if problem := self.cells_problem(path):
                problems.append(f"{path.name}: {problem}")
        if problem := self.warehouse_whole(None):
            problems.append(problem)
        newest = max(r for _, r in self.ledger)
        con = duckdb.connect(str(self.published), read_only=True)
        try:
            (mart_newest,) = con.execute(
                "select strftime(max(release_updated), '%Y-%m-%dT%H:%M:%SZ') from marts.indicator_values"
            ).fetchone()
        finally:
            con.close()
        if mart_newest != newest:
            problems.append(f"the marts' newest release is {mart_newest}, not {newest}")
        if left := self.new_leftovers():
            problems.append(f"left behind: {left[:5]}")
        if running := self.unfinished_runs():
            problems.append(f"Dagster runs still marked running: {running}")
        return "; ".join(problems)

    def new_leftovers(self) -> list[str]:
        """Temporary files left under the home since the last call: each is blamed on one trial only."""
        now = set(leftovers(self.home))
        new = sorted(now - self.known_leftovers)
        self.known_leftovers = now
        return new

    def unfinished_runs(self) -> list[str]:
        index = self.dagster / "history" / "runs.db"
        if not index.exists():
            return []
        con = sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=5)
        try:
            rows = con.execute(
                "select run_id, status from runs where status in ('STARTING', 'STARTED', 'CANCELING', 'QUEUED')"
            ).fetchall()
        finally:
            con.close()
        return [f"{r[:8]} {s}" for r, s in rows]

    def learn_durations(self, run_db: Path) -> None:
        """Take each step's length from a completed build's event log for the next kills' timing."""
        for step, (start, end) in step_times(run_db).items():
            if step in self.durations and end is not None:
                self.durations[step] = max(0.05, end - start)


def step_times(run_db: Path) -> dict[str, tuple[float, float | None]]:
    """Each step's start and end (epoch seconds; end None while it runs) from a run's event log."""
    try:
        con = sqlite3.connect(f"file:{run_db}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return {}
    try:
        rows = con.execute(
            "select step_key, dagster_event_type, timestamp from event_logs where dagster_event_type in "
            "('STEP_START', 'STEP_SUCCESS', 'STEP_FAILURE', 'STEP_SKIPPED') order by id"
        ).fetchall()
    except sqlite3.Error:
        return {}
    finally:
        con.close()
    out: dict[str, tuple[float, float | None]] = {}
    for step, kind, stamp in rows:
        at = _epoch(stamp)
        if kind == "STEP_START":
            out[step] = (at, None)
        elif step in out:
            out[step] = (out[step][0], at)
    return out


def _epoch(stamp) -> float:
    if isinstance(stamp, (int, float)):
        return float(stamp)
    return datetime.fromisoformat(str(stamp)).replace(tzinfo=UTC).timestamp()


def running_step(run_db: Path) -> str | None:
    """The step a run was in (started, not ended); the last one that ended if it was between steps."""
    times = step_times(run_db)
    open_steps = [s for s, (_, end) in times.items() if end is None]
    if open_steps:
        return open_steps[-1]
    return f"after {max(times, key=lambda s: times[s][1] or 0)}" if times else None


@dataclass
class Watch:
    """A ``kostra build`` watched through its event log until ``step`` starts."""

    proc: object
    run_db: Path | None = None
    started: dict = field(default_factory=dict)

    def wait_for_step(self, home: RunHome, step: str, known: set[Path], timeout: float = 600) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self.run_db is None:
                new = home.run_dbs() - known
                if new:
                    self.run_db = max(new, key=lambda p: p.stat().st_mtime)
            if self.run_db is not None:
                times = step_times(self.run_db)
                if step in times:
                    return True
            time.sleep(0.05)
        return False


def kill_group(proc, signum: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signum)


def reap(proc, timeout: float = 30) -> bool:
    """Wait for the process and its whole group to be gone; True when they are."""
    try:
        proc.wait(timeout=timeout)
    except Exception:  # noqa: BLE001 - still there: the caller reports it
        return False
    deadline = time.monotonic() + timeout
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not group_alive(proc.pid)
