"""The summary printed after a run: what the published warehouse holds and where things are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from pipeline.config import Home
from pipeline.publish.warehouse import connect_published


def summary_rows(home: Home) -> list[tuple]:
    con = connect_published(home)
    try:
        return con.execute(
            """
            select c.table_id,
                   any_value(r.title) as title,
                   count(distinct c.release_updated) as releases,
                   min(c.year) as first_year,
                   max(c.year) as last_year,
                   count(*) as cells,
                   count(*) filter (where c.vintage = 'unrevised') as unrevised,
                   count(*) filter (where c.status is null) as with_value,
                   count(*) filter (where c.status = '.') as not_applicable,
                   count(*) filter (where c.status = '..') as missing,
                   count(*) filter (where c.status = ':') as suppressed
            from raw.cells c
            left join raw.releases r using (table_id, release_updated)
            group by c.table_id
            order by c.table_id
            """
        ).fetchall()
    finally:
        con.close()


def is_demo(home: Home) -> bool:
    con = connect_published(home)
    try:
        (n,) = con.execute("select count(*) from raw.releases where source ilike '%DEMO%'").fetchone()
        return n > 0
    finally:
        con.close()


def pipeline_reports(home: Home) -> list:
    """The report files the reports asset wrote for the warehouse now published: those under
    ``<home>/reports/kostra/`` not older than the publish (a report of an earlier focus stays on disk but is
    not this build's)."""
    folder = home.reports_dir / "kostra"
    if not folder.is_dir() or not home.published_db.exists():
        return []
    published = home.published_db.stat().st_mtime
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.stat().st_mtime >= published
    )


def print_summary(home: Home, console: Console | None = None) -> None:
    console = console or Console()
    if not console.is_terminal:
        console.width = max(console.width, 150)  # logs and CI: no squeezing into 80 columns
    rows = summary_rows(home)
    demo = is_demo(home)
    title = "Warehouse contents" + (" — DEMO DATA (synthetic values, real structure)" if demo else "")
    t = Table(title=title)
    t.add_column("table", no_wrap=True)
    t.add_column("title", overflow="ellipsis", no_wrap=True, max_width=40)
    for col in ("releases", "years", "cells", "unrevised", "with value", ".", "..", ":"):
        t.add_column(col, justify="right", no_wrap=True)
    for tid, name, rel, y0, y1, cells, unrev, val, na, miss, supp in rows:
        t.add_row(
            tid,
            (name or "").split(": ", 1)[-1],
            str(rel),
            f"{y0}–{y1}",
            f"{cells:,}",
            f"{unrev:,}",
            f"{val:,}",
            f"{na:,}",
            f"{miss:,}",
            f"{supp:,}",
        )
    console.print(t)
    total = sum(r[5] for r in rows)
    console.print(f"{len(rows)} tables, {sum(r[2] for r in rows)} releases, {total:,} cells.")
    console.print(f"Published warehouse (open read-only): {home.published_db}")
    console.print(f"Landing store: {home.landing}   Build file (private): {home.build_db}")
    latest = home.reports_dir / "quality" / "latest" / "index.html"
    if latest.exists():
        console.print(f"Data-quality report: {latest}")
    reports = pipeline_reports(home)
    if reports:
        console.print("KOSTRA reports (the focus municipality's report and the network overview):")
        for path in reports:
            # One path a line, never wrapped: a reader (or a test) can copy it whole.
            console.print(f"  {path}", soft_wrap=True, markup=False, highlight=False)
    console.print('Try: kostra query "select * from marts.service_profile where is_focus limit 20"')


@dataclass(frozen=True)
class FetchOutcome:
    """One table of ``kostra fetch``: its landed record (None: nothing new) or the error that stopped it."""

    table_id: str
    record: Any = None
    error: BaseException | None = None


def fetch_failure_lines(outcomes: Sequence[FetchOutcome]) -> list[str]:
    """One line per failed table: ``table 12209: <reason>``."""
    lines = []
    for o in outcomes:
        if o.error is None:
            continue
        reason = getattr(o.error, "reason", None) or str(o.error)
        lines.append(f"table {o.table_id}: {type(o.error).__name__}: {' '.join(str(reason).split())}")
    return lines


def print_fetch_outcomes(outcomes: Sequence[FetchOutcome], console: Console | None = None) -> int:
    """The end of ``kostra fetch``: counts, then which tables failed and why; 1 if any failed, else 0."""
    console = console or Console(stderr=True, soft_wrap=True)
    failed = fetch_failure_lines(outcomes)
    landed = sum(1 for o in outcomes if o.error is None and o.record is not None)
    current = sum(1 for o in outcomes if o.error is None and o.record is None)
    console.print(f"{len(outcomes)} tables: {landed} landed, {current} already current, {len(failed)} failed")
    for line in failed:
        console.print(line, markup=False, highlight=False)
    return 1 if failed else 0
