"""Proof suites (issue 11): each one command, ``python -m bench.proof <suite> [--size small|full]``.

Every suite tries many things that go wrong (a fault from the statbank, a kill, a generated document, a
statement an analyst may not run, a signal) and counts how many of them the pipeline *handled*: ended in
correct data or a clear one-line error, with the published warehouse whole. A suite returns a
:class:`SuiteResult`; the command line prints it and writes its row into ``bench/RESULTS.md`` (date, machine,
size, tried, handled, seconds). ``make proof`` runs every suite at full size; ``tests/test_proof_suites.py``
runs each at small size in CI.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

SIZES = ("small", "full")
KOSTRA = str(Path(sys.executable).with_name("kostra"))
REPO = Path(__file__).resolve().parent.parent.parent
RESULTS = REPO / "bench" / "RESULTS.md"


@dataclass
class SuiteResult:
    """What one suite tried and how much of it was handled; ``failures`` says what was not, one line each."""

    suite: str
    size: str
    tried: int = 0
    handled: int = 0
    seconds: float = 0.0
    kinds: dict[str, list[int]] = field(default_factory=dict)  # kind -> [tried, handled]
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, kind: str, ok: bool, why: str = "") -> bool:
        """Count one trial of ``kind``; a trial that was not handled keeps ``why``."""
        self.tried += 1
        tally = self.kinds.setdefault(kind, [0, 0])
        tally[0] += 1
        if ok:
            self.handled += 1
            tally[1] += 1
        else:
            self.failures.append(f"{kind}: {why or 'not handled'}")
        return ok

    @property
    def ok(self) -> bool:
        return self.tried > 0 and self.tried == self.handled

    def breakdown(self) -> str:
        return ", ".join(f"{k} {h}/{t}" for k, (t, h) in self.kinds.items())

    def summary(self) -> str:
        return (
            f"{self.suite} ({self.size}): tried {self.tried}, handled {self.handled} in {self.seconds:.0f} s"
            + (f" — {self.breakdown()}" if self.kinds else "")
        )


# --- helpers shared by the suites -----------------------------------------------------------------


def sha(path: Path) -> str | None:
    """The sha256 of a file, None when there is none."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def env_for(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``kostra`` command on ``home`` (no Dagster instance unless ``extra`` names one)."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.update(KOSTRA_HOME=str(home), **extra)
    return env


