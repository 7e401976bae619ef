"""Each data-quality check on a small workspace that trips it and on one that does not."""

from __future__ import annotations

import functools

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipeline.quality import QualityConfig, run_checks, workspace
from pipeline.quality.checks import CHECKS, iplos_frame
from pipeline.quality.config import IPLOS_AGE_GROUPS, IPLOS_INDICATORS, IPLOS_MEASURE_INDICATORS
from pipeline.quality.hb import hb
from pipeline.reference import catalogue

CFG = QualityConfig()
JUNE = "{y}-06-15 06:00:00"


def cell(table_id, region, year, contents, value, status=None, vintage="revised", **dims) -> dict:
    return {
        "table_id": table_id,
        "release_updated": pd.Timestamp(JUNE.format(y=year + 1)),
        "vintage": vintage,
        "contents_code": contents,
        "region_code": region,
        "period": str(year),
        "year": year,
        "funksjon": dims.get("funksjon"),
        "art": dims.get("art"),
        "regnskapsomfang": dims.get("regnskapsomfang"),
        "alder": dims.get("alder"),
        "kjonn": dims.get("kjonn"),
        "other_dimensions": None,
        "value": value,
        "status": status,
    }


@functools.cache
def source(indicator_id: str, year: int = 2023) -> tuple[str, str]:
    """(table_id, contents_code) the catalogue reads ``indicator_id`` from in ``year``."""
    cat = catalogue.load_catalogue()
    rows = cat[
        (cat["indicator_id"] == indicator_id)
        & (cat["first_year"].fillna(0) <= year)
        & (cat["last_year"].fillna(9999) >= year)
    ]
    assert len(rows) == 1, (indicator_id, year)
    return rows["table_id"].iloc[0], rows["contents_code"].iloc[0]


def ind_cell(table_id, region, year, indicator_id, value, status=None, **dims) -> dict:
    """A raw cell of the catalogue row for ``indicator_id`` (its table and code, from the catalogue)."""
    t, code = source(indicator_id, year)
    assert t == table_id, (indicator_id, t)
    return cell(t, region, year, code, value, status, **dims)


def findings(rows: list[dict], check: str, **optional) -> pd.DataFrame:
    con = workspace.from_frames(pd.DataFrame(rows), **optional)
    try:
        return run_checks(con, CFG, only=[check])
    finally:
        con.close()


# ---------------------------------------------------------------- completeness


def _members_table(year: int, drop: str | None = None) -> list[dict]:
    from pipeline.quality.checks import expected_regions

    exp = expected_regions([year])
    return [ind_cell("11975", c, year, "gs_elever", 1000.0) for c in exp["region_code"] if c != drop]


def test_completeness_members_missing_member_is_an_error_not_a_publish_stopper():
    f = findings(_members_table(2023, drop="0301"), "completeness_members")
    assert list(f["region_code"]) == ["0301"]
    assert list(f["severity"]) == ["ERROR"]
    assert f["municipality_id"].iloc[0] == "0301"


def test_completeness_members_all_present():
    assert findings(_members_table(2023), "completeness_members").empty


def test_completeness_member_published_only_as_dot_is_missing():
    rows = _members_table(2023, drop="4601") + [ind_cell("11975", "4601", 2023, "gs_elever", None, ".")]
    f = findings(rows, "completeness_members")
    assert list(f["region_code"]) == ["4601"]


def test_table_never_landed_is_a_warning():
    f = findings(_members_table(2023), "completeness_table_landed")
    assert "11975" not in set(f["table_id"])
    assert {"12367", "07459", "12292", "13995"} <= set(f["table_id"])
    assert set(f["severity"]) == {"WARNING"}
    # Derived rows read no table; 12210 ends in 2021, so a landing of 2023 does not need it.
    assert "" not in set(f["table_id"]) and f["table_id"].notna().all()
    assert "12210" not in set(f["table_id"])
    f = findings([ind_cell("11975", "0301", 2020, "gs_elever", 1000.0)], "completeness_table_landed")
    assert {"12210", "13995"} & set(f["table_id"]) == {"12210"}  # 13995 starts in 2022


