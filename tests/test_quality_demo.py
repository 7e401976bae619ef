"""On a reduced demo release (real generator, fewer years) every planted anomaly is found; the report renders.

The demo's parquet tables become ``raw_cells`` directly (a March and a June release per year), without the
server and landing round trip, so the whole file runs in seconds. The IPLOS checks read 12292's measures and
07459's age groups by catalogue indicator id from the workspace's ``indicator_cells``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.demo.generate import generate
from pipeline.quality import gx_suites, report, run_checks, workspace
from pipeline.raw.load import NAMED_DIMS, REGION_DIMS
from pipeline.reference import catalogue

# No dbt or Dagster, but generating five demo years and checking them takes most of a minute.
pytestmark = pytest.mark.slow

FIRST, LAST = 2019, 2023


def _raw_cells(demo: Path) -> pd.DataFrame:
    frames = []
    for path in sorted((demo / "tables").glob("*.parquet")):
        t = pq.read_table(path).to_pandas()
        region = next(c for c in t.columns if c in REGION_DIMS)
        dims = [c for c in t.columns if c not in (region, "Tid") and not c.startswith(("value_", "status_"))]
        base = pd.DataFrame({"table_id": path.stem, "region_code": t[region], "period": t["Tid"]})
        base["year"] = base["period"].astype(int)
        for col in ("contents_code", "funksjon", "art", "regnskapsomfang", "alder", "kjonn"):
            base[col] = None
        other = {}
        for d in dims:
            target = "contents_code" if d == "ContentsCode" else NAMED_DIMS.get(d)
            if target:
                base[target] = t[d]
            else:
                other[d] = t[d]
        base["other_dimensions"] = None
        for vintage, month in (("unrevised", 3), ("revised", 6)):
            part = base.copy()
            part["vintage"] = vintage
            part["release_updated"] = pd.to_datetime((part["year"] + 1).astype(str) + f"-0{month}-15")
            part["value"] = t[f"value_{vintage}"]
            part["status"] = t[f"status_{vintage}"]
            frames.append(part)
    return pd.concat(frames, ignore_index=True)


# marts.revisions' columns, from the raw cells; the cell key is the project's one definition (dbt macro
# dimension_key), which concat_ws would not be: it skips NULLs, so two different cells could share a key.
_REVISIONS = f"""
create table revisions as
with k as (
    select *, {workspace.dimension_key_sql()} as dimension_key
    from raw_cells
)
select u.table_id, u.contents_code, u.region_code, u.year, u.alder, u.funksjon, u.dimension_key,
       u.value as unrevised_value, u.status as unrevised_status,
       r.value as revised_value, r.status as revised_status,
       r.value - u.value as change_abs,
       100 * (r.value - u.value) / nullif(abs(u.value), 0) as change_pct,
       u.status is null and r.status is not null as status_appeared,
       u.status is not null and r.status is null as status_vanished
from k u join k r using (table_id, region_code, period, dimension_key)
where u.vintage = 'unrevised' and r.vintage = 'revised'
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    generate(out, first_year=FIRST, last_year=LAST)
    raw = _raw_cells(out)
    # No dbt here: the workspace matches the catalogue to the raw cells itself (ages and sexes of 07459 summed
    # into the catalogue's age groups, as int_cells__catalogue_matched does in a build).
    con = workspace.from_frames(raw)
    con.execute(_REVISIONS)
    findings = run_checks(con)
    anomalies = json.loads((out / "anomalies.json").read_text())
    yield {"dir": out, "con": con, "findings": findings, "anomalies": anomalies}
    con.close()


# The rules that are SQL (dbt's intermediate/quality models); tests/test_pipeline_e2e.py finds their anomalies
# in the demo warehouse's marts.dq_findings.
SQL_CHECKS = {"net_le_gross", "function_total_equals_sum", "denominator_zero"}


def test_every_planted_anomaly_is_found(demo):
    f = demo["findings"]
    missed = []
    python_owned = [a for a in demo["anomalies"] if a["expected_check"] not in SQL_CHECKS]
    assert len(python_owned) == 7
    for a in python_owned:
        hit = f[
            (f["check"] == a["expected_check"])
            & (f["table_id"] == a["table_id"])
            & (f["region_code"] == a["region_code"])
            & (f["year"] == a["year"])
        ]
        # A finding on a cell names the anomaly's cell (IPLOS: the age group's own 12292 code).
        hit = hit[hit["contents_code"].isna() | (hit["contents_code"] == a["contents_code"])]
        if hit.empty:
            missed.append(a["anomaly_id"])
    assert len(demo["anomalies"]) == 10
    assert missed == [], f"planted anomalies not found: {missed}"


def test_iplos_findings_carry_the_age_groups_sector_and_indicator(demo):
    f = demo["findings"]
    for a in demo["anomalies"]:
        if not a["expected_check"].startswith("iplos_"):
            continue
        hit = f[
            (f["check"] == a["expected_check"])
            & (f["region_code"] == a["region_code"])
            & (f["year"] == a["year"])
        ]
        row = catalogue.fetched_rows().query(
            "table_id == @a['table_id'] and contents_code == @a['contents_code']"
        )
        assert len(row) == 1
        assert set(hit["indicator_id"]) == {row["indicator_id"].iloc[0]}, a["anomaly_id"]
        assert set(hit["sector"]) == {row["sector"].iloc[0]}, a["anomaly_id"]


