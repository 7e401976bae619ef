"""The reports asset in a real `kostra run`: the shared demo build (tests/demo_build.py, `kostra run` over four
demo releases) writes the focus municipality's report and the network overview under
``$KOSTRA_HOME/reports/kostra/``, and the run's summary names them."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

pytestmark = pytest.mark.slow


def _run_log(home: Path) -> str:
    # Every command's log holds what the terminal showed (README: logs/); the shared build is one `kostra run`.
    logs = sorted((home / "logs").glob("*-run.log"))
    assert logs, f"no run log under {home / 'logs'}"
    return logs[-1].read_text(encoding="utf-8")


def test_the_run_writes_the_focus_report_and_the_network_overview(demo_built_home):
    out = demo_built_home / "reports" / "kostra"
    focus, workbook, network = (
        out / "kostra-rapport-3201.html",
        out / "kostra-rapport-3201.xlsx",
        out / "nettverk.html",
    )
    for path in (focus, workbook, network):
        assert path.is_file() and path.stat().st_size > 0, path
        # Written after the publish, from the warehouse it published.
        assert path.stat().st_mtime >= (demo_built_home / "kostra.duckdb").stat().st_mtime, path

    html = focus.read_text(encoding="utf-8")
    assert "<h1>KOSTRA-rapport 2024: Bærum</h1>" in html
    assert 'id="demo-banner"' in html and html.count("<figure>") >= 12
    net = network.read_text(encoding="utf-8")
    assert "ASSS-nettverket sektor for sektor" in net
    for member in ("Bærum", "Bergen", "Oslo", "Trondheim - Tråante"):
        assert f'<th class="num">{member}</th>' in net
    assert "Kilder" in load_workbook(workbook, read_only=True).sheetnames


def test_the_run_summary_prints_where_the_reports_are(demo_built_home):
    log = _run_log(demo_built_home)
    summary = log[log.index("KOSTRA reports") :]
    out = demo_built_home / "reports" / "kostra"
    for name in ("kostra-rapport-3201.html", "kostra-rapport-3201.xlsx", "nettverk.html"):
        assert f"  {out / name}\n" in summary, name
