"""A small published warehouse with planted deviations, for the report's tests (no dbt, built in a second).

It holds only what pipeline.report.marts reads: the marts' columns named in ``COLUMNS`` (names included: the
report reads them from the marts, never from the reference seed, which the fixture leaves out) and
raw.releases. Three members (Oslo, Bergen, Bærum) and Asker as comparator, years 2021–2024. Planted in 2024
for Bærum:
- gs_gruppestorrelse (lower is better): 18.6 against a mean of 15.5, +20 %, unfavourable;
- bh_kost_per_time (lower is better): 70.4 against 80, −12 %, favourable;
- gs_grunnskolepoeng (higher is better): 45.2 against 40, +13 %, favourable;
- gs_andel_spes: a quality flag (use_with_care), −30 %;
- sos_andel_langtid: a series break in indicator_trend, +25 %;
- grunnskole's P = 97.8 (2,2 prosent lavere).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from pipeline.report.marts import COLUMNS

MEMBERS = ["0301", "4601", "3201"]
COMPARATOR = "3203"
YEARS = [2021, 2022, 2023, 2024]
NAMES = {"0301": "Oslo", "4601": "Bergen", "3201": "Bærum", "3203": "Asker", "5001": "Trondheim"}

# indicator: (sector, label, unit, polarity, kind, table, contents code, {municipality: 2024 value})
INDICATORS = {
    "gs_gruppestorrelse": (
        "grunnskole",
        "Gruppestørrelse 2 (gjennomsnitt)",
        "elever",
        "lower_better",
        "quality",
        "12255",
        "KOSgrstr20000",
        {"0301": 14.0, "4601": 13.9, "3201": 18.6, "3203": 15.0},
    ),
    "gs_grunnskolepoeng": (
        "grunnskole",
        "Gjennomsnittlige grunnskolepoeng",
        "poeng",
        "higher_better",
        "quality",
        "12255",
        "KOSgrunnskolepoe0000",
        {"0301": 38.0, "4601": 36.8, "3201": 45.2, "3203": 41.0},
    ),
    "gs_andel_spes": (
        "grunnskole",
        "Andel elever som får spesialundervisning",
        "prosent",
        "neutral",
        "coverage",
        "12255",
        "KOSandelspes0000",
        {"0301": 9.0, "4601": 8.7, "3201": 5.6, "3203": 7.0},
    ),
    "bh_kost_per_time": (
        "barnehage",
        "Korrigerte brutto driftsutgifter per korrigert oppholdstime",
        "kroner",
        "lower_better",
        "productivity",
        "13502",
        "KOSkostoppholdst0000",
        {"0301": 84.0, "4601": 85.6, "3201": 70.4, "3203": 79.0},
    ),
    "sos_andel_langtid": (
        "sosiale_tjenester",
        "Andel langtidsmottakere av alle sosialhjelpsmottakere",
        "prosent",
        "lower_better",
        "need",
        "13995",
        "KOSandellangtid0000",
        {"0301": 30.0, "4601": 30.0, "3201": 40.0, "3203": 33.0},
    ),
}
FLAGGED = {("3201", "gs_andel_spes", 2024): "use_with_care"}
BREAKS = {("3201", "sos_andel_langtid", 2024): "2022: mottakere erstattet av saker (13995)"}
P_2024 = {"grunnskole": {"0301": 101.0, "4601": 101.2, "3201": 97.8}}


def _values(ind: str, year: int) -> dict[str, float]:
    # Earlier years: a little below 2024, so the development has a direction.
    base = INDICATORS[ind][7]
    return {m: v * (1 - 0.02 * (2024 - year)) for m, v in base.items()}


def _frame(mart: str, rows: list[dict]) -> pd.DataFrame:
    cols = list(dict.fromkeys(COLUMNS[mart].values()))
    # Every row carries its municipality's name, as the dbt marts do (int_regions__names).
    rows = [{"municipality_name": NAMES.get(r.get("municipality_id")), **r} for r in rows]
    return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)


# The similar group of the fixture (build(group=SIMILAR)): Bærum itself and its two nearest, with distances.
SIMILAR = "similar:3201"
SIMILAR_MEMBERS = [("3201", 0, 0.0), ("0301", 1, 0.41), ("4601", 2, 0.77)]


def build(path: Path, *, demo: bool = True, group: str = "ASSS") -> Path:
    """The fixture warehouse; ``group`` names the comparison group its marts say they were built against
    (the same three members either way). With the similar group it also holds marts.comparison_group_members
    with ranks and distances; the ASSS one leaves that mart out, as a warehouse built before it would."""
    profile, values, trend, contributions, indices, barometer, findings = [], [], [], [], [], [], []
    for year in YEARS:
        for ind, (sector, label, unit, polarity, kind, table, code, _) in INDICATORS.items():
            vals = _values(ind, year)
            member_vals = [vals[m] for m in MEMBERS]
            mean = sum(member_vals) / len(member_vals)
            for mid, v in vals.items():
                flag = FLAGGED.get((mid, ind, year), "ok")
                profile.append(
                    {
                        "municipality_id": mid,
                        "year": year,
                        "indicator_id": ind,
                        "sector": sector,
                        "label_nb": label,
                        "unit": unit,
                        "polarity": polarity,
                        "kind": kind,
                        "vintage": "revised",
                        "value": v,
                        "status": None,
                        "comparison_group": group,
                        "group_mean": mean,
                        "group_min": min(member_vals),
                        "group_max": max(member_vals),
                        "group_member_count": 3,
                        "index_group": 100 * v / mean,
                        "deviation_pct": 100 * v / mean - 100,
                        "national_value": mean,
                        "is_group_member": mid in MEMBERS,
                        "is_focus": mid == "3201",
                        "quality_flag": flag,
                    }
                )
                values.append(
                    {
                        "municipality_id": mid,
                        "year": year,
                        "indicator_id": ind,
                        "sector": sector,
                        "label_nb": label,
                        "unit": unit,
                        "vintage": "revised",
                        "value": v,
                        "table_id": table,
                        "contents_code": code,
                        "release_updated": pd.Timestamp(f"{year + 1}-06-15 06:00"),
                        "value_source": "published",
                        "series_break": None,
                        "evidence_status": "confirmed",
                    }
                )
                trend.append(
                    {
                        "municipality_id": mid,
                        "year": year,
                        "indicator_id": ind,
                        "series_break_reason": BREAKS.get((mid, ind, year)),
                        "is_comparable_1y": True,
                        "is_comparable_3y": (mid, ind, year) not in BREAKS,
                    }
                )
        for sector, ps in P_2024.items():
            for mid in [*MEMBERS, COMPARATOR]:
                p = ps.get(mid, 100.0) if year == 2024 else 100.0
                indices.append(
                    {
                        "municipality_id": mid,
                        "sector": sector,
                        "year": year,
                        "comparison_group": group,
                        "production_index": p,
                        "expenditure_index": 100.0,
                        "efficiency_index": p,
                        "complete": True,
                        "incomplete_reason": None,
                        "vintage": "revised",
                        "cost_key_source": "DEMO: syntetisk",
                        "cost_key_is_demo": True,
                        "cost_key_gronthefte_year": None,
                        "weights_version": "v1",
                        "is_asss_member": mid in MEMBERS,
                        "quality_flag": "ok",
                    }
                )
                for ind, w in (("gs_gruppestorrelse", 0.5), ("gs_grunnskolepoeng", 0.5)):
                    contributions.append(
                        {
                            "municipality_id": mid,
                            "sector": sector,
                            "year": year,
                            "indicator_id": ind,
                            "label_nb": INDICATORS[ind][1],
                            "polarity": INDICATORS[ind][3],
                            "weight": w,
                            "weight_basis": "proposed",
                            "indicator_index": p,
                            "contribution": w * p,
                            "contribution_share": w,
                            "production_index": p,
                            "quality_flag": "ok",
                        }
                    )
        for i, mid in enumerate([*MEMBERS, COMPARATOR]):
            for level, sector in (("sector", "grunnskole"), ("overall", None)):
                # The comparator's overall grade is missing (too few sectors graded): no grade, no rank (NULL
                # in a BIGINT column, as the mart has it).
                graded = not (mid == COMPARATOR and level == "overall")
                barometer.append(
                    {
                        "municipality_id": mid,
                        "year": year,
                        "grade_level": level,
                        "barometer_sector": sector,
                        "label_nb": "Grunnskole" if sector else "Totalt",
                        "grade": 3.0 + i * 0.4 if graded else None,
                        "is_graded": graded,
                        "rank": 4 - i if graded else None,
                        "ranked_count": 4,
                        "not_graded_reason": None if graded else "for få sektorer med karakter",
                        "vintage": "revised",
                    }
                )
            # Bærum's barnehage sector has too few key figures to be graded: no grade, no rank.
            if mid == "3201":
                barometer.append(
                    {
                        "municipality_id": mid,
                        "year": year,
                        "grade_level": "sector",
                        "barometer_sector": "barnehage",
                        "label_nb": "Barnehage",
                        "grade": None,
                        "is_graded": False,
                        "rank": None,
                        "ranked_count": 3,
                        "not_graded_reason": "for få nøkkeltall med data",
                        "vintage": "revised",
                    }
                )
    findings.append(
        {
            "check": "relative_change",
            "severity": "WARNING",
            "sector": "grunnskole",
            "table_id": "12255",
            "contents_code": "KOSandelspes0000",
            "indicator_id": "gs_andel_spes",
            "municipality_id": "3201",
            "year": 2024,
            "vintage": "revised",
            "observed": 5.6,
            "expected_range": "×[0,5, 2]",
            "message": "KOSandelspes0000: fra 8 til 5,6 på ett år (×0,70).",
        }
    )
    # A sector the barometer could not grade for Bærum: grade and rank NULL, as the mart has them.
    barometer.append(
        {
            "municipality_id": "3201",
            "year": 2024,
            "grade_level": "sector",
            "barometer_sector": "barnehage",
            "label_nb": "Barnehage",
            "grade": None,
            "is_graded": False,
            "rank": None,
            "ranked_count": 4,
            "not_graded_reason": "for få nøkkeltall med data",
            "vintage": "revised",
        }
    )
    # Findings the network's views must leave out: the comparator (not a member), a municipality outside the
    # group, and one about a whole table (no municipality).
    for mid, message in (
        ("3203", "Asker: KOSgrstr20000 fra 15 til 31 på ett år (×2,07)."),
        ("5001", "Trondheim: KOSgrstr20000 fra 15 til 33 på ett år (×2,20)."),
        (None, "Tabell 12255: en kode i katalogen mangler i svaret."),
    ):
        findings.append(
            {
                "check": "relative_change" if mid else "completeness_table_landed",
                "severity": "WARNING",
                "sector": "grunnskole",
                "table_id": "12255",
                "contents_code": "KOSgrstr20000",
                "indicator_id": "gs_gruppestorrelse" if mid else None,
                "municipality_id": mid,
                "year": 2024 if mid else None,
                "vintage": "revised",
                "observed": 31.0,
                "expected_range": "×[0,5, 2]",
                "message": message,
            }
        )
    path = Path(path)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        for schema in ("marts", "raw"):
            con.execute(f"create schema {schema}")
        for mart, rows in (
            ("service_profile", profile),
            ("indicator_values", values),
            ("indicator_trend", trend),
            ("sector_indices", indices),
            ("production_contributions", contributions),
            ("barometer", barometer),
            ("dq_findings", findings),
        ):
            df = _frame(mart, rows)  # noqa: F841 (read by DuckDB's replacement scan)
            con.execute(f"create table marts.{mart} as select * from df")
        # Integer columns as the dbt marts type them: a NULL rank reads back as pandas' NA, not NaN.
        con.execute("alter table marts.barometer alter rank type bigint")
        con.execute("alter table marts.barometer alter ranked_count type bigint")
        if group == SIMILAR:
            members = pd.DataFrame(  # noqa: F841
                [
                    {
                        "comparison_group": group,
                        "year": year,
                        "municipality_id": m,
                        "municipality_name": NAMES[m],
                        "role": "member",
                        "similarity_rank": rank,
                        "distance": distance,
                    }
                    for year in YEARS
                    for m, rank, distance in SIMILAR_MEMBERS
                ]
            )
            con.execute("create table marts.comparison_group_members as select * from members")
        source = "Statistisk sentralbyrå (DEMO: syntetiske tall)" if demo else "Statistisk sentralbyrå"
        releases = pd.DataFrame(  # noqa: F841
            [
                {
                    "table_id": t,
                    "release_updated": pd.Timestamp("2025-06-15 06:00"),
                    "title": f"{t}: Tabell {t}",
                    "source": source,
                }
                for t in ("12255", "13502", "13995")
            ]
        )
        con.execute("create table raw.releases as select * from releases")
    finally:
        con.close()
    return path
