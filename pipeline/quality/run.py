"""One data-quality run over a build file: checks + GX suites → marts.dq_findings, quality flags, report.

Used by the Dagster ``dq_findings`` asset and by ``kostra quality --out DIR``. FATAL findings are the
caller's signal to stop the publish; this module only records them.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.config import EXPECTATIONS_DIR
from pipeline.quality import gx_suites, report, workspace
from pipeline.quality.checks import FINDING_COLUMNS, finalize, run_checks
from pipeline.quality.config import QualityConfig

# Quality flag of an indicator value from its worst finding (INFO findings do not flag a value).
FLAG_BY_SEVERITY = {"FATAL": "unreliable", "ERROR": "unreliable", "WARNING": "use_with_care"}


@dataclass
class QualityRun:
    run_id: str
    findings: pd.DataFrame
    gx: gx_suites.GxOutcome | None
    seconds: float
    report: Path | None = None

    @property
    def fatal(self) -> int:
        return int((self.findings["severity"] == "FATAL").sum())

    def counts(self) -> dict[str, int]:
        return self.findings["severity"].value_counts().to_dict()


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def is_demo(build_db: Path) -> bool:
    """Whether the build holds the demo release (served by the local demo statbank, or flagged DEMO)."""
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        n = con.execute(
            "select count(*) from raw.releases where source like '%127.0.0.1%' or source like '%localhost%' "
            "or source ilike '%demo%'"
        ).fetchall()[0][0]
    except duckdb.Error:
        return False
    finally:
        con.close()
    return n > 0


def run_quality(
    build_db: Path,
    *,
    out_dir: Path | None = None,
    cfg: QualityConfig | None = None,
    run_id: str | None = None,
    context_root: Path = EXPECTATIONS_DIR,
    with_gx: bool = True,
    write_table: bool = True,
    demo: bool | None = None,
) -> QualityRun:
    """Check ``build_db``; write marts.dq_findings and the quality flags into it unless ``write_table`` is
    False; with ``out_dir``, also write ``findings.json``, GX Data Docs (``data_docs/``) and ``index.html``."""
    cfg = cfg or QualityConfig.from_env()
    run_id = run_id or new_run_id()
    started = time.perf_counter()
    con = workspace.from_build_db(build_db)
    try:
        findings = run_checks(con, cfg)
        gx = None
        if with_gx:
            gx = gx_suites.validate(
                con, context_root=context_root, docs_dir=Path(out_dir) / "data_docs" if out_dir else None
            )
            if not gx.findings.empty:
                findings = pd.concat([findings, finalize(gx.findings, con)], ignore_index=True)
    finally:
        workspace.close(con)
    findings["run_id"] = run_id
    findings = findings[FINDING_COLUMNS]
    seconds = time.perf_counter() - started
    if write_table:
        write_findings(build_db, findings)
    result = QualityRun(run_id, findings, gx, seconds)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "findings.json").write_text(findings_json(findings), encoding="utf-8")
        result.report = report.write_report(
            out,
            findings,
            run_id=run_id,
            demo=is_demo(build_db) if demo is None else demo,
            gx_expectations=gx.expectations if gx else None,
            data_docs_href="data_docs/index.html" if gx and gx.docs_index else None,
            seconds=seconds,
        )
    return result


def findings_json(findings: pd.DataFrame) -> str:
    rows = json.loads(findings.to_json(orient="records", force_ascii=False))
    for r in rows:
        if r.get("cells"):
            r["cells"] = json.loads(r["cells"])
    return json.dumps(rows, ensure_ascii=False, indent=1) + "\n"


_FLAGS_SQL = """
create or replace table marts.dq_indicator_flags as
with f as (
    select * from marts.dq_findings where severity in ('FATAL', 'ERROR', 'WARNING') and municipality_id is not null
),
cat as (select * from reference.indicator_catalogue),
direct as (
    -- A finding on one indicator (IPLOS measures, denominators, population age groups) flags that indicator.
    select f.municipality_id, f.year, f.indicator_id, f.severity, f."check"
    from f where f.indicator_id is not null
    union all
    -- A finding on a cell flags the catalogue rows read from that cell in that year (each IPLOS age group has
    -- its own contents code in 12292); a finding on a whole table (no contents code) flags every row of the
    -- table serving that year. Accounts findings flag the sector's expenditure indicators.
    select f.municipality_id, f.year, cat.indicator_id, f.severity, f."check"
    from f join cat on cat.table_id = f.table_id
     and (f.contents_code is null or cat.contents_code = f.contents_code)
     and (f.year is null or f.year between coalesce(cat.first_year, 0) and coalesce(cat.last_year, 9999))
     and f.table_id <> '12367'
    where f.indicator_id is null
    union all
    select f.municipality_id, f.year, cat.indicator_id, f.severity, f."check"
    from f join cat on f.table_id = '12367' and cat.kind = 'expenditure' and starts_with(cat.sector, f.sector)
    where f.indicator_id is null
),
derived as (
    -- A ratio inherits the flags of its numerator and denominator.
    select d.municipality_id, d.year, cat.indicator_id, d.severity, d."check"
    from direct d join cat on d.indicator_id in (cat.numerator_id, cat.denominator_id)
),
allf as (select * from direct union all select * from derived)
select municipality_id, year, indicator_id,
       case max(case severity when 'FATAL' then 3 when 'ERROR' then 2 else 1 end)
            when 1 then 'use_with_care' else 'unreliable' end as quality_flag,
       list(distinct "check" order by "check") as checks
from allf group by all
"""


def write_findings(build_db: Path, findings: pd.DataFrame) -> None:
    """Replace marts.dq_findings, derive marts.dq_indicator_flags, and set service_profile.quality_flag."""
    con = duckdb.connect(str(build_db))
    try:
        con.execute("create schema if not exists marts")
        con.register("_findings", findings)
        con.execute(
            'create or replace table marts.dq_findings as select run_id, "check", severity, sector, table_id, '
            "contents_code, indicator_id, region_code, municipality_id, cast(year as integer) as year, vintage, "
            "cast(observed as double) as observed, expected as expected_range, message, cells from _findings"
        )
        con.unregister("_findings")
        tables = {
            f"{s}.{t}"
            for s, t in con.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
            ).fetchall()
        }
        if "reference.indicator_catalogue" not in tables:
            return
        con.execute(_FLAGS_SQL)
        for mart in ("marts.service_profile", "marts.sector_indices"):
            if mart not in tables:
                continue
            cols = {r[0] for r in con.execute(f"describe {mart}").fetchall()}
            if not {"municipality_id", "indicator_id", "year"} <= cols:
                continue
            con.execute(f"alter table {mart} add column if not exists quality_flag varchar")
            con.execute(
                f"""
                update {mart} as m set quality_flag = coalesce(
                    (select q.quality_flag from marts.dq_indicator_flags q
                     where q.municipality_id = m.municipality_id and q.indicator_id = m.indicator_id
                       and q.year = m.year), 'ok')
                """
            )
    finally:
        con.close()