def test_region_code_outside_validity():
    bad = [ind_cell("11975", "0219", 2023, "gs_elever", 50.0)]  # Bærum's code until 2019
    ok = [
        ind_cell("11975", "0219", 2018, "gs_elever", 50.0),
        ind_cell("11975", "EAK", 2023, "gs_elever", 9.0),
    ]
    f = findings(bad + ok, "region_code_valid_for_year")
    assert list(zip(f["region_code"], f["year"], strict=True)) == [("0219", 2023)]
    assert findings(ok, "region_code_valid_for_year").empty
    assert list(
        findings([cell("11975", "9999", 2023, "X", 1.0)], "region_code_valid_for_year")["region_code"]
    ) == ["9999"]


def test_status_with_value():
    f = findings([ind_cell("12210", "0301", 2021, "sos_mottakere", 2.0, ":")], "status_value_not_null")
    assert list(f["severity"]) == ["ERROR"] and list(f["sector"]) == ["sosiale_tjenester"]
    assert findings(
        [ind_cell("12210", "0301", 2021, "sos_mottakere", None, ":")], "status_value_not_null"
    ).empty


def test_status_share_missing():
    years = range(2018, 2024)
    bad = [ind_cell("12255", "0301", y, "gs_grunnskolepoeng", None, "..") for y in years[:3]]
    bad += [ind_cell("12255", "0301", y, "gs_grunnskolepoeng", 41.0) for y in years[3:]]
    f = findings(bad, "status_share_missing")
    assert len(f) == 1 and f["observed"].iloc[0] == pytest.approx(0.5)
    once = [ind_cell("12255", "0301", 2018, "gs_grunnskolepoeng", None, "..")]
    once += [ind_cell("12255", "0301", y, "gs_grunnskolepoeng", 41.0) for y in years[1:]]
    assert findings(once, "status_share_missing").empty


# ---------------------------------------------------------------- IPLOS


IPLOS_BASE = {
    "users": 300.0,
    "users_year_end": 400.0,
    "users_year": 500.0,
    "hours": 1800.0,
    "users_zero_hours": 6.0,
    "users_extensive": 50.0,
}


def population(region, year, indicator_id, total, drop_age=None) -> list[dict]:
    """07459 as SSB publishes it: ``total`` persons spread over the age group's single years and both sexes."""
    row = catalogue.indicators().set_index("indicator_id").loc[indicator_id]
    cells = [(a, k) for a in catalogue.split_codes(row["alder"]) for k in ("1", "2")]
    base, rest = divmod(int(total), len(cells))
    return [
        ind_cell("07459", region, year, indicator_id, float(base + (n < rest)), alder=a, kjonn=k)
        for n, (a, k) in enumerate(cells)
        if a != drop_age
    ]


def iplos(region="1234", year=2023, group="67_pluss", pop=2000.0, **values) -> list[dict]:
    """One age group's IPLOS cells in 12292 (codes from the catalogue) and its population in 07459."""
    base = {**IPLOS_BASE, **values}
    rows = [
        ind_cell("12292", region, year, IPLOS_INDICATORS[(group, m)], v)
        for m, v in base.items()
        if v is not None
    ]
    return rows + population(region, year, f"pop_{group}", pop)


