"""The dbt project on a small hand-checkable fixture (tests/fixtures_raw.py), and the dbt argument builder.

dbt runs once per module on the full fixture (seed + build into a temp DuckDB) and once more on a load of a
single table. Every expected number is worked out in the comments from the fixture's inputs.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from pipeline.config import DBT_PROJECT_DIR, Comparison
from pipeline.transform.dbt_runner import (
    BUILD_DB_ENV,
    KEEP_OPEN_ENV,
    DbtRunError,
    dbt_args,
    dbt_env,
    dbt_vars,
    run_dbt,
    run_dbt_process,
)
from tests.fixtures_raw import build_raw_fixture, make_fixture_project

# --- the pure argument builder ---------------------------------------------------------------------------


def test_dbt_args_carry_comparison_vars_and_project_paths(tmp_path):
    comparison = Comparison(focus_municipality="0301", extra_comparators=("3203", "1103"))
    args = dbt_args(
        "build", comparison, target_path=tmp_path / "t", log_path=tmp_path / "l", select=["marts"]
    )

    assert args[0] == "build"
    assert args[args.index("--project-dir") + 1] == str(DBT_PROJECT_DIR)
    assert args[args.index("--profiles-dir") + 1] == str(DBT_PROJECT_DIR)
    assert json.loads(args[args.index("--vars") + 1]) == {
        "focus_municipality": "0301",
        "comparison_group": "ASSS",
        "extra_comparators": ["3203", "1103"],
    }
    assert args[args.index("--target-path") + 1] == str(tmp_path / "t")
    assert args[args.index("--log-path") + 1] == str(tmp_path / "l")
    assert args[args.index("--select") + 1] == "marts"


def test_dbt_args_defaults_and_two_word_commands():
    args = dbt_args("docs generate")
    assert args[:2] == ["docs", "generate"]
    assert json.loads(args[args.index("--vars") + 1])["focus_municipality"] == "3201"
    assert "--target-path" not in args and "--select" not in args


@pytest.mark.parametrize(
    ("command", "comparison", "message"),
    [
        ("drop", Comparison(), "dbt command"),
        ("build", Comparison(focus_municipality="Bærum"), "focus_municipality"),
        ("build", Comparison(extra_comparators=("320",)), "extra_comparators"),
        ("build", Comparison(comparison_group="KS"), "comparison_group"),
    ],
)
def test_dbt_args_reject_bad_input(command, comparison, message):
    with pytest.raises(ValueError, match=message):
        dbt_args(command, comparison)


def test_dbt_vars_accept_kostra_group():
    assert dbt_vars(Comparison(comparison_group="EKG13"))["comparison_group"] == "EKG13"


def test_dbt_env_points_profile_at_absolute_build_db(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = dbt_env(Path("build/kostra_build.duckdb"))
    assert env == {BUILD_DB_ENV: str(tmp_path / "build" / "kostra_build.duckdb"), KEEP_OPEN_ENV: "false"}
    # dbt as a process of its own (the Dagster assets) keeps the file open for its life only.
    assert dbt_env(Path("b.duckdb"), own_process=True)[KEEP_OPEN_ENV] == "true"


# --- the models on the fixture ---------------------------------------------------------------------------


def _build(root: Path, tables=None) -> Path:
    project = make_fixture_project(root / "project")
    db = build_raw_fixture(root / "kostra_build.duckdb", tables=tables)
    # The unit tests' given rows take the types of the seeds they mock; this fixture's index seeds are
    # header-only (untyped), so its builds leave unit tests to the real project's build (every demo run).
    run_dbt(
        "build",
        db,
        project_dir=project,
        target_path=root / "target",
        log_path=root / "logs",
        exclude=["test_type:unit"],
    )
    return db


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    db = _build(tmp_path_factory.mktemp("dbt_full"))
    # Read-only on purpose: run_dbt must have released dbt's own handle on the file.
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def rows(con, sql: str, *params) -> list[dict]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def one(con, sql: str, *params) -> dict:
    found = rows(con, sql, *params)
    assert len(found) == 1, found
    return found[0]


PROFILE = "select * from marts.service_profile where indicator_id = ? and year = ? and municipality_id = ?"


@pytest.mark.slow
def test_service_profile_grunnskole_2021_by_hand(warehouse):
    # 2021 members: Oslo 100, Bærum 110, Bergen 120 (kr per inhabitant: 1000 * expenditure / population with
    # population 1000). Asker (130) is only a comparator in 2021, so mean = (100 + 110 + 120) / 3 = 110,
    # min 100, max 120.
    bergen = one(warehouse, PROFILE, "grs_netto_per_innb", 2021, "4601")
    assert bergen["value"] == pytest.approx(120.0)
    assert (bergen["asss_mean"], bergen["asss_min"], bergen["asss_max"]) == pytest.approx(
        (110.0, 100.0, 120.0)
    )
    assert bergen["asss_member_count"] == 3 and bergen["asss_members_expected"] == 3
    # index of 120 = 100 * 120 / 110 = 109.0909…, deviation +9.0909…
    assert bergen["index_asss"] == pytest.approx(109.090909, rel=1e-6)
    assert bergen["deviation_pct"] == pytest.approx(9.090909, rel=1e-6)
    assert bergen["is_asss_member"] and not bergen["is_focus"]

    baerum = one(warehouse, PROFILE, "grs_netto_per_innb", 2021, "3201")
    # Bærum (code 3024 in 2021) is the focus and exactly on the mean: index 100, deviation 0.
    assert baerum["region_code"] == "3024" and baerum["is_focus"]
    assert baerum["index_asss"] == pytest.approx(100.0) and baerum["deviation_pct"] == pytest.approx(0.0)
    # EAK published 95; Bærum is in EKG13, which published 105.
    assert baerum["national_value"] == pytest.approx(95.0)
    assert (baerum["kostra_group"], baerum["kostra_group_value"]) == ("EKG13", pytest.approx(105.0))
    # First extra comparator Asker 130 → 100 * 130 / 110 = 118.1818…
    assert baerum["comparator_id"] == "3203"
    assert baerum["comparator_value"] == pytest.approx(130.0)
    assert baerum["comparator_index"] == pytest.approx(118.181818, rel=1e-6)
    assert baerum["label_nb"] == "Netto driftsutgifter grunnskole per innbygger"
    assert (baerum["polarity"], baerum["unit"], baerum["vintage"]) == ("lower_better", "kr", "revised")

    # Every municipality gets a row, members or not: Stavanger 90 → 81.8181…
    stavanger = one(warehouse, PROFILE, "grs_netto_per_innb_beregnet", 2021, "1103")
    assert stavanger["index_asss"] == pytest.approx(100 * 90 / 110)
    assert not stavanger["is_asss_member"] and not stavanger["is_extra_comparator"]
    # Counts are not indexed.
    assert rows(warehouse, "select * from marts.service_profile where kind = 'base'") == []


@pytest.mark.slow
def test_asker_is_comparator_in_2021_and_member_in_2022(warehouse):
    asker_2021 = one(warehouse, PROFILE, "grs_netto_per_innb", 2021, "3203")
    assert not asker_2021["is_asss_member"] and asker_2021["is_extra_comparator"]
    # 2022 members: Oslo 99 (198 / 2000 inhabitants), Bærum 111, Bergen 120, Asker 130:
    # mean = 460 / 4 = 115, min 99, max 130; Asker's index = 100 * 130 / 115 = 113.0434…
    asker_2022 = one(warehouse, PROFILE, "grs_netto_per_innb", 2022, "3203")
    assert asker_2022["is_asss_member"]
    assert asker_2022["asss_mean"] == pytest.approx(115.0)
    assert (asker_2022["asss_min"], asker_2022["asss_max"]) == pytest.approx((99.0, 130.0))
    assert asker_2022["asss_member_count"] == 4
    assert asker_2022["index_asss"] == pytest.approx(113.043478, rel=1e-6)


@pytest.mark.slow
def test_baerum_series_is_continuous_across_both_reforms(warehouse):
    series = rows(
        warehouse,
        "select * from marts.indicator_values where indicator_id = 'grs_netto_per_innb' "
        "and municipality_id = '3201' order by year",
    )
    # 0219 until 2019, 3024 2020–2023, 3201 from 2024; value 104 + (year - 2015), 2023 revised to 113.
    assert [r["year"] for r in series] == list(range(2015, 2025))
    expected_codes = ["0219"] * 5 + ["3024"] * 4 + ["3201"]
    assert [r["region_code"] for r in series] == expected_codes
    expected = [104.0, 105.0, 106.0, 107.0, 108.0, 109.0, 110.0, 111.0, 113.0, 113.0]
    assert [r["value"] for r in series] == pytest.approx(expected)
    assert all(r["comparable_across_break"] and not r["is_harmonised"] for r in series)


@pytest.mark.slow
def test_merged_asker_ratio_is_sum_of_numerators_over_sum_of_denominators(warehouse):
    # 2019: 0220 7200/60000, 0627 3300/30000, 0628 1500/10000 (1000 kr / inhabitants).
    # Harmonised: 1000 * (7200 + 3300 + 1500) / (60000 + 30000 + 10000) = 120, not the mean of the three
    # per-inhabitant figures (120 + 110 + 150) / 3 = 126.67.
    for indicator_id, source in (
        ("grs_netto_per_innb", "recomputed"),
        ("grs_netto_per_innb_beregnet", "recomputed"),
    ):
        asker = one(
            warehouse,
            "select * from marts.indicator_values where indicator_id = ? and municipality_id = '3203' and year = 2019",
            indicator_id,
        )
        assert asker["value"] == pytest.approx(120.0)
        assert (asker["numerator_value"], asker["denominator_value"]) == pytest.approx((12000.0, 100000.0))
        assert asker["region_code"] == "0220+0627+0628" and asker["region_code_count"] == 3
        assert asker["is_harmonised"] and asker["comparable_across_break"]
        assert asker["value_source"] == source
    # A count is summed: 60000 + 30000 + 10000.
    population = one(
        warehouse,
        "select * from marts.indicator_values where indicator_id = 'pop_total' and municipality_id = '3203' and year = 2019",
    )
    assert population["value"] == pytest.approx(100000.0) and population["comparable_across_break"]


@pytest.mark.slow
def test_published_rate_without_components_is_not_comparable_across_merger(warehouse):
    # Kindergarten coverage 85 %, 80 %, 75 % in 0220 Asker, 0627 Røyken, 0628 Hurum: no numerator or
    # denominator, so no honest combination exists. The value is Asker as it was then (0220: 85), which is
    # what the network compared in 2019, flagged as not comparable with the merged Asker.
    asker = one(
        warehouse,
        "select * from marts.indicator_values where indicator_id = 'bhg_dekning' and municipality_id = '3203' and year = 2019",
    )
    assert asker["value"] == pytest.approx(85.0)
    assert asker["comparable_across_break"] is False
    assert "0220" in asker["harmonisation_note"] and "not comparable" in asker["harmonisation_note"]
    # The same indicator for a single-code year is fine.
    later = one(
        warehouse,
        "select * from marts.indicator_values where indicator_id = 'bhg_dekning' and municipality_id = '3203' and year = 2022",
    )
    assert later["value"] == pytest.approx(86.0) and later["comparable_across_break"]


@pytest.mark.slow
def test_best_value_is_from_the_newest_release(warehouse):
    value = "select * from marts.indicator_values where indicator_id = ? and municipality_id = ? and year = ?"
    # Oslo coverage 2023: 90 in March 2024 (unrevised), 91 in June 2024 (revised) → 91, revised.
    oslo = one(warehouse, value, "bhg_dekning", "0301", 2023)
    assert oslo["value"] == pytest.approx(91.0)
    assert oslo["vintage"] == "revised" and oslo["release_updated"] == datetime(2024, 6, 17, 6, 0)
    # 2024 only exists as March 2025 figures.
    assert one(warehouse, value, "bhg_dekning", "0301", 2024)["vintage"] == "unrevised"
    # Bærum expenditure 2023: 112 in March, 113 in June.
    assert one(warehouse, value, "grs_netto_per_innb", "3201", 2023)["value"] == pytest.approx(113.0)
    # Computed ratio: newest moment is the population release of Feb 2025 with June's expenditure.
    computed = one(warehouse, value, "grs_netto_per_innb_beregnet", "3201", 2023)
    assert computed["value"] == pytest.approx(113.0)
    assert computed["release_updated"] == datetime(2025, 2, 20, 7, 0) and computed["vintage"] == "revised"


@pytest.mark.slow
def test_function_sums_and_published_ratios(warehouse):
    value = "select * from marts.indicator_values where indicator_id = ? and municipality_id = ? and year = ?"
    # Oslo 2021: 60 + 10 + 10 + 15 + 5 = 100 from kommunekassen (B); konsern (A, doubled) and function 201
    # (999) must stay out.
    assert one(warehouse, value, "grs_netto_drift", "0301", 2021)["value"] == pytest.approx(100.0)
    # Stavanger 2021: function 215 is '-' (zero): 60 + 10 + 0 + 15 + 5 = 90.
    assert one(warehouse, value, "grs_netto_drift", "1103", 2021)["value"] == pytest.approx(90.0)
    # Stavanger 2015 lacks function 223: no partial sum.
    incomplete = one(warehouse, value, "grs_netto_drift", "1103", 2015)
    assert incomplete["value"] is None and "4 of 5" in incomplete["value_note"]
    # SSB publishes 91 for Stavanger 2021 (its own denominator); the computed twin gives 1000 * 90 / 1000.
    assert one(warehouse, value, "grs_netto_per_innb", "1103", 2021)["value"] == pytest.approx(91.0)
    assert one(warehouse, value, "grs_netto_per_innb_beregnet", "1103", 2021)["value"] == pytest.approx(90.0)


@pytest.mark.slow
def test_asss_aggregates_weighting(warehouse):
    agg = "select * from marts.asss_aggregates where indicator_id = ? and year = 2022"
    # Ratio: 1000 * (198 + 111 + 120 + 130) / (2000 + 1000 + 1000 + 1000) = 111.8; unweighted 115.
    grs = one(warehouse, agg, "grs_netto_per_innb")
    assert grs["weighting"] == "ratio_of_sums"
    assert grs["mean_weighted"] == pytest.approx(111.8) and grs["mean_unweighted"] == pytest.approx(115.0)
    assert (grs["member_count"], grs["members_expected"]) == (4, 4)
    # Coverage (no components) weighted by its own population (catalogue weight_id; the fixture's only one):
    # (90*2000 + 92*1000 + 88*1000 + 86*1000) / 5000 = 89.2; unweighted (90 + 92 + 88 + 86) / 4 = 89.
    bhg = one(warehouse, agg, "bhg_dekning")
    assert (bhg["weighting"], bhg["weight_id"]) == ("own_population", "pop_total")
    assert bhg["weighted_member_count"] == 4 and bhg["members_without_weight"] is None
    assert bhg["mean_weighted"] == pytest.approx(89.2) and bhg["mean_unweighted"] == pytest.approx(89.0)
    assert (bhg["min_value"], bhg["max_value"]) == pytest.approx((86.0, 92.0))
    # 2021: Asker is a comparator, so three members.
    assert (
        one(
            warehouse,
            "select * from marts.asss_aggregates where indicator_id = 'bhg_dekning' and year = 2021",
        )["member_count"]
        == 3
    )
    # Counts get no weighted mean.
    assert one(warehouse, agg, "pop_total")["weighting"] == "none"


@pytest.mark.slow
def test_revisions_of_the_march_figures(warehouse):
    revision = "select * from marts.revisions where table_id = '12562' and region_code = ? and year = 2023 and alder = '1-5'"
    # Oslo: 90 in March → 91 in June: +1, +1.111 %.
    oslo = one(warehouse, revision, "0301")
    assert (oslo["unrevised_value"], oslo["revised_value"]) == pytest.approx((90.0, 91.0))
    assert oslo["change_abs"] == pytest.approx(1.0) and oslo["change_pct"] == pytest.approx(100 / 90)
    assert oslo["is_value_changed"] and not oslo["status_appeared"]
    assert oslo["unrevised_release_updated"] == datetime(2024, 3, 15, 7, 0)
    assert oslo["revised_release_updated"] == datetime(2024, 6, 17, 6, 0)
    # Bergen: 80 in March, suppressed (':') in June.
    bergen = one(warehouse, revision, "4601")
    assert bergen["unrevised_value"] == pytest.approx(80.0) and bergen["revised_value"] is None
    assert bergen["revised_status"] == ":" and bergen["status_appeared"] and not bergen["status_vanished"]
    assert bergen["municipality_id"] == "4601"
    # Stavanger did not change.
    stavanger = one(warehouse, revision, "1103")
    assert not stavanger["is_value_changed"] and not stavanger["is_status_changed"]
    # Only the newest year is ever unrevised, so only 2023 and 2024… and 2024 has no June release yet.
    assert {r["year"] for r in rows(warehouse, "select distinct year from marts.revisions")} == {2023}


@pytest.mark.slow
def test_trend_over_one_and_three_years(warehouse):
    trend = "select * from marts.indicator_trend where indicator_id = ? and municipality_id = ? and year = ?"
    # Bærum 2024 = 113; 2023 = 113; 2021 = 110 → +0 and +3 (+2.727 %).
    baerum = one(warehouse, trend, "grs_netto_per_innb", "3201", 2024)
    assert baerum["change_1y_abs"] == pytest.approx(0.0)
    assert baerum["change_3y_abs"] == pytest.approx(3.0) and baerum["change_3y_pct"] == pytest.approx(
        300 / 110
    )
    assert baerum["is_comparable_3y"]
    # Asker coverage 2022 against 2019: 2019 is 0220 Asker before the merger (85), so not comparable.
    asker = one(warehouse, trend, "bhg_dekning", "3203", 2022)
    assert asker["value_3y_before"] == pytest.approx(85.0) and not asker["is_comparable_3y"]


@pytest.mark.slow
def test_a_replaced_table_keeps_one_series_with_its_break(warehouse):
    """sos_mottakere: 12210 serves 2019-2021, 13995 from 2022 (a new definition); 12210's stray 2022 is not used."""
    got = rows(
        warehouse,
        "select year, value, table_id, series_break from marts.indicator_values "
        "where indicator_id = 'sos_mottakere' and municipality_id = '0301' order by year",
    )
    assert [(r["year"], r["value"], r["table_id"]) for r in got] == [
        (2019, 100.0, "12210"),
        (2020, 110.0, "12210"),
        (2021, 120.0, "12210"),
        (2022, 300.0, "13995"),
        (2023, 310.0, "13995"),
    ]
    assert [r["year"] for r in got if r["series_break"]] == [2022]
    assert "tilfeller" in got[3]["series_break"]
    trend = {
        r["year"]: r
        for r in rows(
            warehouse,
            "select year, is_comparable_1y, is_comparable_3y, series_break_reason from marts.indicator_trend "
            "where indicator_id = 'sos_mottakere' and municipality_id = '0301'",
        )
    }
    assert trend[2021]["is_comparable_1y"] is True
    assert trend[2022]["is_comparable_1y"] is False and "tilfeller" in trend[2022]["series_break_reason"]
    assert trend[2023]["is_comparable_1y"] is True  # both years are cases
    assert trend[2023]["is_comparable_3y"] is False  # 2020 recipients against 2023 cases


