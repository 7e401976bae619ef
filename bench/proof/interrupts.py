"""Interrupts: SIGINT (Ctrl+C) and SIGTERM at random moments end the run within a few seconds.

``kostra fetch`` (a three-part fetch from the local statbank, a part held back so the signal finds it
waiting) and ``kostra build`` (the signal at a random moment inside a step of the Dagster run, seen in the
run's event log as in the crash suite; a new release fetched before each, for it to load) get one signal,
sent to ``kostra``'s process alone as a terminal's Ctrl+C or a service manager's stop would, not to dbt. Handled when, within :data:`LIMIT` seconds, ``kostra``
and every process it started (dbt, Dagster's helpers) are gone, it exits 130 (SIGINT) or 143 (SIGTERM) and
says in one line that it stopped, the published warehouse is the one before or a whole new build, and the
next run completes with every landed cell once, nothing left behind and no Dagster run still marked running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from bench.proof import Clock, SuiteResult, group_alive, sha
from bench.proof.runs import PARTS, STEPS, TABLE, RunHome, Watch, kill_group, reap, running_step

LIMIT = 10.0  # seconds from the signal to the last process gone; pipeline.interrupt promises 8 at worst
# The signals of the fetch trials, and the rounds of build trials (step, signal), each round ending in a
# completed build that every trial of the round must be followed by.
PLANS = {
    "small": {"fetch": [signal.SIGTERM], "rounds": [[("kostra_dbt_models", signal.SIGINT)]]},
    "full": {
        "fetch": [signal.SIGINT, signal.SIGTERM],
        "rounds": [
            [
                ("raw_tables", signal.SIGINT),
                ("kostra_dbt_models", signal.SIGTERM),
                ("quality__findings", signal.SIGINT),
                ("kostra_dbt_quality_models", signal.SIGTERM),
                ("warehouse__published", signal.SIGINT),
                ("kostra_dbt_models", signal.SIGINT),
            ],
        ],
    },
}
SEED = 20261202


def _ended(proc, signum: int, sent_at: float, log: Path, notes: list[str]) -> tuple[float, list[str]]:
    """Seconds until the whole group was gone, and what was wrong with how it ended."""
    problems = []
    with contextlib.suppress(subprocess.TimeoutExpired):  # still running: reported below, then killed
        proc.wait(timeout=LIMIT * 3)
    while group_alive(proc.pid) and time.monotonic() - sent_at < LIMIT * 3:
        time.sleep(0.02)
    took = time.monotonic() - sent_at
    if proc.poll() is None or group_alive(proc.pid):
        problems.append(f"still running {took:.0f} s after {signal.Signals(signum).name}")
        kill_group(proc)
        reap(proc)
        return took, problems
    if took > LIMIT:
        problems.append(f"took {took:.1f} s to end (limit {LIMIT:.0f} s)")
    expected = 128 + signum
    if proc.returncode not in (expected, -signum):
        problems.append(f"exit code {proc.returncode}, expected {expected}")
    text = log.read_text(errors="replace")
    said = [line for line in text.splitlines() if "stopped by" in line or "interrupted" in line]
    if not said:
        problems.append(f"no line saying it stopped: {text.strip().splitlines()[-1:]}")
    if "Traceback" in text:
        # Not the CLI's: a library's own log of the interrupt (dagster-dbt logs one with its traceback).
        notes.append(f"{log.name}: a traceback was logged on the way out")
    return took, problems


def _fetch_trial(rh: RunHome, signum: int) -> tuple[str, bool, str, float]:
    server = rh.statbank()
    stamp = rh.new_release()
    server.reset()
    after = rh.rng.randint(1, PARTS - 1)
    server.faults.add(kind="hang", seconds=20, path=f"/table/{TABLE}", method="POST", skip=after)
    published = sha(rh.published)
    tag = f"int-fetch-{stamp}"
    proc = rh.start(*rh.fetch_args(), tag=tag)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        posts = [r for r in server.requests if r.method == "POST" and f"/table/{TABLE}" in r.path]
        if len(posts) > after:  # the held-back part has been asked for
            break
        time.sleep(0.01)
    time.sleep(rh.rng.uniform(0.0, 1.0))
    if proc.poll() is not None:
        return "fetch", False, f"the fetch ended before the signal ({proc.returncode})", 0.0
    sent = time.monotonic()
    os.kill(proc.pid, signum)
    took, problems = _ended(proc, signum, sent, rh.logs / f"{tag}.log", rh.notes)
    server.faults.clear()
    if problem := rh.warehouse_whole(published):
        problems.append(problem)
    code, out = rh.run(*rh.fetch_args(), tag=f"{tag}-again")
    landed = rh.landed_fetches(stamp)
    if code != 0 or len(landed) != 1:
        problems.append(f"the next fetch: exit {code}, {len(landed)} complete fetches of the release")
    rh.ledger[(TABLE, stamp)] = rh.statbank_cells()
    if left := rh.new_leftovers():
        problems.append(f"left behind after the next fetch: {left[:3]}")
    name = signal.Signals(signum).name
    why = f"{name} while a part was held back, ended in {took:.1f} s: " + "; ".join(problems)
    return f"fetch, {name}", not problems, why, took


def _build_trial(rh: RunHome, step: str, signum: int) -> tuple[str, bool, str, float] | None:
    name = signal.Signals(signum).name
    for attempt in range(3):
        published = sha(rh.published)
        known = rh.run_dbs()
        tag = f"int-build-{len(known)}-{step}-{name}"
        proc = rh.start("build", tag=tag)
        watch = Watch(proc)
        if not watch.wait_for_step(rh, step, known):
            code = proc.wait()
            if code != 0:
                return f"build, {name}", False, f"the build failed before {step} ({code})", 0.0
            continue
        delay = rh.rng.uniform(0.0, rh.durations[step]) / (attempt + 1)
        time.sleep(delay)
        if proc.poll() is not None:
            continue
        hit = running_step(watch.run_db) if watch.run_db else None
        sent = time.monotonic()
        os.kill(proc.pid, signum)
        took, problems = _ended(proc, signum, sent, rh.logs / f"{tag}.log", rh.notes)
        rh.learn_durations(watch.run_db)  # the steps it finished before the signal time the next signals
        if problem := rh.warehouse_whole(published):
            problems.append(problem)
        stage = STEPS.get(hit or "", f"between steps ({hit})")
        why = f"{name} {delay:.2f} s into {step} (running: {hit}), ended in {took:.1f} s: " + "; ".join(
            problems
        )
        return f"build {stage}, {name}", not problems, why, took
    return None


def run(
    size: str = "full", *, workdir: Path | None = None, tiny: Path | None = None, **_: object
) -> SuiteResult:
    from bench.proof.crashes import _complete_build, _new_release

    result = SuiteResult("interrupts", size)
    clock = Clock()
    plan = PLANS[size]
    took: list[float] = []
    with tempfile.TemporaryDirectory(
        prefix="proof-interrupts-", dir=workdir, ignore_cleanup_errors=True
    ) as tmp:
        rh = RunHome(Path(tmp), tiny, SEED)
        try:
            for signum in plan["fetch"]:
                kind, ok, why, seconds = _fetch_trial(rh, signum)
                result.count(kind, ok, why)
                took.append(seconds)
            for i, trials in enumerate(plan["rounds"], start=1):
                outcomes = []
                for j, (step, signum) in enumerate(trials, start=1):
                    # Something new for every stopped build to load, build and publish.
                    if problem := _new_release(rh, f"int-round-{i}-{j}"):
                        result.failures.append(f"round {i}: {problem}")
                        break
                    if (outcome := _build_trial(rh, step, signum)) is not None:
                        outcomes.append(outcome)
                after = _complete_build(rh, f"int-round-{i}")
                for kind, ok, why, seconds in outcomes:
                    result.count(
                        kind, ok and not after, f"round {i}, {why}" + (f"; {after}" if after else "")
                    )
                    took.append(seconds)
        finally:
            kept = Path(tempfile.mkdtemp(prefix="proof-interrupts-logs-")) if result.failures else None
            rh.close(keep=kept)
            if kept:
                result.notes.append(f"logs of the runs kept in {kept}")
    result.notes.extend(rh.notes)
    if took:
        result.notes.append(f"from the signal to the last process gone: at most {max(took):.1f} s")
    result.seconds = clock()
    return result