def test_iplos_indicators_are_catalogue_base_rows():
    """The measure -> indicator map names fetched base rows of the right sector, one code per age group."""
    cat = catalogue.indicators().set_index("indicator_id")
    assert set(IPLOS_AGE_GROUPS) == {"0_66", "67_pluss"}
    assert len(IPLOS_INDICATORS) == len(IPLOS_AGE_GROUPS) * len(IPLOS_MEASURE_INDICATORS)
    codes = set()
    for (group, measure), iid in IPLOS_INDICATORS.items():
        row = cat.loc[iid]
        assert row["kind"] == "base" and row["status"] != "derived", iid
        sector = "befolkning" if measure == "population" else f"pleie_omsorg_{group}"
        assert row["sector"] == sector, iid
        codes.add((row["table_id"], row["contents_code"]))
    assert len(codes) == len(IPLOS_INDICATORS) - 1  # both population groups are 07459/Personer1 sums
    assert source("po_timer_uke_67_pluss") == ("12292", "KOStildtimeruke0067")
    assert source("po_timer_uke_0_66") == ("12292", "KOStildtimeruke0066")


def test_iplos_frame_sums_single_years_and_sexes_of_the_age_group():
    rows = iplos(pop=2000.0) + iplos(group="0_66", pop=40_000.0, users=100.0, hours=1100.0)
    con = workspace.from_frames(pd.DataFrame(rows))
    try:
        df = iplos_frame(con).set_index("age_group")
    finally:
        con.close()
    assert list(df.index) == ["0_66", "67_pluss"]
    assert df.loc["67_pluss", "population"] == pytest.approx(2000.0)
    assert df.loc["0_66", "population"] == pytest.approx(40_000.0)
    assert df.loc["67_pluss", "hours"] == 1800.0 and df.loc["0_66", "hours"] == 1100.0
    assert df.loc["0_66", "users"] == 100.0 and df["vintage"].eq("revised").all()


@pytest.mark.parametrize(
    ("check", "bad", "severity", "measure"),
    [
        ("iplos_hours_negative", {"hours": -5.0}, "ERROR", "hours"),
        ("iplos_users_without_hours", {"hours": 0.0}, "ERROR", "hours"),
        ("iplos_users_without_hours", {"users_zero_hours": 200.0}, "WARNING", "users_zero_hours"),
        ("iplos_hours_per_user_implausible", {"hours": 300.0 * 190}, "ERROR", "hours"),
        ("iplos_hours_per_user_implausible", {"hours": 300.0 * 40}, "WARNING", "hours"),
        ("iplos_extensive_needs_hours", {"hours": 400.0}, "WARNING", "hours"),
        ("iplos_users_le_population", {"users_year": 2500.0, "users_year_end": 450.0}, "ERROR", "users_year"),
        ("iplos_year_end_le_during_year", {"users_year_end": 600.0}, "ERROR", "users_year_end"),
    ],
)
@pytest.mark.parametrize("group", ["67_pluss", "0_66"])
def test_iplos_checks(check, bad, severity, measure, group):
    # The 0-66 group's population is as small as the 67+ one here, so the same counts are plausible.
    f = findings(iplos(group=group, **bad), check)
    assert list(f["severity"]) == [severity]
    iid = IPLOS_INDICATORS[(group, measure)]
    assert f["indicator_id"].iloc[0] == iid
    assert (f["table_id"].iloc[0], f["contents_code"].iloc[0]) == source(iid) and f["table_id"].iloc[
        0
    ] == "12292"
    assert f["sector"].iloc[0] == f"pleie_omsorg_{group}"
    assert findings(iplos(group=group), check).empty


def test_iplos_other_age_group_is_not_flagged():
    """A bad 0-66 figure is filed under 0-66 (its own 12292 code), and the 67+ group stays clean."""
    rows = iplos(group="0_66", hours=-5.0) + iplos()
    f = findings(rows, "iplos_hours_negative")
    assert list(f["contents_code"]) == ["KOStildtimeruke0066"] and list(f["sector"]) == ["pleie_omsorg_0_66"]


