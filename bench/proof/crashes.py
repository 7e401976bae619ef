"""Crashes: SIGKILL to the whole process group (kostra, dbt, Dagster's helpers) at random moments.

The moments are spread over every stage (:data:`PLANS`):

- *ingest*: ``kostra fetch`` of a three-part fetch from the local statbank, killed between two parts (the next
  part held back by the server for a moment, the kill at a random point of that wait) or while the parts are
  being landed (a random moment just after the last part was answered);
- *ingest-file*: ``kostra ingest-file`` killed at a random moment after its object first appears in the
  landing store (landing, manifest, fetch record, the load into the build file);
- *load*, *dbt*, *quality*, *publish*: ``kostra build`` killed at a random moment inside that step of the
  Dagster run (``raw_tables``, ``kostra_dbt_models``/``kostra_dbt_quality_models``, ``quality__findings``,
  ``warehouse__published``): the step is seen starting in the run's event log and the kill falls uniformly within the
  step's length in the last build that finished it. The stage counted is the one the event log shows running at
  the kill. Before each killed build, ``kostra fetch`` lands a new release (not loaded), so every one of them
  has something to load, to build and to publish.

After every kill the published warehouse must open and be byte for byte the one before or a whole new build
(raw and marts of the same releases, every cell it has once). Then the next run: a fetch or an ingest-file is
run again and must land the release exactly once; build kills come in rounds, each ending in a ``kostra
build`` that must complete. After it, raw.cells in the build file and in the published warehouse holds every
landed cell exactly once (none lost, none doubled), the marts hold the newest release, no temporary file is
left anywhere under the home and no Dagster run of the home is still marked running. A kill counts as handled
only when all of that holds, its round's completed build included.

A kill that comes after the process has ended on its own is not a kill: it is tried again with an earlier
moment (and a new release), and not counted.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path

from bench.proof import Clock, SuiteResult, sha
from bench.proof.runs import PARTS, STEPS, TABLE, RunHome, Watch, kill_group, reap, running_step

# Ingest kills, ingest-file kills, and the rounds of build kills (each round ends in a completed build). Full
# size: 31 kills, 21 in ingest (a kostra fetch or ingest-file: about a second each, and the next run) and 10 in
# builds (load 2, dbt 3 of them one in its quality models, quality 2, publish 3: each a kostra build up to
# the step, most of a minute of CPU on two cores). A kill that comes too late to be one is tried again, up to
# ATTEMPTS times, and not counted if it never was.
PLANS = {
    "small": {
        "between parts": 1,
        "landing parts": 0,
        "ingest-file": 0,
        "rounds": [["kostra_dbt_models", "warehouse__published"]],
    },
    "full": {
        "between parts": 8,
        "landing parts": 6,
        "ingest-file": 7,
        "rounds": [
            [
                "raw_tables",
                "kostra_dbt_models",
                "quality__findings",
                "kostra_dbt_quality_models",
                "warehouse__published",
                "warehouse__published",
                "raw_tables",
                "kostra_dbt_models",
                "quality__findings",
                "warehouse__published",
            ]
        ],
    },
}
SEED = 20261201
ATTEMPTS = 4  # a kill that came too late is tried again, this many times in all
INGEST_FILE_CELLS = 8  # the tiny home's dimensions: 4 regions x 1 code x 2 years


def _data_posts(server) -> list:
    return [r for r in server.requests if r.method == "POST" and f"/table/{TABLE}" in r.path]


def _fetch_kill(rh: RunHome, result: SuiteResult, kind: str) -> None:
    """One ``kostra fetch`` killed between parts or while landing them; then the fetch again."""
    server = rh.statbank()
    label = f"ingest ({kind})"
    for attempt in range(ATTEMPTS):
        stamp = rh.new_release()
        server.reset()
        if kind == "between parts":
            after = rh.rng.randint(1, PARTS - 1)
            server.faults.add(kind="hang", seconds=1.5, path=f"/table/{TABLE}", method="POST", skip=after)
            delay = rh.rng.uniform(0.05, 1.2)
        else:
            after = PARTS
            delay = rh.rng.uniform(0.0, 0.3) / (attempt + 1)
        published = sha(rh.published)
        proc = rh.start(*rh.fetch_args(), tag=f"fetch-{stamp}")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if len([r for r in _data_posts(server) if r.status == 200]) >= after:
                break
            time.sleep(0.005)
        time.sleep(delay)
        if proc.poll() is not None:
            if proc.returncode == 0:
                rh.ledger[(TABLE, stamp)] = rh.statbank_cells()  # it landed the release whole
            continue
        kill_group(proc)
        if not reap(proc):
            result.count(label, False, "the killed fetch's processes are still running")
            return
        break
    else:
        result.notes.append(f"{label}: every fetch ended before its kill; not counted")
        return
    moment = f"{delay:.2f} s after part {after} of {PARTS} was answered"
    problems = []
    if problem := rh.warehouse_whole(published):
        problems.append(problem)
    try:
        rh.landed_fetches(stamp)
    except Exception as exc:  # noqa: BLE001 - a damaged landing store is what the check looks for
        problems.append(f"the landing store is damaged: {exc}")
    server.reset()
    code, out = rh.run(*rh.fetch_args(), tag=f"fetch-{stamp}-again")
    if code != 0:
        problems.append(f"the next fetch failed ({code}): {out.strip().splitlines()[-1:]}")
    try:
        landed = rh.landed_fetches(stamp)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"the landing store is damaged: {exc}")
        landed = []
    expected = rh.statbank_cells()
    if len(landed) != 1 or landed[0].cells != expected:
        shown = [(f.fetch_id[:8], f.cells) for f in landed]
        problems.append(f"release {stamp}: complete fetches {shown}, expected one of {expected} cells")
    rh.ledger[(TABLE, stamp)] = expected
    if left := rh.new_leftovers():
        problems.append(f"left behind after the next fetch: {left[:3]}")
    result.count(label, not problems, f"{moment}: {'; '.join(problems)}")


def _ingest_file_kill(rh: RunHome, result: SuiteResult) -> None:
    """One ``kostra ingest-file`` killed while it lands and loads; then the same file again."""
    for attempt in range(ATTEMPTS):
        path, stamp = rh.release_file()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        folder = rh.home / "landing" / "objects" / digest[:2]
        delay = rh.rng.uniform(0.0, 0.5) / (attempt + 1)
        published = sha(rh.published)
        proc = rh.start("ingest-file", str(path), tag=f"ingest-file-{stamp}")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if folder.is_dir() and any(folder.iterdir()):
                break
            time.sleep(0.002)
        time.sleep(delay)
        if proc.poll() is not None:
            if proc.returncode == 0:
                rh.ledger[(TABLE, stamp)] = INGEST_FILE_CELLS  # landed and loaded whole
            continue
        kill_group(proc)
        if not reap(proc):
            result.count("ingest-file", False, "the killed ingest-file's processes are still running")
            return
        break
    else:
        result.notes.append("ingest-file: every run ended before its kill; not counted")
        return
    problems = []
    if problem := rh.warehouse_whole(published):
        problems.append(problem)
    code, out = rh.run("ingest-file", str(path), tag=f"ingest-file-{stamp}-again")
    if code != 0:
        problems.append(f"the next ingest-file failed ({code}): {out.strip().splitlines()[-1:]}")
    rh.ledger[(TABLE, stamp)] = INGEST_FILE_CELLS
    if problem := rh.cells_problem(rh.build_db):
        problems.append(f"build file: {problem}")
    if left := rh.new_leftovers():
        problems.append(f"left behind after the next ingest-file: {left[:3]}")
    result.count("ingest-file", not problems, f"{delay:.3f} s after landing began: {'; '.join(problems)}")


def _build_kill(rh: RunHome, step: str, notes: list[str]) -> tuple[str, bool, str] | None:
    """One ``kostra build`` killed inside ``step``: (stage hit, handled so far, why not), or None if no kill."""
    for attempt in range(ATTEMPTS):
        published = sha(rh.published)
        known = rh.run_dbs()
        tag = f"build-kill-{len(known)}-{step}"
        proc = rh.start("build", tag=tag)
        watch = Watch(proc)
        if not watch.wait_for_step(rh, step, known):
            code = proc.wait()
            if code != 0:
                log = (rh.logs / f"{tag}.log").read_text(errors="replace")
                return STEPS[step], False, f"the build failed before {step} ({code}): {log[-400:]}"
            continue  # it completed without being seen in the step: try again
        delay = rh.rng.uniform(0.0, rh.durations[step]) / (attempt + 1)
        time.sleep(delay)
        if proc.poll() is not None:
            continue
        kill_group(proc)
        if not reap(proc):
            return STEPS[step], False, "the killed build's processes are still running"
        hit = running_step(watch.run_db) if watch.run_db else None
        if watch.run_db:
            rh.learn_durations(watch.run_db)  # the steps it finished before the kill time the next kills
        stage = STEPS.get(hit or "", f"between steps ({hit})")
        problem = rh.warehouse_whole(published)
        return stage, not problem, f"{delay:.2f} s into {step} (running: {hit}): {problem}"
    notes.append(f"{STEPS[step]}: every build ended before its kill; not counted")
    return None


def _complete_build(rh: RunHome, label: str) -> str:
    """'' when the next ``kostra build`` completes and leaves everything whole."""
    known = rh.run_dbs()
    code, out = rh.run("build", tag=f"build-{label}")
    if code != 0:
        return f"the next build failed ({code}): {out[-600:]}"
    new = rh.run_dbs() - known
    if new:
        rh.learn_durations(max(new, key=lambda p: p.stat().st_mtime))
    problem = rh.after_completed_run()
    return f"after the next build: {problem}" if problem else ""


def _new_release(rh: RunHome, label: str) -> str:
    """'' when ``kostra fetch`` landed the statbank's next release whole (not loaded: the build loads it)."""
    server = rh.statbank()
    stamp = rh.new_release()
    server.reset()
    code, out = rh.run(*rh.fetch_args(), tag=f"{label}-fetch-{stamp}")
    if code != 0:
        return f"the fetch of a new release failed ({code}): {out.strip().splitlines()[-1:]}"
    rh.ledger[(TABLE, stamp)] = rh.statbank_cells()
    return ""