@pytest.mark.slow
def test_single_table_load_builds(tmp_path):
    # Only the kindergarten table was landed: population- and accounts-based indicators are simply absent.
    db = _build(tmp_path, tables=["12562"])
    con = duckdb.connect(str(db), read_only=True)
    try:
        indicators = {
            r[0] for r in con.execute("select distinct indicator_id from marts.indicator_values").fetchall()
        }
        assert indicators == {"bhg_dekning"}
        assert con.execute("select count(*) from marts.service_profile").fetchone()[0] > 0
        weighting = con.execute("select distinct weighting from marts.asss_aggregates").fetchall()
        assert weighting == [("none",)]  # no population landed, so no population weights
    finally:
        con.close()


@pytest.mark.slow
def test_run_dbt_reports_the_failing_parse(tmp_path):
    project = make_fixture_project(tmp_path / "project")
    (project / "models" / "marts" / "broken.sql").write_text("select {{ ref('no_such_model') }}\n")
    with pytest.raises(DbtRunError, match="no_such_model"):
        run_dbt("parse", tmp_path / "build.duckdb", project_dir=project, target_path=tmp_path / "target")


@pytest.mark.slow
def test_a_seed_whose_columns_changed_loads_over_a_home_built_by_the_old_version(tmp_path):
    # A home built before barometer_parameters.value became text (and before the catalogue's weight_id):
    # the next build must reload the seeds in their new shape, not fail on the old tables.
    db = tmp_path / "kostra_build.duckdb"
    con = duckdb.connect(str(db))
    try:
        con.execute("create schema reference")
        con.execute(
            "create table reference.barometer_parameters (parameter varchar, value double, source varchar)"
        )
        con.execute("insert into reference.barometer_parameters values ('average_grade', 3.5, 'old')")
    finally:
        con.close()
    run_dbt("seed", db, select=["barometer_parameters"], target_path=tmp_path / "target", log_path=tmp_path)
    con = duckdb.connect(str(db), read_only=True)
    try:
        kind = con.execute(
            "select data_type from duckdb_columns() where schema_name = 'reference' "
            "and table_name = 'barometer_parameters' and column_name = 'value'"
        ).fetchone()[0]
        choice = con.execute(
            "select value from reference.barometer_parameters where parameter = 'average_reference'"
        ).fetchone()
    finally:
        con.close()
    assert kind == "VARCHAR" and choice is not None