def test_iplos_users_le_population_uses_the_age_groups_population():
    # 2500 users in the year against 2000 inhabitants 67+ is impossible, even though 0-66 has 40 000.
    rows = iplos(users_year=2500.0) + population("1234", 2023, "pop_0_66", 40_000.0)
    f = findings(rows, "iplos_users_le_population")
    assert list(f["region_code"]) == ["1234"] and f["message"].iloc[0].endswith("(2000).")
    # A single year of age missing from 07459 makes the group's sum unknown: no comparison, no finding.
    partial = [r for r in iplos(users_year=2500.0) if r["table_id"] != "07459"]
    partial += population("1234", 2023, "pop_67_pluss", 2000.0, drop_age="090")
    assert findings(partial, "iplos_users_le_population").empty


def test_iplos_checks_read_the_matched_indicator_cells():
    """With dbt's int_cells__catalogue_matched in the build, the checks read it (no raw 12292 cells needed)."""

    def ind(iid, value):
        t, code = source(iid)
        return {
            "indicator_id": iid,
            "table_id": t,
            "contents_code": code,
            "region_code": "1234",
            "year": 2023,
            "vintage": "revised",
            "release_updated": pd.Timestamp("2024-06-15"),
            "value": value,
            "status": None,
        }

    matched = [ind(IPLOS_INDICATORS[("67_pluss", m)], v) for m, v in {**IPLOS_BASE, "hours": -5.0}.items()]
    matched.append(ind("pop_67_pluss", 2000.0))
    f = findings(
        [ind_cell("11975", "1234", 2023, "gs_elever", 1.0)],
        "iplos_hours_negative",
        indicator_cells_all=pd.DataFrame(matched),
    )
    assert list(f["indicator_id"]) == ["po_timer_uke_67_pluss"] and list(f["table_id"]) == ["12292"]


def test_iplos_missing_hours_with_users():
    t, code = source("po_timer_uke_67_pluss")
    rows = iplos(hours=None) + [cell(t, "1234", 2023, code, None, "..")]
    assert list(findings(rows, "iplos_users_without_hours")["severity"]) == ["ERROR"]


def test_iplos_resource_share_by_age():
    young = iplos(group="0_66", users=100.0, hours=1100.0)
    ok = iplos() + young
    assert findings(ok, "iplos_resource_share_by_age").empty
    skewed = iplos(hours=1800.0) + iplos(group="0_66", users=100.0, hours=100.0 * 160)
    f = findings(skewed, "iplos_resource_share_by_age")
    assert len(f) == 1 and f["severity"].iloc[0] == "WARNING"
    assert (f["table_id"].iloc[0], f["contents_code"].iloc[0]) == source("po_timer_uke_67_pluss")
    assert f["sector"].iloc[0] == "pleie_omsorg_67_pluss"


# ---------------------------------------------------------------- year over year


def test_hb_flags_a_jump_in_a_stratum():
    rng = np.random.default_rng(1)
    x0 = rng.uniform(100, 200, 40)
    x1 = x0 * rng.normal(1.02, 0.02, 40)
    assert not hb(x0, x1).any()
    x1[7] = x0[7] * 3
    flags = hb(x0, x1)
    assert flags[7] and flags.sum() == 1


def _yoy_rows(jump: float | None) -> list[dict]:
    rng = np.random.default_rng(2)
    codes = [f"{5000 + i:04d}" for i in range(1, 30)]
    rows = []
    for i, code in enumerate(codes):
        level = rng.uniform(20, 80)
        for y in (2021, 2022):
            v = level * (1.03 if y == 2022 else 1.0) * rng.normal(1, 0.01)
            if jump and i == 3 and y == 2022:
                v = level * jump
            rows.append(ind_cell("12191", code, y, "helse_lege_aarsverk", round(v, 1)))
    return rows


def test_hidiroglou_berthelot_outlier():
    f = findings(_yoy_rows(3.0), "hidiroglou_berthelot_outlier")
    assert list(f["region_code"]) == ["5004"] and f["year"].iloc[0] == 2022
    assert f["severity"].iloc[0] == "WARNING"
    assert findings(_yoy_rows(None), "hidiroglou_berthelot_outlier").empty


