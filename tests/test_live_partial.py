"""`kostra run --live` against a statbank that lacks one catalogue table: the other tables are landed, built
and published; the missing one is reported on its own line, and the run exits non-zero."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.demo.generate import generate
from pipeline.demo.server import DemoSource, serve
from pipeline.reference import seeds
from tests.test_live_offline import kostra

pytestmark = [pytest.mark.slow]


def test_a_missing_table_is_named_and_the_others_are_published(tmp_path):
    folder = tmp_path / "statbank"
    # Four data years and a few regions are enough here: the test is about the missing table, not the data.
    # The ingest's completeness check wants every ASSS member and comparator: they and the country.
    members = {
        code
        for year in range(2021, 2025)
        for mid in seeds.asss_members(year, include_comparators=True)
        for code in seeds.codes_for(mid, year)
    }
    generate(folder, first_year=2021, regions=["EAK", *sorted(members)])
    for path in (folder / "tables").glob("12280.*"):
        path.unlink()  # as if SSB had withdrawn the table
    home = tmp_path / "home"
    with serve(DemoSource(folder), max_calls=1000, window_seconds=1) as srv:
        v0, v2 = srv.roots()
        # Three tables, one of them missing: the run's handling of a missing table is the same for three as
        # for the whole catalogue, and it fetches a fraction of the cells.
        proc, _ = kostra(
            ["run", "--live", "--tables", "12280,13502,07459"],
            home,
            timeout=900,
            KOSTRA_SSB_V0_ROOT=v0,
            KOSTRA_SSB_V2_ROOT=v2,
        )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out
    failed = [line for line in out.splitlines() if line.startswith("failed: table ")]
    assert len(failed) == 1, failed
    assert failed[0].startswith("failed: table 12280:") and "no such table" in failed[0]
    con = duckdb.connect(str(home / "kostra.duckdb"), read_only=True)
    tables = {t for (t,) in con.execute("select distinct table_id from raw.releases").fetchall()}
    con.close()
    assert "12280" not in tables and tables == {"07459", "13502"}