def run(
    size: str = "full", *, workdir: Path | None = None, tiny: Path | None = None, **_: object
) -> SuiteResult:
    result = SuiteResult("crashes", size)
    clock = Clock()
    plan = PLANS[size]
    with tempfile.TemporaryDirectory(prefix="proof-crashes-", dir=workdir, ignore_cleanup_errors=True) as tmp:
        rh = RunHome(Path(tmp), tiny, SEED)
        try:
            for kind in ("between parts", "landing parts"):
                for _ in range(plan[kind]):
                    _fetch_kill(rh, result, kind)
            for _ in range(plan["ingest-file"]):
                _ingest_file_kill(rh, result)
            for i, steps in enumerate(plan["rounds"], start=1):
                kills = []
                for j, step in enumerate(steps, start=1):
                    # Something new for every killed build to load, dbt to build and the publish to publish.
                    if problem := _new_release(rh, f"round-{i}-{j}"):
                        result.failures.append(f"round {i}: {problem}")
                        break
                    if (kill := _build_kill(rh, step, result.notes)) is not None:
                        kills.append(kill)
                after = _complete_build(rh, f"round-{i}")
                for stage, ok, why in kills:
                    # A kill is handled only when the build after its round completed whole.
                    result.count(
                        stage, ok and not after, f"round {i}, {why}" + (f"; {after}" if after else "")
                    )
        finally:
            kept = Path(tempfile.mkdtemp(prefix="proof-crashes-logs-")) if result.failures else None
            rh.close(keep=kept)
            if kept:
                result.notes.append(f"logs of the runs kept in {kept}")
    result.seconds = clock()
    return result
