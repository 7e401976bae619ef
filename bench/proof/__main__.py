"""``python -m bench.proof <suite>|all [--size small|full] [--no-record] [--serial] [--workdir DIR]``.

Prints each suite's tried/handled (and what was not handled) and writes its row into bench/RESULTS.md.
Exits 1 when any suite handled less than it tried.

Several suites (``all``) run on two workers at once, one per core: a trial mostly waits for one ``kostra``
process (most of a minute of CPU for a build), so one worker alone would leave a core idle. The side worker
builds the tiny home and then runs the crash suite; the main thread runs the sandbox first (alone: it calls
the CLI, which must be on the main thread, with sys.stdout redirected), then the other suites that work
in-process (faults, fuzz) while the tiny home is built, then the interrupt and idempotency suites.
``--serial`` runs one suite at a time, in order.

The suites work in memory (a temporary folder under ``/dev/shm``) when the machine has one with room to
spare: a build waits for the disk on every fsync (DuckDB's checkpoints, Dagster's run store, the landing
store), about a third of its time on this machine. A kill or a signal ends a process, not the machine: what
the kernel has been given survives either way, so the suites prove the same in memory as on disk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.proof import RESULTS, SIZES, SUITE_NAMES, SuiteResult, record, suites, tiny_home

MEMORY = Path("/dev/shm")  # a tmpfs
MEMORY_ROOM = 4 << 30  # bytes free in it, at least: the homes of a full run take about 2 GiB
IN_PROCESS = ("faults", "fuzz", "sandbox")  # no kostra process: first on the main thread
SIDE = ("crashes",)  # the side worker's, after the tiny home


def needs_tiny(name: str, size: str) -> bool:
    """Whether a suite starts from the tiny home (idempotency at full size lands and builds homes of its own)."""
    return name in ("crashes", "interrupts") or (name == "idempotency" and size == "small")


class Runner:
    """Runs suites, prints and records each result as it comes (one worker at a time on the console and
    RESULTS.md), and hands the tiny home to the suites that need it."""

    def __init__(self, size: str, workdir: Path, record_results: bool, where: str = "") -> None:
        self.where = where  # a note on every result: where the suites worked, if not on the default disk
        self.size = size
        self.workdir = workdir
        self.record_results = record_results
        self.results: dict[str, SuiteResult] = {}
        self.lock = threading.Lock()
        self.tiny_lock = threading.Lock()
        self.tiny: Path | None = None
        self.tiny_error = ""
        self.runners = suites()
        # The console as it is now: the sandbox suite redirects sys.stdout while it calls the CLI, and a line
        # the other worker prints meanwhile must not land in what it reads as the CLI's answer.
        self.out = sys.stdout

    def say(self, text: str) -> None:
        with self.lock:
            print(text, file=self.out, flush=True)

    def ensure_tiny(self) -> Path | None:
        """The tiny home, built by whichever worker asks first (the other waits for it); None if it failed."""
        with self.tiny_lock:
            if self.tiny is None and not self.tiny_error:
                self.say("building the tiny home (one 13502 release: kostra ingest-file, kostra build) …")
                try:
                    self.tiny = tiny_home(self.workdir)
                except Exception as exc:  # noqa: BLE001 - the suites that need it say so; the others run
                    self.tiny_error = f"{type(exc).__name__}: {' '.join(str(exc).split())[-600:]}"
            return self.tiny

    def run(self, name: str) -> None:
        started = time.monotonic()
        tiny = self.ensure_tiny() if needs_tiny(name, self.size) else None
        self.say(f"{name} ({self.size}) …")
        if needs_tiny(name, self.size) and tiny is None:
            result = SuiteResult(name, self.size)
            result.failures.append(f"the tiny home could not be built: {self.tiny_error}")
        else:
            try:
                result = self.runners[name](self.size, workdir=self.workdir, tiny=tiny)
            except Exception as exc:  # noqa: BLE001 - one broken suite must not hide the others' results
                result = SuiteResult(name, self.size)
                result.failures.append(f"the suite itself failed: {type(exc).__name__}: {exc}")
        if not result.seconds:
            result.seconds = time.monotonic() - started
        if self.where:
            result.notes.append(self.where)
        with self.lock:
            self.results[name] = result
            print(result.summary(), file=self.out, flush=True)
            for line in result.failures:
                print(f"  NOT HANDLED {line[:800]}", file=self.out, flush=True)
            for line in result.notes[:20]:
                print(f"  note: {line[:400]}", file=self.out, flush=True)
            if self.record_results:
                record(result)


def default_base() -> Path | None:
    """Where the suites' temporary folder goes: in memory if there is room, else the system's default."""
    try:
        if os.access(MEMORY, os.W_OK) and shutil.disk_usage(MEMORY).free >= MEMORY_ROOM:
            return MEMORY
    except OSError:
        pass
    return None


def _side(runner: Runner, names: list[str], side: list[str]) -> None:
    """The side worker: the tiny home (while the main thread runs the in-process suites), then its suites."""
    if any(needs_tiny(n, runner.size) for n in names):
        runner.ensure_tiny()
    for name in side:
        runner.run(name)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.proof", description=__doc__)
    p.add_argument("suite", choices=[*SUITE_NAMES, "all"])
    p.add_argument("--size", choices=SIZES, default="full")
    p.add_argument("--no-record", action="store_true", help=f"do not write {RESULTS.name}")
    p.add_argument("--serial", action="store_true", help="one suite at a time (default: two workers)")
    p.add_argument("--workdir", type=Path, help="where the suites work (default: a temporary folder)")
    args = p.parse_args(argv)
    names = list(SUITE_NAMES) if args.suite == "all" else [args.suite]
    started = time.monotonic()
    base = None if args.workdir else default_base()
    with tempfile.TemporaryDirectory(
        prefix="proof-", dir=base, ignore_cleanup_errors=True
    ) as default_workdir:
        workdir = args.workdir or Path(default_workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"working in {workdir}" + (" (in memory)" if base else ""), flush=True)
        where = f"worked in memory ({base}, a tmpfs): no waiting for the disk on fsync" if base else ""
        runner = Runner(args.size, workdir, not args.no_record, where)
        side = [] if args.serial or len(names) == 1 else [n for n in names if n in SIDE]
        rest = [n for n in names if n not in side]
        if not args.serial:
            rest.sort(key=lambda n: (n != "sandbox", n not in IN_PROCESS))  # stable: else the usual order
        worker = None
        for name in rest:
            if worker is None and not args.serial and len(names) > 1 and name != "sandbox":
                # After the sandbox suite: it redirects sys.stdout and sys.stderr while it calls the CLI,
                # and nothing the other worker writes meanwhile may land in what it reads as the answer.
                worker = threading.Thread(target=_side, args=(runner, names, side), name="side", daemon=True)
                worker.start()
            runner.run(name)
        if worker is None and side:
            _side(runner, names, side)
        if worker is not None:
            worker.join()
    total = time.monotonic() - started
    results = [runner.results[n] for n in names if n in runner.results]
    print(f"\n{len(results)} suite(s) in {total:.0f} s")
    for r in results:
        print(f"  {r.suite:12} {r.size:5} tried {r.tried:5}  handled {r.handled:5}  {r.seconds:6.0f} s")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
