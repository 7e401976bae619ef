"""Great Expectations 1.x suites for the warehouse's contracts, run on pandas frames read from DuckDB.

GX 1.x has no DuckDB datasource, so each suite validates a DataFrame (``frames``) through a pandas
datasource in the file-based context committed in ``expectations/`` (results and Data Docs go to its
gitignored ``uncommitted/``). Every expectation carries ``meta.severity`` (FATAL/ERROR/WARNING/INFO); a
failed expectation becomes one finding. :func:`sanitize_data_docs` strips the CDN links GX writes into Data
Docs so they open offline.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.config import EXPECTATIONS_DIR
from pipeline.quality.checks import iplos_frame
from pipeline.quality.workspace import has_relation

DATASOURCE = "kostra_frames"
CHECKPOINT = "kostra_quality"
SSB_STATUS = [".", "..", "...", ":", "-", "*", "|"]


def _suite_definitions() -> dict[str, list[tuple[str, dict, str]]]:
    """Suite → [(expectation class name, kwargs, severity)]. The committed JSON is written from this."""
    return {
        "cells": [
            ("ExpectColumnValuesToNotBeNull", {"column": "table_id"}, "FATAL"),
            ("ExpectColumnValuesToNotBeNull", {"column": "region_code"}, "FATAL"),
            (
                "ExpectColumnValuesToBeBetween",
                {"column": "year", "min_value": 1990, "max_value": 2100},
                "FATAL",
            ),
            (
                "ExpectColumnValuesToBeInSet",
                {"column": "vintage", "value_set": ["unrevised", "revised"]},
                "FATAL",
            ),
            ("ExpectColumnValuesToBeInSet", {"column": "status", "value_set": SSB_STATUS}, "ERROR"),
            (
                "ExpectColumnValuesToBeNull",
                {"column": "value", "row_condition": "status.notnull()", "condition_parser": "pandas"},
                "ERROR",
            ),
        ],
        "iplos": [
            ("ExpectColumnValuesToBeBetween", {"column": "hours", "min_value": 0}, "ERROR"),
            (
                "ExpectColumnValuesToBeBetween",
                {"column": "hours_per_user", "min_value": 0, "max_value": 168},
                "ERROR",
            ),
            (
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {
                    "column_A": "users_year",
                    "column_B": "users_year_end",
                    "or_equal": True,
                    "ignore_row_if": "either_value_is_missing",
                },
                "ERROR",
            ),
        ],
        "service_profile": [
            ("ExpectColumnValuesToNotBeNull", {"column": "municipality_id"}, "FATAL"),
            ("ExpectColumnValuesToNotBeNull", {"column": "indicator_id"}, "FATAL"),
            (
                "ExpectCompoundColumnsToBeUnique",
                {"column_list": ["municipality_id", "indicator_id", "year"]},
                "FATAL",
            ),
            (
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {
                    "column_A": "asss_members_expected",
                    "column_B": "asss_member_count",
                    "or_equal": True,
                    "ignore_row_if": "either_value_is_missing",
                },
                "ERROR",
            ),
        ],
    }


def _gx():
    # GX sends usage statistics unless told not to; the warehouse runs offline.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx


def get_context(root: Path = EXPECTATIONS_DIR):
    """The file-based GX context in ``root`` (``great_expectations.yml`` lives there)."""
    gx = _gx()
    if not (Path(root) / "great_expectations.yml").exists():
        raise FileNotFoundError(
            f"no GX context in {root}: run `python -m pipeline.quality.gx_suites` to create it"
        )
    return gx.get_context(mode="file", context_root_dir=str(root))


def write_context(root: Path = EXPECTATIONS_DIR):
    """Create (or refresh) the committed context: datasource, suites, validation definitions, checkpoint."""
    gx = _gx()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", context_root_dir=str(root))
    ds = ctx.data_sources.add_or_update_pandas(DATASOURCE)
    definitions = []
    for suite_name, expectations in _suite_definitions().items():
        asset = ds.get_asset(suite_name) if suite_name in ds.get_asset_names() else None
        asset = asset or ds.add_dataframe_asset(suite_name)
        batch = next((b for b in asset.batch_definitions if b.name == "whole"), None)
        batch = batch or asset.add_batch_definition_whole_dataframe("whole")
        suite = ctx.suites.add_or_update(gx.ExpectationSuite(name=suite_name))
        for cls_name, kwargs, severity in expectations:
            cls = getattr(gx.expectations, cls_name)
            suite.add_expectation(cls(**kwargs, meta={"severity": severity}))
        suite.save()
        definitions.append(
            ctx.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=suite_name, data=batch, suite=suite)
            )
        )
    ctx.checkpoints.add_or_update(
        gx.Checkpoint(
            name=CHECKPOINT,
            validation_definitions=definitions,
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
        )
    )
    return ctx


def frames_for(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """The DataFrames the suites validate, read from the workspace (a suite whose data is absent is skipped)."""
    frames = {
        "cells": con.execute(
            "select table_id, region_code, year, vintage, value, status from cells "
            "where status is distinct from '.'"
        ).df()
    }
    ip = iplos_frame(con)
    ip["hours_per_user"] = ip["hours"] / ip["users"].where(ip["users"] > 0)
    frames["iplos"] = ip[
        ["region_code", "year", "age_group", "hours", "hours_per_user", "users_year", "users_year_end"]
    ]
    if has_relation(con, "service_profile"):
        frames["service_profile"] = con.execute(
            "select municipality_id, indicator_id, year, asss_member_count, asss_members_expected from service_profile"
        ).df()
    return frames


@dataclass
class GxOutcome:
    success: bool
    expectations: pd.DataFrame  # suite, expectation, column, severity, success, unexpected_count, examples
    findings: pd.DataFrame  # one row per failed expectation, in the findings' columns
    docs_index: Path | None


def validate(
    con: duckdb.DuckDBPyConnection, *, context_root: Path = EXPECTATIONS_DIR, docs_dir: Path | None = None
) -> GxOutcome:
    """Run every suite on the workspace's frames; optionally copy the (sanitized) Data Docs to ``docs_dir``."""
    ctx = get_context(context_root)
    frames = frames_for(con)
    rows = []
    for name, df in frames.items():
        vd = ctx.validation_definitions.get(name)
        result = vd.run(
            batch_parameters={"dataframe": df},
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
        )
        for er in result.results:
            cfg = er.expectation_config
            kw = cfg.kwargs
            column = kw.get("column") or ",".join(
                kw.get("column_list", []) or [kw.get("column_A", ""), kw.get("column_B", "")]
            )
            rows.append(
                {
                    "suite": name,
                    "expectation": cfg.type,
                    "column": column,
                    "severity": (cfg.meta or {}).get("severity", "ERROR"),
                    "success": bool(er.success),
                    "element_count": int(er.result.get("element_count") or len(df)),
                    "unexpected_count": int(er.result.get("unexpected_count") or 0),
                    "examples": json.dumps(
                        er.result.get("partial_unexpected_list", [])[:5], default=str, ensure_ascii=False
                    ),
                }
            )
    docs_index = None
    ctx.build_data_docs()
    site = Path(context_root) / "uncommitted" / "data_docs" / "local_site"
    if docs_dir is not None and site.exists():
        docs_dir = Path(docs_dir)
        if docs_dir.exists():
            shutil.rmtree(docs_dir)
        shutil.copytree(site, docs_dir)
        sanitize_data_docs(docs_dir)
        docs_index = docs_dir / "index.html"
    table = pd.DataFrame(rows)
    failed = table[~table["success"]] if not table.empty else table
    findings = pd.DataFrame(
        [
            {
                "check": f"gx:{r.suite}:{r.expectation}",
                "severity": r.severity,
                "sector": "annet",
                "observed": float(r.unexpected_count),
                "expected": "0 avvik",
                "message": f"Great Expectations: {r.expectation} på {r.suite}.{r.column} feilet for "
                f"{r.unexpected_count} av {r.element_count} rader (eksempler: {r.examples}).",
            }
            for r in failed.itertuples()
        ]
    )
    return GxOutcome(bool(table["success"].all()) if not table.empty else True, table, findings, docs_index)