def kostra(env: dict, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([KOSTRA, *args], env=env, capture_output=True, text=True, timeout=timeout)


# SIGINT as a terminal gives it: a suite started in the background (``make proof &``) inherits SIGINT ignored,
# and ``kostra`` rightly keeps an inherited ignore, so the child gets the default back before it becomes
# ``kostra`` (exec keeps the pid and a default disposition). A small exec shim, not ``preexec_fn``: the suites
# start commands from several threads at once, and Python code between fork and exec may deadlock there.
_TERMINAL_SIGNALS = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def start_kostra(env: dict, *args: str, log: Path) -> subprocess.Popen:
    """``kostra args`` in its own process group (so a kill reaches dbt too), output into ``log``; SIGINT
    as from a terminal (see :data:`_TERMINAL_SIGNALS`)."""
    out = open(log, "ab")  # noqa: SIM115 - the child holds it; closed when the caller reaps the child
    try:
        return subprocess.Popen(
            [sys.executable, "-S", "-c", _TERMINAL_SIGNALS, KOSTRA, *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        out.close()


def group_alive(pgid: int) -> bool:
    """Whether any process of process group ``pgid`` is still running (not a zombie)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp …: comm may hold spaces, so split after its closing parenthesis.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def leftovers(home: Path) -> list[str]:
    """Temporary files a run leaves under the home when it dies before renaming them into place."""
    found = []
    for path in Path(home).rglob("*"):
        name = path.name
        rel = path.relative_to(home)
        if rel.parts and rel.parts[0] in ("dagster", "dbt"):
            continue  # Dagster's run history and dbt's own target folder are theirs
        if name.endswith(".tmp") or name.startswith(".kostra."):
            found.append(str(rel))
    return sorted(found)


def copy_home(home: Path, dest: Path) -> Path:
    """A private copy of a home (the tests' shared homes are read-only)."""
    shutil.copytree(home, dest, symlinks=True, ignore=shutil.ignore_patterns("*.lock", ".kostra.*.tmp"))
    return dest


def tiny_home(workdir: Path) -> Path:
    """The tests' tiny home (tests/demo_build.py: one 13502 release, ingested and built), built in ``workdir``."""
    from tests.demo_build import _build_tiny

    home = Path(workdir) / "tiny" / "home"
    if not (home / "kostra.duckdb").exists():
        shutil.rmtree(home.parent, ignore_errors=True)
        _build_tiny(home)
    return home


@contextmanager
def cached_catalogue() -> Iterator[None]:
    """``pipeline.reference.catalogue.tables()`` read once for the suite, not on every call.

    It rebuilds the table specs from the seed CSVs with pandas on each call (about 0.6 s), and a fetch calls it
    three times and a load once: a suite of a hundred fetches would spend its time there. The seeds do not
    change during a suite, so the first answer stands for the others.
    """
    from pipeline.reference import catalogue

    original = catalogue.tables
    cache: dict = {}

    def tables(path: Path | None = None):
        if path is not None:
            return original(path)
        if "specs" not in cache:
            cache["specs"] = original()
        return cache["specs"]

    catalogue.tables = tables
    try:
        yield
    finally:
        catalogue.tables = original


def one_line(text: str) -> bool:
    """A clear error: one non-empty line, no traceback."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return len(lines) == 1 and "Traceback" not in text


class Clock:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.started


# --- RESULTS.md --------------------------------------------------------------------------------------

HEADER = """# Proof suites: results

Written by `python -m bench.proof <suite> --size small|full` (`make proof`: every suite at full size). One row
per suite and size, the newest run of each; *tried* is what the suite did to the pipeline, *handled* how much of
it ended in correct data or a clear error with the published warehouse whole. See `bench/proof/` for what each
suite does.

| suite | size | tried | handled | seconds | date (UTC) | machine | by kind |
| --- | --- | ---: | ---: | ---: | --- | --- | --- |
"""
TABLE_START = "| suite | size |"


def machine() -> str:
    try:
        uname = subprocess.run(["uname", "-a"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        uname = platform.platform()
    return f"{uname}; nproc {os.cpu_count()}"


DETAILS = "## What the newest runs did not handle, and their notes"


def record(result: SuiteResult, path: Path = RESULTS) -> None:
    """Write ``result``'s row (and its details) into RESULTS.md, replacing those of the same suite and size."""
    rows: dict[tuple[str, str], str] = {}
    details: dict[tuple[str, str], list[str]] = {}
    if path.exists():
        text = path.read_text()
        table, _, rest = text.partition(DETAILS)
        for line in table.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("| ") and not line.startswith((TABLE_START, "| ---")) and len(cells) >= 2:
                rows[(cells[0], cells[1])] = line
        key = None
        for line in rest.splitlines():
            if line.startswith("### ") and line.endswith(")") and " (" in line:
                name, _, size = line[4:-1].partition(" (")
                key = (name, size)
                details[key] = []
            elif key and line.startswith("- "):
                details[key].append(line)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    breakdown = result.breakdown().replace("|", "/")
    key = (result.suite, result.size)
    rows[key] = (
        f"| {result.suite} | {result.size} | {result.tried} | {result.handled} | {result.seconds:.0f} | "
        f"{when} | {machine()} | {breakdown} |"
    )
    details[key] = [f"- not handled: {_md(line)}" for line in result.failures] + [
        f"- note: {_md(line)}" for line in result.notes
    ]
    order = {name: i for i, name in enumerate(SUITE_NAMES)}

    def rank(k: tuple[str, str]):
        return (order.get(k[0], 99), k[0], SIZES.index(k[1]) if k[1] in SIZES else 9)

    body = HEADER + "\n".join(rows[k] for k in sorted(rows, key=rank)) + "\n"
    blocks = [
        f"### {k[0]} ({k[1]})\n" + ("\n".join(details[k]) or "- everything handled, no notes")
        for k in sorted(details, key=rank)
    ]
    path.write_text(body + "\n" + DETAILS + "\n\n" + "\n\n".join(blocks) + "\n")


def _md(text: str) -> str:
    return " ".join(text.split())[:600]


SUITE_NAMES = ("faults", "crashes", "fuzz", "idempotency", "sandbox", "interrupts")


def suites() -> dict[str, Callable[..., SuiteResult]]:
    from bench.proof import crashes, faults, fuzz, idempotency, interrupts, sandbox

    return {
        "faults": faults.run,
        "crashes": crashes.run,
        "fuzz": fuzz.run,
        "idempotency": idempotency.run,
        "sandbox": sandbox.run,
        "interrupts": interrupts.run,
    }
