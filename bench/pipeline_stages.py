"""The full build on the demo release, timed by stage, for 5 and 10 years of data.

Stages: generate the demo release; ingest every March and June release over HTTP from the local statbank
(client → landing); load raw cells; dbt build (seeds, models, tests); checks; publish. The stages are called
directly, as the Dagster assets call them, so the times are the work and not Dagster's start-up. Doubling the
years shows how each stage grows: the 5-year run is the reference, so "× ours" reads as the growth factor.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench import Row

YEAR_SPANS = {"5 years (2020–2024)": (2020, 2024), "10 years (2015–2024)": (2015, 2024)}
# The full demo build is kept here (gitignored) for the quality benchmark that runs after this one.
KEPT_BUILD = Path(__file__).resolve().parent / "results" / "demo_build.duckdb"


def _build(first: int, last: int, keep_build: Path | None = None) -> dict[str, float]:
    from pipeline.config import EXPECTATIONS_DIR, Home
    from pipeline.demo.generate import generate
    from pipeline.demo.server import DemoSource, serve
    from pipeline.landing.ingest import catalogue_filters, ingest_table
    from pipeline.landing.store import LandingStore
    from pipeline.publish.warehouse import publish
    from pipeline.raw.load import connect, load_pending
    from pipeline.ssb.client import SsbClient
    from pipeline.transform.dbt_runner import run_dbt

    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="kostra-bench-") as tmp:
        home = Home(Path(tmp) / "home").ensure()
        t = time.perf_counter()
        generate(home.demo_dir, first_year=first, last_year=last)
        times["generate demo"] = time.perf_counter() - t

        store = LandingStore(home.landing)
        filters = catalogue_filters()
        keys = [r["key"] for r in json.loads((home.demo_dir / "releases.json").read_text())]
        t = time.perf_counter()
        with serve(DemoSource(home.demo_dir), max_calls=1000, window_seconds=1) as server:
            for key in keys:
                v0, v2 = server.roots(asof=key)
                with SsbClient(v0, v2, progress=False) as client:
                    for table_id, table_filters in filters.items():
                        ingest_table(client, store, table_id, table_filters)
        times["ingest (HTTP → landing)"] = time.perf_counter() - t

        t = time.perf_counter()
        con = connect(home.build_db)
        result = load_pending(con, store)
        con.close()
        times["load raw cells"] = time.perf_counter() - t
        times["_cells"] = result.cells_loaded

        t = time.perf_counter()
        run_dbt("build", home.build_db, target_path=Path(tmp) / "dbt-target", log_path=Path(tmp) / "dbt-logs")
        times["dbt build"] = time.perf_counter() - t

        t = time.perf_counter()
        from pipeline.quality.run import run_quality

        gx_context = Path(tmp) / "gx"
        shutil.copytree(EXPECTATIONS_DIR, gx_context, ignore=shutil.ignore_patterns("uncommitted"))
        run_quality(home.build_db, run_dir=Path(tmp) / "quality", context_root=gx_context)
        times["checks (quality + GX)"] = time.perf_counter() - t

        t = time.perf_counter()
        publish(home)
        times["publish"] = time.perf_counter() - t
        if keep_build is not None:
            keep_build.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(home.build_db, keep_build)
    return times


def run(options: argparse.Namespace) -> list[Row]:
    spans = dict(list(YEAR_SPANS.items())[:1]) if options.quick else YEAR_SPANS
    os.environ.setdefault("DBT_USE_COLORS", "false")
    rows: list[Row] = []
    for i, (label, (first, last)) in enumerate(spans.items()):
        last_span = i == len(spans) - 1
        times = _build(first, last, keep_build=KEPT_BUILD if last_span else None)
        if last_span:
            os.environ.setdefault("KOSTRA_BENCH_BUILD_DB", str(KEPT_BUILD))
        cells = int(times.pop("_cells"))
        total = sum(times.values())
        for stage, seconds in [*times.items(), ("total", total)]:
            rows.append(
                Row(
                    benchmark=f"demo build: {stage}",
                    approach=label,
                    seconds=seconds,
                    rows=cells if stage in ("load raw cells", "total") else None,
                    note="the reference: × is growth when years double" if i == 0 else "",
                    reference=i == 0,
                )
            )
    # Group the rows by stage (in pipeline order), the reference span first within each stage.
    order = list(dict.fromkeys(r.benchmark for r in rows))
    rows.sort(key=lambda r: (order.index(r.benchmark), not r.reference))
    return rows
