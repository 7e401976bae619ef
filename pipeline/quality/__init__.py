"""Data quality of the KOSTRA warehouse: checks, Great Expectations suites, findings and the network's report.

``run_checks(workspace)`` gives the findings of the domain checks (completeness, status symbols, IPLOS,
year-over-year, revisions, accounting identities, index sanity); ``pipeline.quality.run.run_quality`` runs
them with the GX suites on a build file and writes ``marts.dq_findings``, ``findings.json`` and the report.
"""

from pipeline.quality.checks import CHECKS, FINDING_COLUMNS, run_checks
from pipeline.quality.config import QualityConfig, Severity

__all__ = ["CHECKS", "FINDING_COLUMNS", "QualityConfig", "Severity", "run_checks"]
