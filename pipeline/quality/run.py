"""One data-quality run over a build file: the checks and GX suites → ``quality.findings``, and the report.

The stage writes one table of its own, ``quality.findings``; dbt reads it as a source and builds
marts.dq_findings, marts.dq_indicator_flags and the quality_flag of every flagged mart, so no code outside
dbt writes a dbt model. Used by the Dagster ``quality/findings`` asset; the report of what dbt built is
:func:`write_report_of`. FATAL findings are the caller's signal to stop the publish.
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

from pipeline.config import Home
from pipeline.quality import gx_suites, report, workspace
from pipeline.quality.checks import FINDING_COLUMNS, finalize, run_checks
from pipeline.quality.config import QualityConfig


@dataclass
class QualityRun:
    run_id: str
    findings: pd.DataFrame
    gx: gx_suites.GxOutcome | None
    seconds: float

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
    run_dir: Path | None = None,
    cfg: QualityConfig | None = None,
    run_id: str | None = None,
    context_root: Path | None = None,
    with_gx: bool = True,
    write_table: bool = True,
) -> QualityRun:
    """Check ``build_db`` and write the findings to ``quality.findings`` unless ``write_table`` is False; with
    ``run_dir``, the GX expectation results (``gx_expectations.json``) go there
    for the report, which is written after dbt has built marts.dq_findings (:func:`write_report_of`)."""
    cfg = cfg or QualityConfig.from_env()
    run_id = run_id or new_run_id()
    started = time.perf_counter()
    con = workspace.from_build_db(build_db)
    try:
        findings = run_checks(con, cfg)
        gx = None
        if with_gx:
            # GX writes results into its context: run in a copy under the home unless told where.
            root = context_root or gx_suites.working_context(Home.from_env().root)
            gx = gx_suites.validate(con, context_root=root)
            if not gx.findings.empty:
                findings = pd.concat([findings, finalize(gx.findings, con)], ignore_index=True)
    finally:
        workspace.close(con)
    findings["run_id"] = run_id
    findings = findings[FINDING_COLUMNS]
    if write_table:
        write_findings(build_db, findings)
    if run_dir is not None and gx is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        (Path(run_dir) / GX_RESULTS).write_text(gx.expectations.to_json(orient="records", force_ascii=False))
    return QualityRun(run_id, findings, gx, time.perf_counter() - started)


def findings_json(findings: pd.DataFrame) -> str:
    rows = json.loads(findings.to_json(orient="records", force_ascii=False))
    for r in rows:
        if r.get("cells"):
            r["cells"] = json.loads(r["cells"])
    return json.dumps(rows, ensure_ascii=False, indent=1) + "\n"


FINDINGS_TABLE = "quality.findings"
GX_RESULTS = "gx_expectations.json"


def write_findings(build_db: Path, findings: pd.DataFrame) -> None:
    """Replace the rows of ``quality.findings``, the stage's only output; dbt defines the table (macro
    ``create_quality_findings_source``) and builds marts.dq_findings, the per-value quality flags and the
    flagged marts from it (``dbt build --select source:quality+``)."""
    con = duckdb.connect(str(build_db))
    try:
        exists = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'quality' and table_name = 'findings' "
            "and database_name = current_database()"
        ).fetchall()[0][0]
        if not exists:
            raise FileNotFoundError(
                f"data quality: {build_db} has no {FINDINGS_TABLE}; run `kostra build` first"
            )
        con.register("_findings", findings.reindex(columns=FINDING_COLUMNS))
        # One transaction: a reader of the build file sees the old findings or the new ones. DuckDB wants
        # each statement's result consumed before the next.
        for sql in (
            "begin",
            f"delete from {FINDINGS_TABLE}",
            f"insert into {FINDINGS_TABLE} by name select * from _findings",
            "commit",
        ):
            con.execute(sql).fetchall()
        con.unregister("_findings")
    finally:
        con.close()


def read_findings(db: Path) -> pd.DataFrame:
    """marts.dq_findings of a built or published warehouse, in the checks' column names."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        df = con.execute("select * from marts.dq_findings").df()
    except duckdb.CatalogException as exc:
        raise FileNotFoundError(f"{db} has no marts.dq_findings: run `kostra build` first") from exc
    finally:
        con.close()
    return df.rename(columns={"expected_range": "expected"}).reindex(columns=FINDING_COLUMNS)


def write_report_of(db: Path, out_dir: Path) -> Path:
    """The HTML report and findings.json of the findings dbt built into ``db`` (marts.dq_findings), with the
    GX results the checks left in ``out_dir`` (their run folder), if any."""
    findings = read_findings(db)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gx_file = out / GX_RESULTS
    gx_expectations = pd.read_json(gx_file, orient="records", dtype=False) if gx_file.exists() else None
    (out / "findings.json").write_text(findings_json(findings), encoding="utf-8")
    run_ids = findings["run_id"].dropna().unique().tolist()
    return report.write_report(
        out,
        findings,
        run_id=run_ids[0] if run_ids else out.name,
        demo=is_demo(db),
        gx_expectations=gx_expectations,
        seconds=None,
    )
