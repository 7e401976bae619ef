"""Run every registered benchmark and print one table: ``python -m bench.run [--repeat N] [--quick]``.

A benchmark is a function ``(options) -> list[Row]``; add it to ``BENCHMARKS`` to have it run here.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from bench import Row, decode_load, kostra_run, pipeline_stages, quality, report

Benchmark = Callable[[argparse.Namespace], list[Row]]

BENCHMARKS: dict[str, Benchmark] = {
    "decode_load": decode_load.run,
    # pipeline_stages keeps its full demo build for the quality benchmark, so it runs first.
    "pipeline_stages": pipeline_stages.run,
    "quality": quality.run,
    # The real command, Dagster and dbt included: full demo run, one new release, peak RSS, against targets.
    "kostra_run": kostra_run.run,
    # One KOSTRA report per municipality on the published warehouse (target ≤ 5 s each).
    "report": report.run,
}


def _table(rows: list[Row]) -> Table:
    table = Table(title="kostra-warehouse benchmarks", show_lines=False)
    for name, justify in [
        ("Benchmark", "left"),
        ("Approach", "left"),
        ("Wall time (s)", "right"),
        ("× ours", "right"),
        ("Peak RSS (MB)", "right"),
        ("RSS growth in work (MB)", "right"),
        ("Rows", "right"),
        ("Target", "left"),
        ("Note", "left"),
    ]:
        table.add_column(name, justify=justify, no_wrap=name in ("Benchmark", "Approach", "Target", "Note"))
    references = {r.benchmark: r.seconds for r in rows if r.reference}
    for r in rows:
        ref = references.get(r.benchmark)
        table.add_row(
            r.benchmark,
            f"[bold]{r.approach}[/bold]" if r.reference else r.approach,
            f"{r.seconds:.3f}" if r.seconds is not None else "",
            f"{r.seconds / ref:.2f}" if ref and r.seconds is not None else "",
            f"{r.peak_rss_mb:.0f}" if r.peak_rss_mb is not None else "",
            f"{r.work_rss_mb:.0f}" if r.work_rss_mb is not None else "",
            f"{r.rows:,}" if r.rows is not None else "",
            r.target,
            r.note,
        )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per approach; the fastest counts (default 3)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a quarter of the data and one run: a smoke test, not a measurement",
    )
    parser.add_argument(
        "--only", choices=sorted(BENCHMARKS), action="append", help="run only these benchmarks"
    )
    options = parser.parse_args(argv)
    if options.quick:
        options.repeat = 1
    if options.repeat < 1:
        parser.error("--repeat must be at least 1")

    console = Console()
    if not console.is_terminal:
        # Piped into a file or CI log: rich would wrap the table at 80 columns.
        console = Console(width=200)
    rows: list[Row] = []
    for name, benchmark in BENCHMARKS.items():
        if options.only and name not in options.only:
            continue
        started = time.perf_counter()
        with console.status(f"running {name} …"):
            rows.extend(benchmark(options))
        console.log(f"{name} done in {time.perf_counter() - started:.1f} s")
    console.print(_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
