"""Benchmark: one KOSTRA report per municipality on the published warehouse of ``$KOSTRA_HOME``.

Times the content (queries on the marts), the HTML (with its 18 SVG charts), the PDF (headless Chromium) and
the xlsx for the focus municipality and one other member, against the target of ≤ 5 s per municipality
(content + HTML; the PDF adds Chromium's start-up). Run ``kostra run`` first; files go to a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench import Row
from pipeline.config import Home

BENCHMARK = "report"
TARGET_S = 5.0
MUNICIPALITIES = ("3201", "4601")  # Bærum (the focus) and Bergen


def run(options: argparse.Namespace) -> list[Row]:
    home = Home.from_env()
    if not home.published_db.exists():
        return [
            Row(BENCHMARK, "skipped", 0.0, note=f"no warehouse {home.published_db}: run `kostra run` first")
        ]
    t0 = time.perf_counter()
    from pipeline.report import build, content, pdf, render, workbook

    imports = time.perf_counter() - t0
    rows = [Row(BENCHMARK, "imports (matplotlib, pandas, duckdb)", imports, note="once per process")]
    with tempfile.TemporaryDirectory(prefix="kostra-bench-report-") as tmp:
        for mid in MUNICIPALITIES:
            # The fastest of --repeat runs counts (the machine is shared); the first run also pays for
            # matplotlib's font cache and the first queries, so it is shown in the note.
            runs = []
            for _ in range(max(1, getattr(options, "repeat", 1))):
                t = time.perf_counter()
                ctx = build.municipality_context(home, content.Request(mid))
                t_ctx = time.perf_counter() - t
                t = time.perf_counter()
                html = render.municipality_html(ctx)
                runs.append((t_ctx + time.perf_counter() - t, t_ctx, time.perf_counter() - t))
            total, t_ctx, t_html = min(runs)
            rows.append(
                Row(
                    BENCHMARK,
                    f"{mid}: content + HTML",
                    total,
                    note=f"content {t_ctx:.2f} s, HTML {t_html:.2f} s (first run {runs[0][0]:.2f} s, "
                    f"best of {len(runs)}); " + ("meets" if total <= TARGET_S else "misses") + " the target",
                    target=f"≤ {TARGET_S:g} s",
                    reference=mid == MUNICIPALITIES[0],
                )
            )
            t = time.perf_counter()
            workbook.report_workbook(ctx, Path(tmp) / f"{mid}.xlsx")
            rows.append(Row(BENCHMARK, f"{mid}: xlsx", time.perf_counter() - t))
            try:
                t = time.perf_counter()
                pdf.html_to_pdf(html, Path(tmp) / f"{mid}.pdf")
                rows.append(Row(BENCHMARK, f"{mid}: PDF (Chromium)", time.perf_counter() - t))
            except pdf.PdfError as exc:
                rows.append(Row(BENCHMARK, f"{mid}: PDF", None, note=f"skipped: {exc}"))
    return rows
