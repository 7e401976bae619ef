"""Quality flags have one owner, dbt: findings planted in the quality stage's table reach every flagged mart.

The test copies the shared demo build file, replaces ``quality.findings`` (the Python stage's only output)
with planted findings, rebuilds ``source:quality+`` with dbt, and reads the flags back from
marts.dq_indicator_flags, service_profile, production_contributions and sector_indices.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipeline.config import REPO_ROOT, Home
from pipeline.quality.checks import FINDING_COLUMNS
from pipeline.quality.run import write_findings
from pipeline.reference import catalogue
from pipeline.transform.dbt_runner import run_dbt

pytestmark = pytest.mark.slow


def _finding(check, severity, table_id=None, contents_code=None, indicator_id=None, year=2024, mid="0301"):
    return {
        "run_id": "planted",
        "check": check,
        "severity": severity,
        "sector": "annet",
        "table_id": table_id,
        "contents_code": contents_code,
        "indicator_id": indicator_id,
        "municipality_id": mid,
        "region_code": mid,
        "year": year,
        "message": f"planted {check}",
    }


def _q(db: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


@pytest.fixture(scope="module")
def planted(demo_built_home: Path, tmp_path_factory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("flags")
    db = tmp / "build.duckdb"
    shutil.copy(Home(demo_built_home).build_db, db)
    # A production input of an ASSS member's P index that is also in its profile.
    pick = _q(
        db,
        """
        select pc.municipality_id, pc.indicator_id, pc.year, pc.sector
        from marts.production_contributions pc
        join marts.service_profile sp using (municipality_id, indicator_id, year)
        where pc.is_asss_member and pc.indicator_index is not null
        order by pc.year desc, pc.municipality_id, pc.indicator_id
        limit 1
        """,
    ).iloc[0]
    hours = catalogue.load_catalogue().query("indicator_id == 'po_timer_uke_67_pluss'").iloc[0]
    iplos_table, iplos_code = hours["table_id"], hours["contents_code"]
    rows = [
        _finding(
            "relative_change",
            "ERROR",
            indicator_id=pick.indicator_id,
            year=int(pick.year),
            mid=pick.municipality_id,
        ),
        _finding(
            "iplos_hours_negative", "ERROR", iplos_table, iplos_code, "po_timer_uke_67_pluss", mid="0301"
        ),
        _finding("values_identical_to_previous_year", "WARNING", "12292", mid="4601"),
        _finding("completeness_members", "ERROR", "12210", year=2020, mid="5001"),
        _finding("completeness_members", "ERROR", "13995", year=2020, mid="1103"),  # 13995 serves 2022 on
        _finding("status_share_missing", "INFO", indicator_id=pick.indicator_id, mid="1103"),
    ]
    write_findings(db, pd.DataFrame(rows).reindex(columns=FINDING_COLUMNS))
    run_dbt("build", db, select=["source:quality+"], target_path=tmp / "target", log_path=tmp / "logs")
    return db, dict(pick)


def test_the_findings_table_is_the_source_of_marts_dq_findings(planted):
    db, _ = planted
    found = _q(db, 'select "check", severity, run_id, message from marts.dq_findings')
    # The planted Python findings, beside the SQL rules' own (accounts, denominators), all under one run id.
    assert set(found["run_id"]) == {"planted"}
    assert (found["message"].str.startswith("planted ")).sum() == 6
    sql_checks = set(found["check"]) - {
        r for r in found["check"][found["message"].str.startswith("planted ")]
    }
    assert sql_checks <= {"net_le_gross", "function_total_equals_sum", "denominator_zero"}
    order = {"FATAL": 0, "ERROR": 1, "WARNING": 2, "INFO": 3}
    ranks = [order[s] for s in found["severity"]]
    assert ranks == sorted(ranks)  # worst first


def test_a_planted_flag_reaches_service_profile_production_contributions_and_sector_indices(planted):
    db, pick = planted
    key = f"municipality_id = '{pick['municipality_id']}' and year = {int(pick['year'])}"
    sp = _q(db, f"select indicator_id, quality_flag from marts.service_profile where {key}")
    flags = dict(zip(sp["indicator_id"], sp["quality_flag"], strict=True))
    assert flags[pick["indicator_id"]] == "unreliable"
    pc = _q(db, f"select indicator_id, quality_flag from marts.production_contributions where {key}")
    pflags = dict(zip(pc["indicator_id"], pc["quality_flag"], strict=True))
    assert pflags[pick["indicator_id"]] == "unreliable"
    si = _q(db, f"select quality_flag from marts.sector_indices where {key} and sector = '{pick['sector']}'")
    assert list(si["quality_flag"]) == ["unreliable"]
    # Nothing else is flagged in that municipality-year except through the planted finding.
    assert set(v for k, v in flags.items() if k != pick["indicator_id"]) <= {"ok", "unreliable"}
    unflagged = _q(db, "select count(*) as n from marts.service_profile where quality_flag = 'ok'")["n"].iloc[
        0
    ]
    assert unflagged > 0
    assert (
        _q(db, "select count(*) as n from marts.service_profile where quality_flag is null")["n"].iloc[0] == 0
    )


def test_flags_follow_the_findings_cells(planted):
    """An IPLOS finding flags its own age group's indicator and the ratios built on it; a finding on a whole
    table flags the rows that table serves in that year; INFO flags nothing."""
    db, pick = planted
    flags = _q(db, "select municipality_id, year, indicator_id, quality_flag from marts.dq_indicator_flags")
    by = {
        m: dict(zip(g["indicator_id"], g["quality_flag"], strict=True))
        for m, g in flags.groupby("municipality_id")
    }
    assert by["0301"]["po_timer_uke_67_pluss"] == "unreliable"
    assert by["0301"]["po_timer_per_bruker_67_pluss"] == "unreliable"
    assert "po_timer_uke_0_66" not in by["0301"]
    ids_12292 = set(catalogue.load_catalogue().query("table_id == '12292'")["indicator_id"])
    assert ids_12292 <= set(by["4601"]) and set(by["4601"].values()) == {"use_with_care"}
    assert {"sos_mottakere", "sos_andel_langtid"} <= set(by["5001"])
    assert "1103" not in by  # 13995 does not serve 2020, and an INFO flags nothing


def test_no_code_outside_dbt_alters_or_updates_a_dbt_model():
    """The quality stage writes quality.findings only; marts are dbt's."""
    files = subprocess.run(
        ["git", "ls-files", "pipeline", "orchestration", "bench"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    pattern = re.compile(
        r"\b(alter\s+table|update)\s+(marts|staging|intermediate|reference)\.", re.IGNORECASE
    )
    # bench/proof/sandbox.py lists such statements as what the analyst's sandbox must refuse.
    offenders = [
        f
        for f in files
        if f.endswith(".py") and f != "bench/proof/sandbox.py" and pattern.search((REPO_ROOT / f).read_text())
    ]
    assert offenders == []
