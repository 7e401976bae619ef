"""Benchmark: ``kostra run`` on the whole demo, from an empty home and for one new June release.

Both are the real command (``.venv/bin/kostra run`` in a subprocess, Dagster's start-up, the demo statbank,
ingest, load, both dbt steps, quality, publish and report included), each in a fresh temporary home with the
demo release copied in (generated once, not timed):

- **full run**: every release of the demo into an empty home. This is what a user runs without incremental
  builds whenever a release comes out, so it is the reference of the one-release run.
- **one new June release**: a home that holds every release but the newest June one (built by
  ``kostra run --releases <first>,<newest March>``, not timed), then ``kostra run --releases <newest June>``
  timed: the release lands and loads its own cells, and the incremental dbt models rebuild only what depends
  on it.

- **full run, capped**: the full run again with ``KOSTRA_DUCKDB_MEMORY_LIMIT=700MB``, the setting that keeps
  every process within the 1 GB target, at the cost of dbt's time; its row gives both.

Peak RSS is that of the largest single process of the run (``ru_maxrss`` of the waited-for children: the
``kostra`` process or a dbt subprocess); the note adds the peak of all the run's processes together, sampled
from ``/proc`` every 0.1 s. Each target is checked against the best of the repeats; the note gives the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench import Row

BENCHMARK = "kostra run (demo)"
KOSTRA = Path(sys.executable).with_name("kostra")

FULL_TARGET_S = 60.0
NEW_RELEASE_TARGET_RATIO = 0.25
RSS_TARGET_MB = 1024.0
# The setting that keeps every process of a run within the RSS target (README: KOSTRA_DUCKDB_MEMORY_LIMIT); not
# the default, because it costs dbt's step time (bench/README.md).
CAPPED = {"KOSTRA_DUCKDB_MEMORY_LIMIT": "700MB"}


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float  # the largest single process
    tree_rss_mb: float  # every process of the run together


def _children_maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and every descendant, from /proc (0 where /proc is not there)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total / 1024


def _kostra(home: Path, args: list[str], log: Path, env_extra: dict[str, str] | None = None) -> Measured:
    """Run ``kostra <args>`` on ``home`` in a child process whose own children are measured alone."""
    env = {**os.environ, "KOSTRA_HOME": str(home), "DBT_USE_COLORS": "false", **(env_extra or {})}
    env.pop("DAGSTER_HOME", None)  # an ephemeral instance, as a plain `kostra run`
    # ru_maxrss of RUSAGE_CHILDREN is the high-water mark over every child ever waited for: run the command
    # under a fresh Python so that each measurement has its own.
    probe = (
        "import resource, subprocess, sys, json;"
        "rc = subprocess.call(sys.argv[1:]);"
        "print(json.dumps({'rc': rc, 'maxrss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))"
    )
    peak_tree = 0.0
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", probe, str(KOSTRA), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=out,
            text=True,
        )
        done = threading.Event()

        def sample() -> None:
            nonlocal peak_tree
            while not done.wait(0.1):
                peak_tree = max(peak_tree, _tree_rss_mb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stdout, _ = proc.communicate()
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    lines = stdout.strip().splitlines()
    result = json.loads(lines[-1]) if lines else {"rc": proc.returncode, "maxrss_kb": 0}
    if result["rc"] != 0:
        raise RuntimeError(f"kostra {' '.join(args)} failed ({result['rc']}); see {log}")
    return Measured(seconds, result["maxrss_kb"] / 1024, peak_tree)


def _home_with_demo(root: Path, name: str, demo: Path) -> Path:
    home = root / name
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    shutil.copytree(demo, home / "demo")
    return home


def _note(*parts: str) -> str:
    """A row's note: its non-empty parts, in order."""
    return "; ".join(p for p in parts if p)


