"""The ``dq_findings`` asset: run the quality checks and GX suites on the build file after dbt.

A thin wrapper over :func:`pipeline.quality.run.run_quality` (``dagster-ge`` supports only GX < 1). It
writes ``marts.dq_findings`` and the quality flags into the build file and carries one blocking asset check,
``no_fatal_findings``: a FATAL finding fails it, so the publish downstream does not run and the previous
analyst warehouse stays.
"""

import dagster as dg

from orchestration.resources import HomeResource

DQ_FINDINGS = dg.AssetKey(["marts", "dq_findings"])
NO_FATAL = "no_fatal_findings"


def dq_findings_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=DQ_FINDINGS,
        deps=upstream,
        group_name="quality",
        kinds={"duckdb", "python"},
        pool="duckdb_build",
        check_specs=[
            dg.AssetCheckSpec(
                NO_FATAL,
                asset=DQ_FINDINGS,
                blocking=True,
                description="No FATAL finding (missing ASSS member, conflicting duplicate cells, broken index "
                "or GX contract); a failure stops the publish.",
            )
        ],
        description=(
            "marts.dq_findings: every finding of the data-quality checks (completeness, status symbols, IPLOS, "
            "Hidiroglou–Berthelot, revisions, accounting identities, index sanity) and the GX suites, with "
            "severity FATAL/ERROR/WARNING/INFO; also sets quality_flag in marts.service_profile. The report is "
            "written to <home>/reports/quality/<run id>/."
        ),
    )
    def dq_findings(context: dg.AssetExecutionContext, home: HomeResource):
        from pipeline.quality.run import new_run_id, run_quality

        h = home.home()
        run_id = new_run_id()
        result = run_quality(h.build_db, out_dir=h.reports_dir / "quality" / run_id, run_id=run_id)
        counts = result.counts()
        yield dg.MaterializeResult(
            metadata={
                "run_id": result.run_id,
                "dagster/row_count": len(result.findings),
                "findings_by_severity": dg.MetadataValue.json(counts),
                "seconds": round(result.seconds, 2),
                "report": dg.MetadataValue.path(str(result.report)) if result.report else "",
            }
        )
        fatal = result.findings[result.findings["severity"] == "FATAL"]
        yield dg.AssetCheckResult(
            check_name=NO_FATAL,
            passed=fatal.empty,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "fatal": len(fatal),
                "first_fatal": fatal["message"].head(5).tolist() if not fatal.empty else [],
            },
        )

    return dq_findings


QUALITY_REPORT = dg.AssetKey(["reports", "quality_report"])


def quality_report_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=QUALITY_REPORT,
        deps=upstream,
        group_name="reports",
        kinds={"html"},
        description=(
            "The data-quality report the ASSS network reviews, for the warehouse that was just published: the "
            "newest run's report copied to <home>/reports/quality/latest/ (index.html, findings.json, GX Data "
            "Docs; opens offline)."
        ),
    )
    def quality_report(context: dg.AssetExecutionContext, home: HomeResource) -> dg.MaterializeResult:
        from pipeline.quality.report import publish_latest

        latest = publish_latest(home.home().reports_dir / "quality")
        return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(latest / "index.html"))})

    return quality_report