# --- issue 12: comparability (splits, the 2020 regrouping, mixed borders, vintages) -----------------------

VALUE = "select * from marts.indicator_values where indicator_id = ? and municipality_id = ? and year = ?"
TREND = "select * from marts.indicator_trend where indicator_id = ? and municipality_id = ? and year = ?"


@pytest.mark.slow
def test_a_split_code_is_a_break_never_mapped_onto_one_successor(warehouse):
    # Ålesund 1508's series: 2019 is 1504 alone (4000; Haram 1534 is filed under 1580), 2020-2023 is 1507
    # (5000: Ålesund and Haram together), 2024 is 1508 (4000). 1507 was split in 2024, so its years are
    # another territory: a break with the reason, not a +25 % change.
    before = one(warehouse, VALUE, "pop_total", "1508", 2019)
    assert before["value"] == pytest.approx(4000.0) and before["comparable_across_break"]
    split = one(warehouse, VALUE, "pop_total", "1508", 2020)
    assert split["value"] == pytest.approx(5000.0) and split["region_code"] == "1507"
    assert split["comparable_across_break"] is False and split["border_basis"] == "1507"
    assert "split" in split["harmonisation_note"] and "1580" in split["harmonisation_note"]
    assert one(warehouse, VALUE, "pop_total", "1508", 2024)["comparable_across_break"]
    # Haram's old code is on 1580's borders (SSB's 2024 grouping), so 1580's 2019 value is comparable.
    assert one(warehouse, VALUE, "pop_total", "1580", 2019)["comparable_across_break"]
    into = one(warehouse, TREND, "pop_total", "1508", 2020)
    assert into["is_comparable_1y"] is False and "1507" in into["comparability_note_1y"]
    assert one(warehouse, TREND, "pop_total", "1508", 2021)["is_comparable_1y"]  # 1507 both years
    assert one(warehouse, TREND, "pop_total", "1508", 2024)["is_comparable_1y"] is False