def test_workspace_sums_population_ages_and_sexes(demo):
    """indicator_cells' pop_67_pluss is the sum of 07459's single years 067…105+ of both sexes."""
    con = demo["con"]
    ages = catalogue.split_codes(
        catalogue.indicators().set_index("indicator_id").loc["pop_67_pluss", "alder"]
    )
    got = con.execute(
        """
        select i.region_code, i.year, i.value, r.total
        from indicator_cells i
        join (select region_code, year, sum(value) as total, count(*) as n from cells
              where table_id = '07459' and list_contains(?, alder) and status is null group by all) r
          using (region_code, year)
        where i.indicator_id = 'pop_67_pluss'
        """,
        [ages],
    ).df()
    assert len(got) > 1000 and (got["value"] == got["total"]).all()


def test_findings_on_clean_data_are_counted_and_bounded(demo, capsys):
    """Findings not at a planted anomaly's cell: reported, and few enough above INFO to review."""
    f = demo["findings"]
    planted = {(a["table_id"], a["region_code"], a["year"]) for a in demo["anomalies"]}
    key = list(zip(f["table_id"], f["region_code"], f["year"], strict=True))
    clean = f[[k not in planted for k in key]]
    counts = clean["severity"].value_counts().to_dict()
    with capsys.disabled():
        print(f"\nfindings outside planted anomalies ({FIRST}-{LAST} demo): {counts}")
    assert counts.get("FATAL", 0) == 0  # the demo must publish
    assert counts.get("ERROR", 0) + counts.get("WARNING", 0) < 0.002 * len(
        demo["con"].execute("select * from cells").df()
    )


def test_gx_suites_are_contracts_and_store_results_under_the_home(demo, tmp_path):
    ctx = gx_suites.working_context(tmp_path / "home")
    assert ctx == tmp_path / "home" / "gx" and (ctx / "great_expectations.yml").exists()
    outcome = gx_suites.validate(demo["con"], context_root=ctx)
    t = outcome.expectations
    assert set(t["suite"]) == {"cells", "indicator_cells", "iplos"}
    # The suites are contracts (keys, domains): the planted errors are about numbers, which the Python checks
    # own (190 h a week per user is iplos_hours_per_user_implausible), so no expectation fails on the demo.
    assert t["success"].all(), t.loc[~t["success"]].to_dict("records")
    # GX repeats no rule of the checks: no expectation reads the numbers the IPLOS checks judge.
    assert not set(t["column"]) & {"hours", "hours_per_user", "users_year", "value"}
    # GX stores its results in the working copy under the home, and builds no Data Docs.
    assert {p.name for p in (ctx / "uncommitted" / "validations").iterdir()} >= {
        "cells",
        "indicator_cells",
        "iplos",
    }
    assert not (ctx / "uncommitted" / "data_docs").exists()


def test_gx_finds_a_broken_contract_and_names_the_values(tmp_path):
    """The suites' frames hold codes as categoricals; a status outside SSB's symbols and a cell without a
    region are still found, counted and quoted, as they are on text columns."""
    from tests.test_quality_checks import cell

    rows = [
        cell("12367", "0301", 2023, "KOSbelop0000", 1.0, "x"),
        cell("12367", "4601", 2023, "KOSbelop0000", 2.0, "x"),
        cell("12367", None, 2023, "KOSbelop0000", 3.0),
        cell("12367", "5001", 2023, "KOSbelop0000", None, ":"),
    ]
    con = workspace.from_frames(pd.DataFrame(rows))
    try:
        frames = gx_suites.frames_for(con)
        assert isinstance(frames["cells"]["status"].dtype, pd.CategoricalDtype)
        outcome = gx_suites.validate(con, context_root=gx_suites.working_context(tmp_path / "home"))
    finally:
        con.close()
    t = outcome.expectations.set_index(["suite", "expectation", "column"])
    status = t.loc[("cells", "expect_column_values_to_be_in_set", "status")]
    assert not status["success"] and status["unexpected_count"] == 2 and "x" in status["examples"]
    region = t.loc[("cells", "expect_column_values_to_not_be_null", "region_code")]
    assert not region["success"] and region["unexpected_count"] == 1
    assert t.loc[("cells", "expect_column_values_to_not_be_null", "table_id")]["success"]
    assert len(outcome.findings) == 2 and not outcome.success


def _report(demo, out: Path) -> Path:
    return report.write_report(out, demo["findings"], run_id="test-run", demo=True, gx_expectations=None)


def test_report_groups_by_sector_and_says_demo(demo, tmp_path):
    path = _report(demo, tmp_path)
    html = path.read_text()
    assert "DEMO DATA" in html
    assert (
        "Pleie og omsorg 67 år og over" in html and "Regnskap" not in html.split("Funn etter sektor")[0][-50:]
    )
    for a in demo["anomalies"]:
        assert a["expected_check"] in html or a["expected_check"] in SQL_CHECKS
    assert not re.search(r"\b(?:src|href)\s*=\s*[\"'](?:https?:)?//", html)
    assert "<script" not in html


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_report_renders_in_headless_chromium_without_network(demo, tmp_path):
    path = _report(demo, tmp_path / "report")
    shot = tmp_path / "shot.png"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,1600",
    ]
    subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", path.as_uri()], check=True, timeout=60, capture_output=True
    )
    assert shot.exists() and shot.stat().st_size > 20_000
    # The DOM Chromium built: every resource it could request is local (file:) or inline.
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", path.as_uri()],
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    assert "DEMO DATA" in dom
    urls = re.findall(r"\b(?:src|href)\s*=\s*[\"']([^\"']+)", dom)
    assert all(not u.startswith(("http:", "https:", "//")) for u in urls), urls