def test_relative_change():
    f = findings(_yoy_rows(3.0), "relative_change")
    assert list(f["region_code"]) == ["5004"]
    assert findings(_yoy_rows(None), "relative_change").empty


def _merger_rows() -> list[dict]:
    """29 stable municipalities 2019-2020 and Stavanger 1103, which absorbed Finnøy 1141 and Rennesøy 1142
    on 1 January 2020 (seed region_successors): its values jump by the merged parts, not by a change."""
    rows = []
    for i in range(1, 30):
        for y in (2019, 2020):
            rows.append(ind_cell("12191", f"{5000 + i:04d}", y, "helse_lege_aarsverk", 40.0 + i + (y - 2019)))
    rows.append(ind_cell("12191", "1103", 2019, "helse_lege_aarsverk", 40.0))
    rows.append(ind_cell("12191", "1103", 2020, "helse_lege_aarsverk", 120.0))
    # copied-looking values across the merger are no copy either
    for y in (2019, 2020):
        rows += [ind_cell("12191", "1103", y, "helse_lege_aarsverk", 75.0, funksjon=f"{n}") for n in range(3)]
    return rows


@pytest.mark.parametrize(
    "check", ["hidiroglou_berthelot_outlier", "relative_change", "values_identical_to_previous_year"]
)
def test_a_merger_is_no_year_over_year_outlier(check):
    assert findings(_merger_rows(), check).empty


def test_a_merger_is_reported_once_as_a_break_with_its_reason():
    f = findings(_merger_rows(), "series_break")
    # 5001 is Trondheim, which absorbed Klæbu 5030 in 2020: the seed knows that reform too.
    assert sorted(zip(f["region_code"], f["year"], strict=True)) == [("1103", 2020), ("5001", 2020)]
    assert set(f["severity"]) == {"INFO"}
    stavanger = f[f["region_code"] == "1103"]["message"].iloc[0]
    assert "1141" in stavanger and "1142" in stavanger and "4 endringer" in stavanger
    assert findings(_yoy_rows(3.0), "series_break").empty


def test_hb_outlier_names_the_table_and_code_of_the_cell():
    f = findings(_yoy_rows(3.0), "hidiroglou_berthelot_outlier")
    assert (f["table_id"].iloc[0], f["contents_code"].iloc[0]) == source("helse_lege_aarsverk")
    assert f["sector"].iloc[0] == "kommunehelse"


def _population_rows(jump_67: float = 1.0, jump_cohort: float = 1.0) -> list[dict]:
    """Single years × sexes of 07459 for 29 municipalities, 2021-2022; optionally a jump in 5004's 67+ or one age."""
    rows = []
    for i in range(1, 30):
        code = f"{5000 + i:04d}"
        for y in (2021, 2022):
            for a in catalogue.split_codes("000..105+"):
                age = int(a.rstrip("+"))
                v = (60.0 if age < 67 else 30.0) * (1 + 0.01 * (y - 2021) + 0.001 * i)
                if code == "5004" and y == 2022:
                    v *= jump_67 if age >= 67 else 1.0
                    v *= jump_cohort if age == 30 else 1.0
                for k in ("1", "2"):
                    rows.append(ind_cell("07459", code, y, "pop_total", round(v), alder=a, kjonn=k))
    return rows


def test_yoy_on_population_compares_age_groups_not_single_years():
    # One cohort (age 30) tripling is how single years move (people age into the next cell): no finding.
    assert findings(_population_rows(jump_cohort=3.0), "relative_change").empty
    assert findings(_population_rows(), "relative_change").empty
    # The whole 67+ group tripling is: it is found on the age groups it belongs to (67+, 67–79, 80+), not on 78
    # cells.
    f = findings(_population_rows(jump_67=3.0), "relative_change")
    assert set(f["region_code"]) == {"5004"} and set(f["table_id"]) == {"07459"}
    assert set(f["indicator_id"]) == {"pop_67_pluss", "pop_67_79", "pop_80_pluss"}
    assert set(f["sector"]) == {"befolkning"}


