"""The report's one door into the published warehouse: named queries over the marts, read-only.

The marts change (issue 12 reworks their method on another branch): every column the report reads is named
once, here, as ``report name -> mart column``. A renamed mart column is one edit in :data:`COLUMNS`; a column
a mart lacks is one clear error naming the mart and the column (or NULL, for the few marked optional), never
a traceback from deep inside a template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

# Per mart: the report's name for a column -> the mart's column. Optional ones read as NULL when absent.
COLUMNS: dict[str, dict[str, str]] = {
    "service_profile": {
        "municipality_id": "municipality_id",
        "municipality_name": "municipality_name",
        "year": "year",
        "indicator_id": "indicator_id",
        "sector": "sector",
        "label_nb": "label_nb",
        "unit": "unit",
        "polarity": "polarity",
        "kind": "kind",
        "vintage": "vintage",
        "value": "value",
        "status": "status",
        "comparison_group": "comparison_group",
        "group_mean": "group_mean",
        "group_min": "group_min",
        "group_max": "group_max",
        "group_member_count": "group_member_count",
        "index_group": "index_group",
        "deviation_pct": "deviation_pct",
        "national_value": "national_value",
        "is_group_member": "is_group_member",
        "is_focus": "is_focus",
        "quality_flag": "quality_flag",
    },
    "indicator_values": {
        "municipality_id": "municipality_id",
        "municipality_name": "municipality_name",
        "year": "year",
        "indicator_id": "indicator_id",
        "sector": "sector",
        "label_nb": "label_nb",
        "unit": "unit",
        "vintage": "vintage",
        "value": "value",
        "table_id": "table_id",
        "contents_code": "contents_code",
        "release_updated": "release_updated",
        "value_source": "value_source",
        "series_break": "series_break",
        "evidence_status": "evidence_status",
    },
    "indicator_trend": {
        "municipality_id": "municipality_id",
        "municipality_name": "municipality_name",
        "year": "year",
        "indicator_id": "indicator_id",
        "series_break_reason": "series_break_reason",
        "is_comparable_1y": "is_comparable_1y",
        "is_comparable_3y": "is_comparable_3y",
    },
    "sector_indices": {
        "municipality_id": "municipality_id",
        "municipality_name": "municipality_name",
        "sector": "sector",
        "year": "year",
        "comparison_group": "comparison_group",
        "production_index": "production_index",
        "expenditure_index": "expenditure_index",
        "efficiency_index": "efficiency_index",
        "complete": "complete",
        "incomplete_reason": "incomplete_reason",
        "vintage": "vintage",
        "cost_key_source": "cost_key_source",
        "cost_key_is_demo": "cost_key_is_demo",
        "cost_key_gronthefte_year": "cost_key_gronthefte_year",
        "weights_version": "weights_version",
        "is_group_member": "is_asss_member",
        "quality_flag": "quality_flag",
    },
    "production_contributions": {
        "municipality_id": "municipality_id",
        "municipality_name": "municipality_name",
        "sector": "sector",
        "year": "year",
        "indicator_id": "indicator_id",
        "label_nb": "label_nb",
        "polarity": "polarity",
        "weight": "weight",
        "weight_basis": "weight_basis",
        "indicator_index": "indicator_index",
        "contribution": "contribution",
        "contribution_share": "contribution_share",
        "production_index": "production_index",
        "quality_flag": "quality_flag",
    },
    "barometer": {
        "municipality_id": "municipality_id",
        "municipality_name": "municipality_name",
        "year": "year",
        "grade_level": "grade_level",
        "barometer_sector": "barometer_sector",
        "label_nb": "label_nb",
        "grade": "grade",
        "is_graded": "is_graded",
        "rank": "rank",
        "ranked_count": "ranked_count",
        "not_graded_reason": "not_graded_reason",
        "vintage": "vintage",
    },
    "dq_findings": {
        "check": "check",
        "severity": "severity",
        "sector": "sector",
        "table_id": "table_id",
        "contents_code": "contents_code",
        "indicator_id": "indicator_id",
        "municipality_id": "municipality_id",
        "municipality_name": "municipality_name",
        "year": "year",
        "vintage": "vintage",
        "observed": "observed",
        "expected_range": "expected_range",
        "message": "message",
    },
    "revisions": {
        "table_id": "table_id",
        "contents_code": "contents_code",
        "municipality_id": "municipality_id",
        "municipality_name": "municipality_name",
        "year": "year",
        "unrevised_value": "unrevised_value",
        "revised_value": "revised_value",
        "change_pct": "change_pct",
        "is_value_changed": "is_value_changed",
        "is_status_changed": "is_status_changed",
        "unrevised_release_updated": "unrevised_release_updated",
        "revised_release_updated": "revised_release_updated",
    },
}
# Columns a mart may lack without the report failing (read as NULL): added late, or by another branch.
OPTIONAL = {
    # Issue 12: which cost keys are DEMO; a warehouse built before reads the DEMO mark off cost_key_source.
    ("sector_indices", "cost_key_is_demo"),
    ("sector_indices", "cost_key_gronthefte_year"),
}


class ReportDataError(ValueError):
    """The warehouse cannot give the report what it needs; the message names the mart, column or parameter."""


@dataclass
class Marts:
    """Read-only queries on one published warehouse file."""

    path: Path
    _con: duckdb.DuckDBPyConnection | None = field(default=None, repr=False)
    _columns: dict[str, set[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.exists():
            raise ReportDataError(
                f"no published warehouse at {self.path}: run `kostra run` or `kostra build` first"
            )
        try:
            self._con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as exc:
            raise ReportDataError(f"{self.path} does not open as a warehouse: {exc}") from None
        rows = self._con.execute(
            "select table_name, column_name from information_schema.columns where table_schema = 'marts'"
        ).fetchall()
        for table, column in rows:
            self._columns.setdefault(table, set()).add(column)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> Marts:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def has(self, mart: str) -> bool:
        return mart in self._columns

    def select_list(self, mart: str, extra: dict[str, str] | None = None) -> str:
        """``mart_column as report_name, …`` for every column the report reads from ``mart``."""
        if mart not in self._columns:
            raise ReportDataError(f"marts.{mart} is not in the published warehouse {self.path}")
        wanted = {**COLUMNS[mart], **(extra or {})}
        parts = []
        for name, column in wanted.items():
            if column in self._columns[mart]:
                parts.append(f'"{column}" as "{name}"')
            elif (mart, column) in OPTIONAL:
                parts.append(f'null as "{name}"')
            else:
                raise ReportDataError(
                    f"marts.{mart} has no column {column!r}, which the report reads as {name!r}: a warehouse "
                    "built by an older version (run `kostra build`), or adapt pipeline/report/marts.py COLUMNS"
                )
        return ", ".join(parts)

    def frame(self, mart: str, where: str = "true", params: list | None = None, extra=None) -> pd.DataFrame:
        sql = f"select {self.select_list(mart, extra)} from marts.{mart} where {where}"
        return self._con.execute(sql, params or []).df()

    def sql(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return self._con.execute(sql, params or []).df()

    # ------------------------------------------------------------------ what the report asks

    def is_demo(self) -> bool:
        """The same test the run summary and the quality report use: a release whose source says DEMO."""
        (n,) = self._con.execute("select count(*) from raw.releases where source ilike '%DEMO%'").fetchone()
        return n > 0

    def years(self) -> list[int]:
        df = self.sql("select distinct year from marts.service_profile where value is not null order by 1")
        return [int(y) for y in df["year"]]

    def municipality_names(self) -> dict[str, str]:
        """Today's name of every municipality id, as SSB writes it: the marts' ``municipality_name`` (dbt's
        int_regions__names owns it; the report joins no reference table of its own)."""
        column = COLUMNS["service_profile"]["municipality_name"]
        self.select_list("service_profile")  # a warehouse without the column: one clear error
        df = self.sql(
            f'select municipality_id, any_value("{column}") as name from marts.service_profile '
            "group by municipality_id"
        )
        return dict(zip(df["municipality_id"], df["name"], strict=True))

    def members(self, year: int) -> list[str]:
        df = self.sql(
            "select distinct municipality_id from marts.service_profile where year = ? and is_group_member "
            "order by 1",
            [year],
        )
        return df["municipality_id"].tolist()

    def focus(self) -> str | None:
        """The focus municipality the marts were built for (``is_focus``)."""
        column = COLUMNS["service_profile"]["is_focus"]
        df = self.sql(f'select any_value(municipality_id) as m from marts.service_profile where "{column}"')
        return df["m"].iloc[0] if not df.empty else None

    def comparison_group(self) -> str:
        df = self.sql("select any_value(comparison_group) as g from marts.service_profile")
        return df["g"].iloc[0] or "ASSS"

    def group_members(self, year: int) -> pd.DataFrame:
        """Who was in the comparison group in ``year`` (marts.comparison_group_members): municipality_id,
        similarity_rank and distance (NULL outside the similar group), members only. A warehouse built before
        that mart existed answers from service_profile's is_group_member, without ranks."""
        if self.has("comparison_group_members"):
            return self.sql(
                "select municipality_id, similarity_rank, distance from marts.comparison_group_members "
                "where year = ? and role = 'member' order by similarity_rank nulls last, municipality_id",
                [year],
            )
        return pd.DataFrame(
            {"municipality_id": self.members(year), "similarity_rank": None, "distance": None}
        )

    def known_municipality(self, municipality_id: str) -> bool:
        (n,) = self._con.execute(
            "select count(*) from marts.service_profile where municipality_id = ?", [municipality_id]
        ).fetchone()
        return n > 0

    def profile(self, municipality_ids: list[str], years: list[int]) -> pd.DataFrame:
        return self.frame(
            "service_profile",
            "municipality_id in (select unnest(?)) and year in (select unnest(?))",
            [municipality_ids, years],
        )

    def values(self, municipality_id: str, years: list[int]) -> pd.DataFrame:
        return self.frame(
            "indicator_values",
            "municipality_id = ? and year in (select unnest(?))",
            [municipality_id, years],
        )

    def trend(self, municipality_id: str, year: int) -> pd.DataFrame:
        return self.frame("indicator_trend", "municipality_id = ? and year = ?", [municipality_id, year])

    def indices(self, municipality_ids: list[str], years: list[int]) -> pd.DataFrame:
        return self.frame(
            "sector_indices",
            "municipality_id in (select unnest(?)) and year in (select unnest(?))",
            [municipality_ids, years],
        )

    def contributions(self, municipality_ids: list[str], year: int) -> pd.DataFrame:
        return self.frame(
            "production_contributions",
            "municipality_id in (select unnest(?)) and year = ?",
            [municipality_ids, year],
        )

    def barometer(self, year: int) -> pd.DataFrame:
        """Sector and overall grades of every municipality in ``year`` (ranks among all are the mart's)."""
        return self.frame("barometer", "year = ? and grade_level in ('sector', 'overall')", [year])

    def findings(self, municipality_ids: list[str], years: list[int]) -> pd.DataFrame:
        return self.frame(
            "dq_findings",
            "municipality_id in (select unnest(?)) and (year is null or year in (select unnest(?)))",
            [municipality_ids, years],
        )

    def revisions(self, municipality_id: str, year: int) -> pd.DataFrame:
        if not self.has("revisions"):
            return pd.DataFrame(columns=list(COLUMNS["revisions"]))
        return self.frame(
            "revisions",
            "municipality_id = ? and year = ? and (is_value_changed or is_status_changed)",
            [municipality_id, year],
        )

    def table_titles(self) -> dict[str, str]:
        df = self.sql(
            "select table_id, any_value(title order by release_updated desc) as title from raw.releases "
            "group by table_id"
        )
        return {
            t: (title or "").split(": ", 1)[-1] for t, title in zip(df["table_id"], df["title"], strict=True)
        }
