"""Benchmark: how long the data-quality run takes on a built warehouse (the full demo release by default).

Measures the domain checks alone and the whole run (checks + GX suites → quality.findings) on a
copy of the build file of ``$KOSTRA_HOME`` (``kostra run`` builds it), so the home is never written to.
Set ``KOSTRA_BENCH_BUILD_DB`` to time another build file.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from bench import Row
from pipeline.config import EXPECTATIONS_DIR, Home

BENCHMARK = "quality"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(options: argparse.Namespace) -> list[Row]:
    from pipeline.quality import run_checks, workspace
    from pipeline.quality.run import run_quality

    source = Path(os.environ.get("KOSTRA_BENCH_BUILD_DB") or Home.from_env().build_db)
    if not source.exists():
        return [Row(BENCHMARK, "skipped", 0.0, note=f"no build file {source}: run `kostra run` first")]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="kostra-bench-quality-") as tmp:
        build = Path(tmp) / "build.duckdb"
        shutil.copyfile(source, build)
        ctx = Path(tmp) / "gx"
        shutil.copytree(EXPECTATIONS_DIR, ctx, ignore=shutil.ignore_patterns("uncommitted"))
        best_checks = best_full = float("inf")
        n = 0
        for _ in range(options.repeat):
            started = time.perf_counter()
            con = workspace.from_build_db(build)
            findings = run_checks(con)
            con.close()
            best_checks = min(best_checks, time.perf_counter() - started)
            n = len(findings)
            if options.quick:
                continue
            started = time.perf_counter()
            run_quality(build, run_dir=Path(tmp) / "out", context_root=ctx)
            best_full = min(best_full, time.perf_counter() - started)
        rows.append(
            Row(
                BENCHMARK,
                "domain checks (DuckDB + pandas)",
                best_checks,
                _peak_mb(),
                rows=n,
                note=f"{source.name}; findings on this build",
                reference=True,
            )
        )
        if not options.quick:
            rows.append(
                Row(BENCHMARK, "full run: checks + GX → quality.findings", best_full, _peak_mb(), rows=n)
            )
    return rows
