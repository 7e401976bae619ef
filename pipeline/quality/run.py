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


class MembersError(ValueError):
    """``--members GROUP`` the published warehouse cannot answer; one line naming the group."""


@dataclass(frozen=True)
class MembersScope:
    """What a members-only report kept: the group, its members' names, and how many findings it left out."""

    group: str
    members: list[str]
    years: list[int]
    left_out: int


def group_members(db: Path, group: str) -> pd.DataFrame:
    """The members of comparison group ``group`` per year (municipality_id, municipality_name, year), as the
    marts hold them: ``service_profile.is_group_member`` (role member; a comparator does not count). The marts
    are built for one group (dbt var comparison_group), so another group is an error naming the one built."""
    wanted = group.strip().upper()
    con = duckdb.connect(str(db), read_only=True)
    try:
        built = con.execute("select distinct comparison_group from marts.service_profile").fetchall()
        members = con.execute(
            "select distinct municipality_id, municipality_name, year from marts.service_profile "
            "where is_group_member order by year, municipality_id"
        ).df()
    except duckdb.Error as exc:
        raise MembersError(
            f"--members {group}: {db} has no marts.service_profile with members and names; run `kostra build`"
            f" ({str(exc).splitlines()[0]})"
        ) from None
    finally:
        con.close()
    groups = sorted({g for (g,) in built if g})
    if wanted not in {g.upper() for g in groups}:
        raise MembersError(
            f"--members {group}: the published warehouse is built for {', '.join(groups) or 'no group'}; "
            f"build it for {wanted} with KOSTRA_COMPARISON_GROUP={wanted} `kostra build`, or ask for "
            f"--members {groups[0] if groups else 'ASSS'}"
        )
    return members


def members_only(
    findings: pd.DataFrame, members: pd.DataFrame, group: str
) -> tuple[pd.DataFrame, MembersScope]:
    """The findings about a member in a year it was a member; a finding without a year, about a municipality
    that was a member in some year. Findings about other municipalities, about aggregate regions or about a
    whole table are left out (counted in the scope)."""
    by_year = set(zip(members["municipality_id"], members["year"].astype(int), strict=True))
    ever = set(members["municipality_id"])

    def keep(mid, year) -> bool:
        if not isinstance(mid, str):
            return False
        if year is None or pd.isna(year):
            return mid in ever
        return (mid, int(year)) in by_year

    mask = [keep(m, y) for m, y in zip(findings["municipality_id"], findings["year"], strict=True)]
    kept = findings[mask].reset_index(drop=True)
    newest = members[members["year"] == members["year"].max()] if not members.empty else members
    scope = MembersScope(
        group=group.strip().upper(),
        members=sorted(newest["municipality_name"].fillna(newest["municipality_id"]).tolist()),
        years=sorted({int(y) for y in members["year"]}),
        left_out=len(findings) - len(kept),
    )
    return kept, scope


def write_report_of(db: Path, out_dir: Path, members: str | None = None) -> Path:
    """The HTML report and findings.json of the findings dbt built into ``db`` (marts.dq_findings), with the
    GX results the checks left in ``out_dir`` (their run folder), if any. With ``members`` (a comparison
    group: ``ASSS`` or ``EKGnn``, the one the warehouse is built for), only its members' findings."""
    findings = read_findings(db)
    scope = None
    if members is not None:
        findings, scope = members_only(findings, group_members(db, members), members)
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
        scope=scope,
    )