def test_values_identical_to_previous_year():
    measures = {**IPLOS_BASE, "users_zero_hours": 0.0}
    codes = [source(IPLOS_INDICATORS[(g, m)]) for g in IPLOS_AGE_GROUPS for m in measures]
    values = [v * (2 if g == "67_pluss" else 1) for g in IPLOS_AGE_GROUPS for v in measures.values()]
    copied = [cell(t, "1234", y, c, v) for y in (2022, 2023) for (t, c), v in zip(codes, values, strict=True)]
    f = findings(copied, "values_identical_to_previous_year")
    assert list(zip(f["table_id"], f["year"], strict=True)) == [("12292", 2023)]
    assert f["observed"].iloc[0] == 1.0
    # A finding on the whole of 12292 concerns both age groups: filed under pleie og omsorg, not one of them.
    assert f["sector"].iloc[0] == "pleie_omsorg"
    grown = [
        cell(t, "1234", y, c, v * (1 + 0.05 * (y - 2022)))
        for y in (2022, 2023)
        for (t, c), v in zip(codes, values, strict=True)
    ]
    assert findings(grown, "values_identical_to_previous_year").empty


def test_population_identical_to_previous_year_is_not_flagged():
    """07459 is register-based (identical_skip_tables): a stable population by sex and age is no copy."""
    rows = [r for r in _population_rows() if r["year"] == 2021]
    rows += [
        dict(r, year=2022, period="2022", release_updated=pd.Timestamp("2023-06-15 06:00")) for r in rows
    ]
    assert findings(rows, "values_identical_to_previous_year").empty
    strict = QualityConfig(identical_skip_tables=())
    con = workspace.from_frames(pd.DataFrame(rows))
    try:
        f = run_checks(con, strict, only=["values_identical_to_previous_year"])
    finally:
        con.close()
    assert set(f["table_id"]) == {"07459"} and len(f) == 29


# ---------------------------------------------------------------- revisions


def _revisions(unrevised, revised, u_status=None, r_status=None) -> pd.DataFrame:
    change = None if unrevised is None or revised is None else revised - unrevised
    return pd.DataFrame(
        [
            {
                "table_id": "12367",
                "contents_code": "KOSbelop0000",
                "region_code": "1234",
                "year": 2022,
                "alder": None,
                "funksjon": "202",
                "dimension_key": "KOSbelop0000|202|AGD2|A",
                "unrevised_value": unrevised,
                "unrevised_status": u_status,
                "revised_value": revised,
                "revised_status": r_status,
                "change_abs": change,
                "change_pct": None if change is None else 100 * change / abs(unrevised),
                "status_appeared": u_status is None and r_status is not None,
                "status_vanished": u_status is not None and r_status is None,
            }
        ]
    )


def test_large_revision():
    rows = [cell("12367", "1234", 2022, "KOSbelop0000", 1000.0, funksjon="202", art="AGD2")]
    f = findings(rows, "large_revision", revisions=_revisions(600.0, 1000.0))
    assert len(f) == 1 and f["observed"].iloc[0] == pytest.approx(66.67, abs=0.01)
    assert f["sector"].iloc[0] == "grunnskole"
    assert findings(rows, "large_revision", revisions=_revisions(990.0, 1000.0)).empty


def test_status_changed_between_vintages():
    rows = [cell("12367", "1234", 2022, "KOSbelop0000", 1000.0)]
    f = findings(rows, "status_changed_between_vintages", revisions=_revisions(41.0, None, None, ".."))
    assert len(f) == 1 and "..".join(["", ""]) in f["message"].iloc[0]
    assert findings(rows, "status_changed_between_vintages", revisions=_revisions(41.0, 41.0)).empty