@pytest.mark.slow
def test_a_kostra_group_series_never_compares_across_the_2020_regrouping(warehouse):
    # EKG13 is published every year, but from 2020 the code means another group.
    regrouped = one(warehouse, TREND, "grs_netto_per_innb", "EKG13", 2020)
    assert regrouped["value_1y_before"] is not None and regrouped["is_comparable_1y"] is False
    assert "KOSTRA grouping changed (pre-2020 → 2020)" in regrouped["comparability_note_1y"]
    assert one(warehouse, TREND, "grs_netto_per_innb", "EKG13", 2021)["is_comparable_1y"]
    assert one(warehouse, TREND, "grs_netto_per_innb", "EKG13", 2022)["is_comparable_3y"] is False
    assert one(warehouse, TREND, "grs_netto_per_innb", "EKG13", 2023)["is_comparable_3y"]
    # The profile names the grouping of each year's KOSTRA group.
    assert one(warehouse, PROFILE, "grs_netto_per_innb", 2019, "3201")["kostra_grouping"] == "pre-2020"
    assert one(warehouse, PROFILE, "grs_netto_per_innb", 2020, "3201")["kostra_grouping"] == "2020"


@pytest.mark.slow
def test_a_group_mean_says_how_many_members_are_on_other_borders(warehouse):
    # 2019 coverage: Oslo 90, Bærum 92, Bergen 88, and Asker 85, which is 0220 Asker before the merger
    # (a published rate cannot be recombined): one of four members is on other borders.
    oslo = one(warehouse, PROFILE, "bhg_dekning", 2019, "0301")
    assert oslo["group_mean"] == pytest.approx((90 + 92 + 88 + 85) / 4) and oslo["group_member_count"] == 4
    assert oslo["group_noncomparable_member_count"] == 1
    assert "3203" in oslo["group_comparability_note"]
    agg = one(
        warehouse, "select * from marts.asss_aggregates where indicator_id = 'bhg_dekning' and year = 2019"
    )
    assert agg["noncomparable_member_count"] == 1 and agg["is_comparable_previous_year"] is False
    # Expenditure per inhabitant 2019 is recomputed on today's borders: nothing to flag.
    assert (
        one(warehouse, PROFILE, "grs_netto_per_innb", 2019, "0301")["group_noncomparable_member_count"] == 0
    )
    # Comparable with the previous year only with the same members on the same territory: 2021 (Oslo,
    # Bærum, Bergen both years) yes; 2020 (Asker left) and 2022 (Asker joined) no.
    flags = {
        y: one(warehouse, PROFILE, "grs_netto_per_innb", y, "0301")["group_is_comparable_previous_year"]
        for y in (2020, 2021, 2022)
    }
    assert flags == {2020: False, 2021: True, 2022: False}
    trend = one(warehouse, TREND, "grs_netto_per_innb", "0301", 2021)
    assert (
        trend["group_is_comparable_previous_year"] is True and trend["group_noncomparable_member_count"] == 0
    )


