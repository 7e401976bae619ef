"""End to end through the CLI: the demo statbank over HTTP → landing → raw cells → dbt → published warehouse.

Slow (one Dagster ingest run, one dbt build); everything else tests the parts.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import orjson
import pytest

from pipeline.cli import main
from pipeline.config import DBT_PROJECT_DIR, Home
from pipeline.landing.store import LandingStore
from tests.demo_build import DEMO_RELEASES, copy_home

pytestmark = pytest.mark.slow

RELEASES = DEMO_RELEASES


@pytest.fixture()
def demo_home(demo_built_home, monkeypatch):
    """The run's shared demo warehouse (tests/demo_build.py), for tests that only read it."""
    monkeypatch.setenv("KOSTRA_HOME", str(demo_built_home))
    return Home.from_env()


@pytest.fixture()
def own_demo_home(demo_built_home, tmp_path, monkeypatch):
    """A private copy of the shared demo warehouse, for tests that write to the home."""
    monkeypatch.setenv("KOSTRA_HOME", str(copy_home(demo_built_home, tmp_path / "home")))
    return Home.from_env()


def _q(home: Home, sql: str, params=()):
    con = duckdb.connect(str(home.published_db), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def test_every_catalogue_table_arrived_over_http_with_both_vintages(demo_home):
    store = LandingStore(demo_home.landing)
    fetches = list(store.fetches())
    tables = {f.table_id for f in fetches}
    from pipeline.reference.catalogue import tables as catalogue_tables

    # Releases 2024-03 … 2025-06 publish data years 2023 and 2024: 12210 ended with 2021 and is not fetched.
    served = {t for t, spec in catalogue_tables().items() if spec.serves(2023) or spec.serves(2024)}
    assert "12210" not in served and "13995" in served
    assert tables == served
    assert all(f.source.startswith("http://127.0.0.1:") for f in fetches)
    # Four releases per table; the first fetch of a table takes every year, later ones only the newest.
    assert len(fetches) == 4 * len(tables)
    rows = _q(
        demo_home,
        "select year, vintage, count(distinct release_updated) from raw.cells where table_id = '13502' "
        "group by all order by all",
    )
    assert (2023, "unrevised", 1) in rows and (2023, "revised", 1) in rows
    assert (2024, "unrevised", 1) in rows and (2024, "revised", 1) in rows
    assert (2015, "revised", 1) in rows and (2015, "unrevised", 1) not in rows


def test_bærum_is_one_continuous_series_across_the_reforms(demo_home):
    rows = _q(
        demo_home,
        "select year, region_code, value is not null from marts.service_profile "
        "where municipality_id = '3201' and indicator_id = 'bh_andel_1_2' order by year",
    )
    assert [r[0] for r in rows] == list(range(2015, 2025))
    assert {r[1] for r in rows if r[0] <= 2019} == {"0219"}
    assert {r[1] for r in rows if 2020 <= r[0] <= 2023} == {"3024"}
    assert {r[1] for r in rows if r[0] == 2024} == {"3201"}
    assert all(r[2] for r in rows)


def test_the_profile_compares_against_the_asss_members_of_the_year(demo_home):
    counts = dict(
        _q(
            demo_home,
            "select year, max(asss_member_count) from marts.service_profile "
            "where indicator_id = 'bh_andel_1_2' group by 1",
        )
    )
    assert counts[2021] == 10 and counts[2022] == 12  # Asker and Lillestrøm joined in 2022


def test_the_quality_report_for_the_published_warehouse_is_in_place(demo_home):
    report = demo_home.reports_dir / "quality" / "latest" / "index.html"
    html = report.read_text(encoding="utf-8")
    assert "DEMO" in html
    assert "https://" not in html and "http://" not in html  # opens offline
    # The report is of marts.dq_findings: the SQL rules' findings are in it beside the Python checks'.
    assert "net_le_gross" in html and "iplos_hours_per_user_implausible" in html
    assert "Great Expectations" in html and "indicator_cells" in html  # every GX suite is listed
    flags = _q(demo_home, "select distinct quality_flag from marts.service_profile")
    assert {f for (f,) in flags} <= {"ok", "use_with_care", "unreliable"} and ("ok",) in flags


def test_the_planted_accounts_and_denominator_errors_are_in_dq_findings(demo_home):
    """The rules that are SQL (dbt's intermediate/quality models) find the demo's planted anomalies of their
    kind in the published marts.dq_findings, beside the Python stage's findings."""
    import json

    anomalies = json.loads((demo_home.demo_dir / "anomalies.json").read_text(encoding="utf-8"))
    years = {
        t: (lo, hi)
        for t, lo, hi in _q(demo_home, "select table_id, min(year), max(year) from raw.cells group by 1")
    }
    sql_owned = [
        a
        for a in anomalies
        if a["expected_check"] in {"net_le_gross", "function_total_equals_sum", "denominator_zero"}
        and a["table_id"] in years
        and years[a["table_id"]][0] <= a["year"] <= years[a["table_id"]][1]
    ]
    assert sql_owned, "the demo plants no accounts or denominator anomaly in the landed years"
    for a in sql_owned:
        hits = _q(
            demo_home,
            'select severity, message from marts.dq_findings where "check" = ? and region_code = ? and year = ?',
            (a["expected_check"], a["region_code"], a["year"]),
        )
        assert hits, a
    checks = {c for (c,) in _q(demo_home, 'select distinct "check" from marts.dq_findings')}
    assert "iplos_hours_per_user_implausible" in checks  # and the Python stage's, in the same mart


def test_the_quality_stage_reads_dbt_s_current_cells_and_they_are_the_newest_of_every_raw_cell(demo_home):
    """The checks' ``cells`` is a view of int_cells__current in the build file (no copy in memory), and it holds
    what picking the newest publication of every raw cell gives: the same rows, dimension keys included (the
    newest data year, published unrevised and revised)."""
    from pipeline.quality import workspace

    con = workspace.from_build_db(demo_home.build_db)
    try:
        kind = con.execute(
            "select table_type from information_schema.tables "
            "where table_name = 'cells' and table_catalog = current_database()"
        ).fetchall()
        assert kind == [("VIEW",)]
        year = con.execute("select max(year) from cells").fetchone()[0]
        workspace.current_cells_from_raw(con, "cells_from_raw", years=[year])
        con.execute(f"create temp view cells_of_year as select * from cells where year = {int(year)}")
        cols = ", ".join(workspace.CELL_COLUMNS)
        n = con.execute("select count(*) from cells_of_year").fetchone()[0]
        assert n > 10_000
        assert n == con.execute("select count(*) from cells_from_raw").fetchone()[0]
        for a, b in (("cells_of_year", "cells_from_raw"), ("cells_from_raw", "cells_of_year")):
            extra = con.execute(
                f"select count(*) from (select {cols} from {a} except all select {cols} from {b})"
            )
            assert extra.fetchone()[0] == 0, f"{a} has rows {b} lacks"
        # a revised year shows its June release, not the March one before it
        vintages = con.execute("select distinct vintage from cells_of_year").fetchall()
        assert ("revised",) in vintages
    finally:
        workspace.close(con)


def test_the_demo_is_labelled_and_reingesting_lands_nothing_new(own_demo_home):
    demo_home = own_demo_home
    from contextlib import ExitStack

    from orchestration import run as runner
    from orchestration.resources import StatbankResource
    from pipeline.cli import _start_demo

    releases = _q(demo_home, "select distinct source from raw.releases")
    assert releases and all("DEMO" in s for (s,) in releases)
    before = len(list(LandingStore(demo_home.landing).fetches()))
    with ExitStack() as stack:
        server, _keys = _start_demo(demo_home, stack)
        runner.ingest(demo_home, StatbankResource(asof_root=server.url), RELEASES.split(","))
    assert len(list(LandingStore(demo_home.landing).fetches())) == before


def test_query_reads_the_published_warehouse(demo_home, capsys):
    assert main(["query", "--json", "select count(*) as n from marts.indicator_values"]) == 0
    (row,) = orjson.loads(capsys.readouterr().out)
    assert row["n"] > 1000
    assert main(["query", "--csv", "select 1 as a, 'x' as b"]) == 0
    assert capsys.readouterr().out.splitlines() == ['"a","b"', '1,"x"']
    assert main(["query", "select * from no_such_table"]) == 2


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_export_a_municipality_profile(demo_home, tmp_path, fmt):
    out = tmp_path / f"baerum.{fmt}"
    assert (
        main(
            [
                "export",
                "--what",
                "service_profile",
                "--municipality",
                "3201",
                "--format",
                fmt,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    if fmt == "csv":
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(out)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(out)
    else:
        from openpyxl import load_workbook

        from pipeline.report.workbook import HEADERS_NB

        wb = load_workbook(out, read_only=True)
        assert wb.sheetnames == ["service_profile", "Kilder"]
        rows = list(wb["service_profile"].values)
        # The DEMO row above the Norwegian header row, then the rows.
        assert "DEMO DATA" in rows[0][0]
        header, body = rows[1], rows[2:]
        ids = {r[header.index(HEADERS_NB["municipality_id"])] for r in body}
        assert ids == {"3201"} and len(body) > 100
        return
    assert set(table.column("municipality_id").to_pylist()) in ({"3201"}, {3201})
    assert table.num_rows > 100


def test_export_names_the_bad_parameter(demo_home, tmp_path, capsys):
    assert main(["export", "--what", "nope", "--out", str(tmp_path / "x.csv")]) == 1
    assert "--what 'nope'" in capsys.readouterr().err
    assert main(["export", "--municipality", "9998", "--out", str(tmp_path / "x.csv")]) == 1
    assert "--municipality '9998'" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def _readme_queries() -> list[str]:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    return [q.strip() for q in re.findall(r"```sql\n(.*?)```", text, flags=re.S)]


def test_the_readme_queries_answer_on_the_demo_warehouse(demo_home):
    queries = _readme_queries()
    assert len(queries) >= 10
    answered = 0
    for sql in queries:
        rows = _q(demo_home, sql)
        answered += bool(rows)
    assert answered >= len(queries) - 1  # every query runs; all but at most one return rows on the demo


def test_dbt_docs_catalogue_covers_every_model_and_column(own_demo_home, tmp_path):
    demo_home = own_demo_home  # dbt opens the build file to write
    import json

    from pipeline.transform.dbt_runner import run_dbt

    run_dbt("docs generate", demo_home.build_db, target_path=tmp_path / "target", log_path=tmp_path / "logs")
    catalog = json.loads((tmp_path / "target" / "catalog.json").read_text())
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    models = {k for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
    assert models and models <= set(catalog["nodes"])
    for key in models:
        documented = manifest["nodes"][key]["columns"]
        assert manifest["nodes"][key]["description"], key
        assert set(catalog["nodes"][key]["columns"]) <= {c.lower() for c in documented} | {
            c for c in catalog["nodes"][key]["columns"]
        }
        missing = [c for c in catalog["nodes"][key]["columns"] if c not in documented]
        assert not missing, f"{key}: undocumented columns {missing}"


def test_kostra_quality_reports_the_published_findings(demo_home, tmp_path, capsys):
    from pipeline.cli import main

    assert main(["quality", "--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    assert "Data-quality findings of the published warehouse" in out and "ERROR" in out
    assert "net_le_gross" in (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert (tmp_path / "report" / "findings.json").is_file()


def _dbt_invocations(log: Path) -> list[list[str]]:
    """The messages of each dbt invocation in a ``dbt.log`` (JSON lines), oldest first."""
    invocations: dict[str, list[str]] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        info = orjson.loads(line)["info"]
        invocations.setdefault(info["invocation_id"], []).append(info["msg"])
    return list(invocations.values())


def test_a_new_home_s_first_dbt_step_starts_from_the_setup_s_parse(demo_home):
    """The demo home is new, built with the default vars: its first dbt step reuses the parse of
    `make dbt-parse` (through the home's project links), and its second the first's. (dbt says so at debug
    level: the demo home is built with DBT_LOG_LEVEL_FILE=debug, which the steps keep to.)"""
    invocations = _dbt_invocations(demo_home.dbt_log_dir / "dbt.log")
    assert len(invocations) >= 2
    for messages in invocations[:2]:
        assert not [m for m in messages if m.startswith("Unable to do partial parsing")], messages[:8]
        assert any(m.startswith("Partial parsing enabled") for m in messages)
    assert demo_home.dbt_project_dir.joinpath("models").resolve() == (DBT_PROJECT_DIR / "models").resolve()
