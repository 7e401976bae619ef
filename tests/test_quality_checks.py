"""Each data-quality check on a small workspace that trips it and on one that does not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.quality import QualityConfig, run_checks, workspace
from pipeline.quality.checks import CHECKS
from pipeline.quality.hb import hb

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
        "kjonn": None,
        "other_dimensions": None,
        "value": value,
        "status": status,
    }


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
    return [cell("12235", c, year, "KOSelever0000", 1000.0) for c in exp["region_code"] if c != drop]


def test_completeness_members_missing_member_is_an_error_not_a_publish_stopper():
    f = findings(_members_table(2023, drop="0301"), "completeness_members")
    assert list(f["region_code"]) == ["0301"]
    assert list(f["severity"]) == ["ERROR"]
    assert f["municipality_id"].iloc[0] == "0301"


def test_completeness_members_all_present():
    assert findings(_members_table(2023), "completeness_members").empty


def test_completeness_member_published_only_as_dot_is_missing():
    rows = _members_table(2023, drop="4601") + [cell("12235", "4601", 2023, "KOSelever0000", None, ".")]
    f = findings(rows, "completeness_members")
    assert list(f["region_code"]) == ["4601"]


def test_table_never_landed_is_a_warning():
    f = findings(_members_table(2023), "completeness_table_landed")
    assert "12235" not in set(f["table_id"])
    assert "12367" in set(f["table_id"])
    assert set(f["severity"]) == {"WARNING"}


def test_region_code_outside_validity():
    bad = [cell("12235", "0219", 2023, "KOSelever0000", 50.0)]  # Bærum's code until 2019
    ok = [
        cell("12235", "0219", 2018, "KOSelever0000", 50.0),
        cell("12235", "EAK", 2023, "KOSelever0000", 9.0),
    ]
    f = findings(bad + ok, "region_code_valid_for_year")
    assert list(zip(f["region_code"], f["year"], strict=True)) == [("0219", 2023)]
    assert findings(ok, "region_code_valid_for_year").empty
    assert list(
        findings([cell("12235", "9999", 2023, "X", 1.0)], "region_code_valid_for_year")["region_code"]
    ) == ["9999"]


def test_duplicate_cells_conflicting_is_fatal_identical_is_not():
    a = cell("12235", "0301", 2023, "KOSelever0000", 10.0)
    b = dict(a, value=11.0)
    f = findings([a, b], "duplicate_cells")
    assert list(f["severity"]) == ["FATAL"] and f["observed"].iloc[0] == 2
    assert findings([a, dict(a)], "duplicate_cells").empty


# ---------------------------------------------------------------- status symbols


def test_status_with_value():
    f = findings([cell("12210", "0301", 2023, "KOSsosmottakere0000", 2.0, ":")], "status_value_not_null")
    assert list(f["severity"]) == ["ERROR"]
    assert findings(
        [cell("12210", "0301", 2023, "KOSsosmottakere0000", None, ":")], "status_value_not_null"
    ).empty


def test_status_share_missing():
    years = range(2018, 2024)
    bad = [cell("12235", "0301", y, "KOSgrunnskolepoeng0000", None, "..") for y in years[:3]]
    bad += [cell("12235", "0301", y, "KOSgrunnskolepoeng0000", 41.0) for y in years[3:]]
    f = findings(bad, "status_share_missing")
    assert len(f) == 1 and f["observed"].iloc[0] == pytest.approx(0.5)
    once = [cell("12235", "0301", 2018, "KOSgrunnskolepoeng0000", None, "..")]
    once += [cell("12235", "0301", y, "KOSgrunnskolepoeng0000", 41.0) for y in years[1:]]
    assert findings(once, "status_share_missing").empty


# ---------------------------------------------------------------- IPLOS


def iplos(region="1234", year=2023, alder="F067-120", **values) -> list[dict]:
    base = {
        "KOSbrukerehjemtj0000": 300.0,
        "KOSbrukere31120000": 400.0,
        "KOSbrukereaar0000": 500.0,
        "KOStildtimeruke0000": 1800.0,
        "KOSbrukere0timer0000": 6.0,
        "KOSbrukereomfatt0000": 50.0,
    }
    base.update(values)
    rows = [cell("12003", region, year, code, v, alder=alder) for code, v in base.items()]
    rows.append(cell("07459", region, year, "Personer1", 2000.0, alder=alder))
    return rows


@pytest.mark.parametrize(
    ("check", "bad", "severity"),
    [
        ("iplos_hours_negative", {"KOStildtimeruke0000": -5.0}, "ERROR"),
        ("iplos_users_without_hours", {"KOStildtimeruke0000": 0.0}, "ERROR"),
        ("iplos_users_without_hours", {"KOSbrukere0timer0000": 200.0}, "WARNING"),
        ("iplos_hours_per_user_implausible", {"KOStildtimeruke0000": 300.0 * 190}, "ERROR"),
        ("iplos_hours_per_user_implausible", {"KOStildtimeruke0000": 300.0 * 40}, "WARNING"),
        ("iplos_extensive_needs_hours", {"KOStildtimeruke0000": 400.0}, "WARNING"),
        ("iplos_users_le_population", {"KOSbrukereaar0000": 2500.0, "KOSbrukere31120000": 450.0}, "ERROR"),
        ("iplos_year_end_le_during_year", {"KOSbrukere31120000": 600.0}, "ERROR"),
    ],
)
def test_iplos_checks(check, bad, severity):
    f = findings(iplos(**bad), check)
    assert list(f["severity"]) == [severity]
    assert f["table_id"].iloc[0] == "12003" and f["sector"].iloc[0] == "pleie_omsorg_67_pluss"
    assert findings(iplos(), check).empty


def test_iplos_missing_hours_with_users():
    rows = [r for r in iplos() if r["contents_code"] != "KOStildtimeruke0000"]
    rows.append(cell("12003", "1234", 2023, "KOStildtimeruke0000", None, "..", alder="F067-120"))
    assert list(findings(rows, "iplos_users_without_hours")["severity"]) == ["ERROR"]


def test_iplos_resource_share_by_age():
    young = iplos(alder="F000-066", KOSbrukerehjemtj0000=100.0, KOStildtimeruke0000=1100.0)
    ok = iplos() + young
    assert findings(ok, "iplos_resource_share_by_age").empty
    skewed = iplos(KOStildtimeruke0000=1800.0) + iplos(
        alder="F000-066", KOSbrukerehjemtj0000=100.0, KOStildtimeruke0000=100.0 * 160
    )
    f = findings(skewed, "iplos_resource_share_by_age")
    assert len(f) == 1 and f["severity"].iloc[0] == "WARNING"


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
            rows.append(cell("13533", code, y, "KOSlegearsverk0000", round(v, 1)))
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


def test_values_identical_to_previous_year():
    codes = list(
        {
            "KOSbrukerehjemtj0000": 300.0,
            "KOSbrukere31120000": 400.0,
            "KOSbrukereaar0000": 500.0,
            "KOStildtimeruke0000": 1800.0,
            "KOSbrukereomfatt0000": 50.0,
        }.items()
    )
    copied = [cell("12003", "1234", y, c, v) for y in (2022, 2023) for c, v in codes]
    f = findings(copied, "values_identical_to_previous_year")
    assert list(zip(f["table_id"], f["year"], strict=True)) == [("12003", 2023)]
    grown = [cell("12003", "1234", y, c, v * (1 + 0.05 * (y - 2022))) for y in (2022, 2023) for c, v in codes]
    assert findings(grown, "values_identical_to_previous_year").empty


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


# ---------------------------------------------------------------- accounts


def accounts(net254=900.0, fgk13=None) -> list[dict]:
    dims = {"regnskapsomfang": "A"}
    rows = [
        cell("12367", "1234", 2023, "KOSbelop0000", net254, funksjon="254", art="AGD2", **dims),
        cell("12367", "1234", 2023, "KOSbelop0000", 1000.0, funksjon="254", art="AGD10", **dims),
    ]
    parts = {"244": 100.0, "251": 200.0, "252": 300.0}
    for f, v in parts.items():
        rows.append(cell("12367", "1234", 2023, "KOSbelop0000", v, funksjon=f, art="AGD2", **dims))
    total = sum(parts.values()) if fgk13 is None else fgk13
    rows.append(cell("12367", "1234", 2023, "KOSbelop0000", total, funksjon="FGK13", art="AGD2", **dims))
    return rows


def test_net_le_gross():
    f = findings(accounts(net254=1300.0), "net_le_gross")
    assert list(f["severity"]) == ["ERROR"] and f["sector"].iloc[0] == "pleie_omsorg"
    assert findings(accounts(), "net_le_gross").empty


def test_function_total_equals_sum():
    f = findings(accounts(fgk13=600.0 + 4321.0), "function_total_equals_sum")
    assert len(f) == 1 and f["sector"].iloc[0] == "barnevern"
    assert findings(accounts(), "function_total_equals_sum").empty


def test_denominator_zero():
    def ind(iid, table, code, value):
        return {
            "indicator_id": iid,
            "table_id": table,
            "contents_code": code,
            "region_code": "1234",
            "year": 2023,
            "vintage": "revised",
            "release_updated": pd.Timestamp("2024-06-15"),
            "value": value,
            "status": None,
        }

    rows = [cell("12235", "1234", 2023, "KOSelever0000", 0.0)]
    bad = pd.DataFrame(
        [ind("gs_elever", "12235", "KOSelever0000", 0.0), ind("nde_grunnskole", "12367", "KOSbelop0000", 5e4)]
    )
    f = findings(rows, "denominator_zero", indicator_cells_all=bad)
    assert list(f["severity"]) == ["ERROR"] and f["indicator_id"].iloc[0] == "gs_elever"
    good = bad.assign(value=[800.0, 5e4])
    assert findings(rows, "denominator_zero", indicator_cells_all=good).empty


# ---------------------------------------------------------------- index sanity


def _profile(indexes) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "municipality_id": [f"m{i}" for i in range(len(indexes))],
            "indicator_id": "gs_grunnskolepoeng",
            "sector": "grunnskole",
            "year": 2023,
            "is_asss_member": True,
            "index_asss": indexes,
        }
    )


def test_asss_index_mean():
    rows = [cell("12235", "0301", 2023, "KOSelever0000", 1.0)]
    f = findings(rows, "asss_index_mean", service_profile=_profile([90.0, 110.0, 103.0]))
    assert list(f["severity"]) == ["FATAL"]
    assert findings(rows, "asss_index_mean", service_profile=_profile([90.0, 110.0, 100.0])).empty


def test_sector_index_weights_and_mean():
    rows = [cell("12235", "0301", 2023, "KOSelever0000", 1.0)]
    idx = pd.DataFrame(
        {
            "municipality_id": ["0301", "0301", "4601", "4601"],
            "year": 2023,
            "sector": "grunnskole",
            "production_index": [95.0, 95.0, 105.0, 105.0],
            "weight": [0.5, 0.5, 0.5, 0.6],
        }
    )
    f = findings(rows, "asss_index_mean", sector_indices=idx)
    assert list(f["check"]) == ["index_weights_sum_to_one"] and f["region_code"].iloc[0] == "4601"
    f = findings(
        rows,
        "asss_index_mean",
        sector_indices=idx.assign(production_index=[90.0, 90.0, 105.0, 105.0], weight=0.5),
    )
    assert list(f["check"]) == ["asss_index_mean"]
    # E = 100·P/U is a ratio, not centred on 100: a members' mean of 108 is no finding.
    centred = idx.assign(weight=0.5, expenditure_index=[100.0, 100.0, 100.0, 100.0], efficiency_index=108.0)
    assert findings(rows, "asss_index_mean", sector_indices=centred).empty


def test_every_check_is_tested_here():
    tested = {
        "completeness_members",
        "completeness_table_landed",
        "region_code_valid_for_year",
        "duplicate_cells",
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
        "net_le_gross",
        "function_total_equals_sum",
        "denominator_zero",
        "asss_index_mean",
    }
    assert tested == set(CHECKS)


def test_config_from_env(monkeypatch):
    monkeypatch.setenv("KOSTRA_DQ_HB_PC", "25")
    monkeypatch.setenv("KOSTRA_DQ_IDENTICAL_SKIP_TABLES", "07459,12003")
    cfg = QualityConfig.from_env()
    assert cfg.hb_pc == 25.0 and cfg.identical_skip_tables == ("07459", "12003")
    monkeypatch.setenv("KOSTRA_DQ_HB_PU", "half")
    with pytest.raises(ValueError, match="KOSTRA_DQ_HB_PU"):
        QualityConfig.from_env()