def test_a_quarantined_answer_is_one_error_until_released():
    rows = [cell("13502", "0301", 2023, "KOSandel120000", 1.0)]
    q = pd.DataFrame(
        {
            "sha256": ["ab" * 32, "ab" * 32, "cd" * 32],
            "table_id": ["13502", "13502", "12367"],
            "release_updated": pd.to_datetime(["2025-03-17 07:00", "2025-03-17 07:00", "2025-06-16 06:00"]),
            "reason": ["value array has 7 values, size says 8", "value array has 7 values, size says 8", "x"],
            "quarantined_at": pd.to_datetime(["2026-11-30 10:00", "2026-12-01 09:00", "2026-12-01 09:00"]),
            "command": ["kostra build"] * 3,
            "released_at": pd.to_datetime([None, None, "2026-12-01 10:00"]),
            "rows_in_raw_cells": [0, 0, 0],
        }
    )
    f = findings(rows, "landing_quarantined", quarantined=q)
    assert list(f["severity"]) == ["ERROR"] and list(f["table_id"]) == ["13502"]
    assert "size says 8" in f["message"].iloc[0] and "2025-03-17" in f["message"].iloc[0]
    assert findings(rows, "landing_quarantined").empty


def test_every_check_is_tested_here():
    tested = {
        "completeness_members",
        "completeness_table_landed",
        "region_code_valid_for_year",
        "landing_quarantined",
        "status_value_not_null",
        "status_share_missing",
        "iplos_hours_negative",
        "iplos_users_without_hours",
        "iplos_hours_per_user_implausible",
        "iplos_extensive_needs_hours",
        "iplos_users_le_population",
        "iplos_year_end_le_during_year",
        "iplos_resource_share_by_age",
        "hidiroglou_berthelot_outlier",
        "relative_change",
        "values_identical_to_previous_year",
        "large_revision",
        "status_changed_between_vintages",
        "series_break",
    }
    assert tested == set(CHECKS)


def test_config_from_env(monkeypatch):
    monkeypatch.setenv("KOSTRA_DQ_HB_PC", "25")
    monkeypatch.setenv("KOSTRA_DQ_IDENTICAL_SKIP_TABLES", "07459,12292")
    cfg = QualityConfig.from_env()
    assert cfg.hb_pc == 25.0 and cfg.identical_skip_tables == ("07459", "12292")
    monkeypatch.setenv("KOSTRA_DQ_HB_PU", "half")
    with pytest.raises(ValueError, match="KOSTRA_DQ_HB_PU"):
        QualityConfig.from_env()


@pytest.mark.parametrize("limit, shown", [("200MB", "190.7 MiB"), ("2GB", "286.1 MiB"), ("", "286.1 MiB")])
def test_the_workspace_keeps_to_its_own_limit_or_a_smaller_kostra_duckdb_memory_limit(
    tmp_path, monkeypatch, limit, shown
):
    """The workspace's own 300MB (not DuckDB's 80 % of RAM), or KOSTRA_DUCKDB_MEMORY_LIMIT where smaller."""
    from tests.fixtures_raw import build_raw_fixture

    build = build_raw_fixture(tmp_path / "kostra_build.duckdb", tables=["12562"])
    monkeypatch.setenv("KOSTRA_DUCKDB_MEMORY_LIMIT", limit)
    con = workspace.from_build_db(build)
    try:
        got = con.execute("select current_setting('memory_limit')").fetchone()[0]
        # What does not fit spills beside the build file, never into the working directory.
        spills = con.execute("select current_setting('temp_directory')").fetchone()[0]
        assert spills == str(tmp_path.resolve() / "quality_workspace.tmp")
        assert con.execute("select count(*) from cells").fetchone()[0] > 0
    finally:
        workspace.close(con)
    assert got == shown
    assert got != duckdb.connect().execute("select current_setting('memory_limit')").fetchone()[0]