def _spread(values: list[float], unit: str) -> str:
    if len(values) < 2:
        return ""
    return f"{len(values)} runs {min(values):.1f}–{max(values):.1f} {unit}"


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def run(options: argparse.Namespace) -> list[Row]:
    from pipeline.demo.generate import generate

    repeat = options.repeat
    keep = os.environ.get("KOSTRA_BENCH_KEEP")  # a folder to keep the homes and logs in (default: deleted)
    with tempfile.TemporaryDirectory(prefix="kostra-bench-run-") as tmp:
        root = Path(keep) if keep else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        demo = root / "demo-release"
        if not (demo / "releases.json").exists():
            generate(demo)
        keys = [r["key"] for r in json.loads((demo / "releases.json").read_text())]
        newest_june = max(k for k in keys if k.endswith("-06"))
        before = [k for k in keys if k < newest_june]

        full: list[Measured] = []
        capped: list[Measured] = []
        for i in range(repeat):
            home = _home_with_demo(root, f"full-{i}", demo)
            full.append(_kostra(home, ["run"], root / f"full-{i}.log"))
            home = _home_with_demo(root, f"full-capped-{i}", demo)
            capped.append(_kostra(home, ["run"], root / f"full-capped-{i}.log", CAPPED))

        # One home with every release but the newest June one, then the new release in that home, as an
        # analyst runs it. Each repeat starts from a copy of the prepared state put back at the same path:
        # the home's path is part of dbt's partial-parse key, and a home moved elsewhere is parsed from
        # scratch (about 5 s) where the analyst's own home is not.
        home = _home_with_demo(root, "new-release", demo)
        _kostra(home, ["run", "--releases", f"{before[0]},{before[-1]}"], root / "before-new-release.log")
        prepared = root / "before-new-release"
        shutil.rmtree(prepared, ignore_errors=True)
        shutil.copytree(home, prepared, symlinks=True)
        new: list[Measured] = []
        for i in range(repeat):
            if i:
                shutil.rmtree(home)
                shutil.copytree(prepared, home, symlinks=True)
            new.append(_kostra(home, ["run", "--releases", newest_june], root / f"new-release-{i}.log"))

    best_full = min(full, key=lambda m: m.seconds)
    best_new = min(new, key=lambda m: m.seconds)
    best_capped = min(capped, key=lambda m: m.seconds)
    ratio = best_new.seconds / best_full.seconds
    peak = max(m.peak_rss_mb for m in full + new)
    peak_tree = max(m.tree_rss_mb for m in full + new)
    rows = [
        Row(
            BENCHMARK,
            f"full run: {len(keys)} releases into an empty home",
            best_full.seconds,
            peak_rss_mb=max(m.peak_rss_mb for m in full),
            target=f"≤ {FULL_TARGET_S:.0f} s",
            note=_note(
                _verdict(best_full.seconds <= FULL_TARGET_S),
                "what a user runs without incremental builds",
                _spread([m.seconds for m in full], "s"),
            ),
            reference=True,
        ),
        Row(
            BENCHMARK,
            f"one new June release ({newest_june}) after {len(before)}",
            best_new.seconds,
            peak_rss_mb=max(m.peak_rss_mb for m in new),
            target=f"≤ {NEW_RELEASE_TARGET_RATIO:.2f} × full",
            note=_note(
                f"{ratio:.3f} × full: {_verdict(ratio <= NEW_RELEASE_TARGET_RATIO)}",
                _spread([m.seconds for m in new], "s"),
            ),
        ),
        Row(
            BENCHMARK,
            "peak RSS over both (largest process)",
            None,
            peak_rss_mb=peak,
            target=f"≤ {RSS_TARGET_MB:.0f} MB",
            note=(
                f"{_verdict(peak <= RSS_TARGET_MB)}; all processes of a run together: {peak_tree:.0f} MB, "
                f"{_verdict(peak_tree <= RSS_TARGET_MB)}"
            ),
        ),
        Row(
            BENCHMARK,
            "full run, " + " ".join(f"{k}={v}" for k, v in CAPPED.items()),
            best_capped.seconds,
            peak_rss_mb=max(m.peak_rss_mb for m in capped),
            target=f"≤ {RSS_TARGET_MB:.0f} MB",
            note=_note(
                f"largest process {_verdict(max(m.peak_rss_mb for m in capped) <= RSS_TARGET_MB)}",
                f"all together {max(m.tree_rss_mb for m in capped):.0f} MB",
                _spread([m.seconds for m in capped], "s"),
            ),
        ),
    ]
    return rows