@pytest.mark.slow
def test_a_june_status_over_a_march_number_says_which_vintage_won(warehouse):
    # Bergen's coverage 2023: 80 in March, ':' in June. The newest release wins, and the row says so.
    bergen = one(warehouse, VALUE, "bhg_dekning", "4601", 2023)
    assert bergen["value"] is None and bergen["status"] == ":" and bergen["vintage"] == "revised"
    assert "vintage: the revised release of 2024-06-17 shows ':'" in bergen["value_note"]
    assert "had 80" in bergen["value_note"] and "newest release wins" in bergen["value_note"]
    # Oslo's 90 → 91 is a plain revision: no note.
    assert one(warehouse, VALUE, "bhg_dekning", "0301", 2023)["value_note"] is None
    revision = one(
        warehouse,
        "select * from marts.revisions where table_id = '12562' and region_code = '4601' and year = 2023 "
        "and alder = '1-5'",
    )
    assert revision["vintage_used"] == "revised" and "shows ':'" in revision["value_note"]


@pytest.mark.slow
def test_not_null_columns_fails_on_a_null_and_names_the_column(tmp_path):
    # The one not-null test of a model: a NULL planted in one column of one seed fails that seed's test, the
    # stored failing row names the column, and the same test on an untouched seed passes.
    db = tmp_path / "kostra_build.duckdb"
    kwargs = {"target_path": tmp_path / "target", "log_path": tmp_path}
    run_dbt("seed", db, select=["aggregate_regions", "barometer_sectors"], **kwargs)
    con = duckdb.connect(str(db))
    try:
        con.execute("update reference.aggregate_regions set name = null where region_code = 'EAK'")
    finally:
        con.close()
    result = run_dbt(
        "test",
        db,
        select=[
            "test_name:not_null_columns,aggregate_regions",
            "test_name:not_null_columns,barometer_sectors",
        ],
        extra=["--store-failures"],
        raise_on_failure=False,
        **kwargs,
    )
    tests = [r for r in result.result if r.node.resource_type == "test"]  # not the on-run-start hook
    outcome = {r.node.attached_node.split(".")[-1]: (str(r.status), r.failures) for r in tests}
    assert outcome == {"aggregate_regions": ("fail", 1), "barometer_sectors": ("pass", 0)}
    (failing,) = [r.node for r in tests if str(r.status) == "fail"]
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = con.execute(f"select null_columns from {failing.relation_name}").fetchall()
    finally:
        con.close()
    assert stored == [("name",)]