_EXTERNAL_TAG = re.compile(
    r"<(script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']https?://[^\"']*[\"'][^>]*>(?:\s*</script>)?",
    re.IGNORECASE,
)
_EXTERNAL_IMG = re.compile(r"(<img\b[^>]*\bsrc\s*=\s*)[\"']https?://[^\"']*[\"']", re.IGNORECASE)
_EXTERNAL_HREF = re.compile(r"\bhref\s*=\s*[\"']https?://[^\"']*[\"']", re.IGNORECASE)
EXTERNAL_URL = re.compile(r"\b(?:src|href)\s*=\s*[\"'](?:https?:)?//", re.IGNORECASE)


def sanitize_data_docs(site: Path) -> int:
    """Make GX Data Docs open offline: drop CDN scripts and styles, use the local logo, unlink web links.

    Returns the number of HTML files changed. The pages lose Bootstrap's styling but keep every table.
    """
    changed = 0
    for path in Path(site).rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        depth = len(path.relative_to(site).parts) - 1
        logo = "../" * depth + "static/images/logo-long.png"
        new = _EXTERNAL_TAG.sub("", html)
        new = _EXTERNAL_IMG.sub(lambda m, logo=logo: f'{m.group(1)}"{logo}"', new)
        new = _EXTERNAL_HREF.sub('href="#"', new)
        if new != html:
            path.write_text(new, encoding="utf-8")
            changed += 1
    return changed


if __name__ == "__main__":
    write_context()
    print(f"GX context written to {EXPECTATIONS_DIR}")
