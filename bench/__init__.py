"""Benchmarks for kostra-warehouse: each module measures one path and returns :class:`Row` results.

Run them all with ``python -m bench.run``; see bench/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    """One measured approach within one benchmark; ``reference`` marks the row the ratios divide by."""

    benchmark: str
    approach: str
    seconds: float | None  # None: a row that reports memory only
    peak_rss_mb: float | None = None
    work_rss_mb: float | None = None
    rows: int | None = None
    note: str = ""
    reference: bool = False
    target: str = ""  # the goal the row is measured against, e.g. "≤ 60 s" (met or not: in the note)