@pytest.mark.slow
def test_a_cell_landed_twice_in_one_release_is_staged_once(tmp_path):
    """Two fetches of one release that overlap: fetch A landed objects a1 and a2, fetch B a2 again (the same
    bytes, so the same sha) and b, which repeats some of a1's cells. Each cell is staged once, the copy from
    the first object by sha; a release landed as one object is staged as it is."""
    db = build_raw_fixture(tmp_path / "kostra_build.duckdb", tables=["12562"])
    con = duckdb.connect(str(db))
    try:
        landed = dict(con.execute("select release_updated, count(*) from raw.cells group by all").fetchall())
        assert len(landed) > 1
        split = min(landed)
        n_split = landed[split]
        cells = f"from raw.cells where release_updated = '{split}'"
        # The release's cells as two objects, a1 (regions up to 3024) and a2 (the rest) ...
        con.execute(f"update raw.cells set landing_sha256 = 'a2' where release_updated = '{split}'")
        con.execute(
            f"update raw.cells set landing_sha256 = 'a1' where release_updated = '{split}' and region_code <= '3024'"
        )
        # ... a2 loaded again with fetch B, and b: a1's Oslo cells (sha '0b' sorts first: its copies are kept).
        con.execute(f"insert into raw.cells select * {cells} and landing_sha256 = 'a2'")
        con.execute(
            f"insert into raw.cells select * replace ('0b' as landing_sha256) {cells} and region_code = '0301'"
        )
        n_oslo = con.execute(f"select count(*) {cells} and landing_sha256 = '0b'").fetchone()[0]
        assert n_oslo > 0 and con.execute(f"select count(*) {cells}").fetchone()[0] > n_split + n_oslo
    finally:
        con.close()

    run_dbt_process(
        "build", db, target_path=tmp_path / "target", log_path=tmp_path / "logs", select=["stg_ssb__cells"]
    )

    con = duckdb.connect(str(db), read_only=True)
    try:
        staged = dict(
            con.execute(
                "select release_updated, count(*) from staging.stg_ssb__cells group by all"
            ).fetchall()
        )
        assert staged == landed
        copies = con.execute(
            "select count(*) from (select 1 from staging.stg_ssb__cells "
            "group by table_id, release_updated, region_code, period, dimension_key having count(*) > 1)"
        ).fetchone()[0]
        assert copies == 0
        kept = dict(
            con.execute(
                "select landing_sha256, count(*) from staging.stg_ssb__cells where release_updated = ? "
                "group by all",
                [split],
            ).fetchall()
        )
        assert kept["0b"] == n_oslo and sum(kept.values()) == n_split
    finally:
        con.close()


