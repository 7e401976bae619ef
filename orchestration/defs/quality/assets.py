"""The quality stage as Dagster assets: the checks' findings, and the report of what dbt built from them.

``quality/findings`` runs the Python checks and GX suites (:func:`pipeline.quality.run.run_quality`;
``dagster-ge`` supports only GX < 1) on the build file after the first dbt step and writes the stage's one
table, ``quality.findings``. dbt reads it as a source (``source:quality+``) and builds marts.dq_findings, the
flags and the flagged marts; no code outside dbt writes a dbt model. The asset carries one blocking check,
``no_fatal_findings``: a FATAL finding fails it, so nothing downstream (the quality models, the publish)
runs and the previous analyst warehouse stays.
"""

import dagster as dg

from orchestration.defs.dbt.assets import kostra_dbt_models
from orchestration.defs.warehouse.assets import published
from orchestration.resources import HomeResource

QUALITY_FINDINGS = dg.AssetKey(["quality", "findings"])
DQ_FINDINGS = dg.AssetKey(["marts", "dq_findings"])
NO_FATAL = "no_fatal_findings"


def quality_findings_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=QUALITY_FINDINGS,
        deps=upstream,
        group_name="quality",
        kinds={"duckdb", "python"},
        pool="duckdb_build",
        check_specs=[
            dg.AssetCheckSpec(
                NO_FATAL,
                asset=QUALITY_FINDINGS,
                blocking=True,
                description="No FATAL finding (a missing ASSS member's table, a broken GX contract); a failure "
                "stops the quality models and the publish.",
            )
        ],
        description=(
            "quality.findings: every finding of the Python checks (completeness, status symbols, IPLOS, "
            "Hidiroglou–Berthelot, year-on-year, revisions, accounting identities) and the GX contracts, with "
            "severity FATAL/ERROR/WARNING/INFO. dbt builds marts.dq_findings and the quality flags from it. The "
            "GX results go to <home>/reports/quality/<run id>/ for the report."
        ),
    )
    def quality_findings(context: dg.AssetExecutionContext, home: HomeResource):
        from pipeline.quality import gx_suites
        from pipeline.quality.run import new_run_id, run_quality

        h = home.home()
        run_id = new_run_id()
        result = run_quality(
            h.build_db,
            run_dir=h.reports_dir / "quality" / run_id,
            run_id=run_id,
            context_root=gx_suites.working_context(h.root),
        )
        yield dg.MaterializeResult(
            metadata={
                "run_id": result.run_id,
                "dagster/row_count": len(result.findings),
                "findings_by_severity": dg.MetadataValue.json(result.counts()),
                "seconds": round(result.seconds, 2),
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

    return quality_findings


QUALITY_REPORT = dg.AssetKey(["reports", "quality_report"])


def quality_report_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=QUALITY_REPORT,
        deps=upstream,
        group_name="reports",
        kinds={"html"},
        description=(
            "The data-quality report the ASSS network reviews, of the warehouse just published: marts.dq_findings "
            "rendered with the run's GX results into <home>/reports/quality/<run id>/, and copied to "
            "<home>/reports/quality/latest/ (index.html, findings.json; opens offline)."
        ),
    )
    def quality_report(context: dg.AssetExecutionContext, home: HomeResource) -> dg.MaterializeResult:
        from pipeline.quality.report import publish_latest
        from pipeline.quality.run import write_report_of

        h = home.home()
        runs = h.reports_dir / "quality"
        # The quality run whose findings were just published: its folder holds the run's GX results.
        checked = context.instance.get_latest_materialization_event(QUALITY_FINDINGS)
        run_id = checked.asset_materialization.metadata["run_id"].value if checked else context.run.run_id
        path = write_report_of(h.published_db, runs / run_id)
        latest = publish_latest(runs)
        return dg.MaterializeResult(
            metadata={
                "report": dg.MetadataValue.path(str(path)),
                "latest": dg.MetadataValue.path(str(latest)),
            }
        )

    return quality_report


# Module-level definitions, found by dg.load_defs.
quality_findings = quality_findings_asset(list(kostra_dbt_models.keys))
quality_report = quality_report_asset([published.key, DQ_FINDINGS])


KOSTRA_REPORTS = dg.AssetKey(["reports", "kostra_report"])


def kostra_reports_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=KOSTRA_REPORTS,
        deps=upstream,
        group_name="reports",
        kinds={"html", "pdf", "xlsx"},
        description=(
            "The KOSTRA report of the focus municipality (HTML, PDF, xlsx) and the network overview (HTML, PDF) "
            "of the warehouse just published, under <home>/reports/kostra/ (PDF when headless Chromium is "
            "installed). The same files as `kostra report`."
        ),
    )
    def kostra_report(context: dg.AssetExecutionContext, home: HomeResource) -> dg.MaterializeResult:
        from pipeline.report.build import build_pipeline_reports

        # The focus the marts were built for (the build's run config), read back from the warehouse.
        written = build_pipeline_reports(home.home())
        return dg.MaterializeResult(
            metadata={name: dg.MetadataValue.path(str(path)) for name, path in written.items()}
        )

    return kostra_report


kostra_report = kostra_reports_asset([published.key, DQ_FINDINGS])