def test_copies_of_a_cell_in_one_release_must_agree(tmp_path):
    """assert_no_conflicting_duplicate_cells: a release landed as two objects whose copies of a cell agree
    passes; one copy with another value fails the test, naming it."""
    db = build_raw_fixture(tmp_path / "kostra_build.duckdb", tables=["12562"])
    con = duckdb.connect(str(db))
    try:
        release = con.execute("select min(release_updated) from raw.cells").fetchone()[0]
        region = con.execute(
            "select min(region_code) from raw.cells where release_updated = ? and value is not null",
            [release],
        ).fetchone()[0]
        # The release's cells again as a second object, for one region: copies that agree.
        con.execute(
            "insert into raw.cells select * replace ('copy' as landing_sha256) from raw.cells "
            "where release_updated = ? and region_code = ?",
            [release, region],
        )
    finally:
        con.close()
    test = ["assert_no_conflicting_duplicate_cells"]
    run_dbt_process("test", db, target_path=tmp_path / "target", log_path=tmp_path / "logs", select=test)

    con = duckdb.connect(str(db))
    try:
        con.execute(
            "update raw.cells set value = value + 1 where landing_sha256 = 'copy' and rowid = "
            "(select min(rowid) from raw.cells where landing_sha256 = 'copy' and value is not null)"
        )
    finally:
        con.close()
    with pytest.raises(DbtRunError, match="assert_no_conflicting_duplicate_cells"):
        run_dbt_process("test", db, target_path=tmp_path / "target", log_path=tmp_path / "logs", select=test)
