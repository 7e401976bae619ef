"""Production, need-adjusted expenditure and efficiency indices and the barometer grading, on a hand-checked fixture.

dbt runs once per module on tests/fixtures_indices.py (seed + build into a temp DuckDB). Every expected
number is worked out in the comments from the fixture's tables. A = 0301, B = 4601, C = 5001 are the ASSS
members; D = 1101 and E = 1106 are not. Volumes are per 1000 need-adjusted inhabitants:
x = 1000 · count / (population · cost index).
"""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from pipeline.config import DBT_PROJECT_DIR
from pipeline.transform.dbt_runner import run_dbt_process
from tests.fixtures_indices import A, B, C, D, E, build_raw, make_project

INDEX_SEEDS = DBT_PROJECT_DIR / "seeds" / "indices"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("dbt_indices")
    project = make_project(root / "project")
    db = build_raw(root / "kostra_build.duckdb")
    run_dbt_process("build", db, project_dir=project, target_path=root / "target", log_path=root / "logs")
    return db, root / "target"


@pytest.fixture(scope="module")
def warehouse(built):
    con = duckdb.connect(str(built[0]), read_only=True)
    yield con
    con.close()


def one(con, sql: str, *params) -> dict:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    found = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    assert len(found) == 1, found
    return found[0]


INDICES = "select * from marts.sector_indices where municipality_id = ? and sector = ? and year = ?"
CONTRIBUTION = (
    "select * from marts.production_contributions "
    "where municipality_id = ? and sector = ? and year = ? and indicator_id = ?"
)
GRADE = (
    "select * from marts.barometer where municipality_id = ? and year = ? and grade_level = ? "
    "and barometer_sector is not distinct from ? and key_figure_id is not distinct from ?"
)


@pytest.mark.slow
def test_published_example_efficiency_109_1(warehouse):
    # Oslo, grunnskole 2024. U: u = 1000 · nde / (pop 6-15 · cost index): A 1000·113.76/(1000·1.2) = 94.8,
    # B 100/1.0 = 100, C 84.16/0.8 = 105.2 → ASSS mean 100, so U_A = 94.8 (5.2 % below).
    # P (weights 0.6 pupils, 0.2 grunnskolepoeng, 0.2 gruppestørrelse, lower is better):
    #   pupils per 1000 need-adjusted: A 1236/1.2 = 1030, B 1000, C 776/0.8 = 970 → mean 1000, I_A = 103;
    #   poeng A 41.6, B 40, C 38.4 → mean 40, I_A = 104;
    #   gruppestørrelse A 15.36, B 16, C 16.64 → mean 16, inverted I_A = 200 − 100 · 15.36 / 16 = 104;
    #   P_A = 0.6 · 103 + 0.2 · 104 + 0.2 · 104 = 103.4 (3.4 % above).
    # E = 100 · 103.4 / 94.8 = 109.07 → 109.1, the ASSS reports' example.
    row = one(warehouse, INDICES, A, "grunnskole", 2024)
    assert row["production_index"] == pytest.approx(103.4)
    assert row["expenditure_index"] == pytest.approx(94.8)
    assert round(row["efficiency_index"], 1) == 109.1
    assert row["complete"] and row["incomplete_reason"] is None
    assert row["cost_index"] == pytest.approx(1.2)
    assert row["expenditure_per_need_adjusted_inhabitant"] == pytest.approx(94.8)
    assert row["vintage"] == "unrevised"  # 2024 is the release's newest year (March)
    assert one(warehouse, INDICES, A, "grunnskole", 2023)["vintage"] == "revised"


@pytest.mark.slow
def test_other_members_and_non_members_by_hand(warehouse):
    # B is on every mean: P = U = E = 100.
    b = one(warehouse, INDICES, B, "grunnskole", 2024)
    assert (b["production_index"], b["expenditure_index"], b["efficiency_index"]) == pytest.approx(
        (100, 100, 100)
    )
    # C: I = 97, 96, 200 − 100 · 16.64 / 16 = 96 → P = 58.2 + 19.2 + 19.2 = 96.6; U = 105.2;
    # E = 100 · 96.6 / 105.2 = 91.825…
    c = one(warehouse, INDICES, C, "grunnskole", 2024)
    assert (c["production_index"], c["expenditure_index"]) == pytest.approx((96.6, 105.2))
    assert c["efficiency_index"] == pytest.approx(100 * 96.6 / 105.2)
    # D (not a member, indexed against the members): pupils 1100 → I 110; poeng 36 → 90; gruppe 20 →
    # 200 − 125 = 75; P = 66 + 18 + 15 = 99; U = 120 / 100 · 100 = 120; E = 82.5.
    d = one(warehouse, INDICES, D, "grunnskole", 2024)
    assert (d["production_index"], d["expenditure_index"], d["efficiency_index"]) == pytest.approx(
        (99, 120, 82.5)
    )
    assert not d["is_asss_member"]


@pytest.mark.slow
def test_contributions_by_hand(warehouse):
    # Barnevern 2024 (weights: children with measures 0.8 as a volume, undersøkelser innen 3 mnd 0.2):
    # children per 1000 need-adjusted 0-17 (pop 2000, cost index 1): A 50, B 40, C 30 → mean 40, I_A = 125;
    # innen 3 mnd A 90, B 80, C 70 → mean 80, I_A = 112.5. Contributions 0.8 · 125 = 100 and
    # 0.2 · 112.5 = 22.5; P_A = 122.5; the coverage ratio carries 100 / 122.5 = 81.6 % of P.
    coverage = one(warehouse, CONTRIBUTION, A, "barnevern", 2024, "bv_barn_tiltak")
    assert coverage["measured_value"] == pytest.approx(50)
    assert coverage["reference_mean"] == pytest.approx(40)
    assert coverage["indicator_index"] == pytest.approx(125)
    assert coverage["contribution"] == pytest.approx(100)
    assert coverage["contribution_share"] == pytest.approx(100 / 122.5)
    assert coverage["production_index"] == pytest.approx(122.5)
    quality = one(warehouse, CONTRIBUTION, A, "barnevern", 2024, "bv_us_innen_3mnd")
    assert (quality["indicator_index"], quality["contribution"]) == pytest.approx((112.5, 22.5))
    # Grunnskole 2024, A: 0.6 · 103 = 61.8 (share 61.8 / 103.4), gruppestørrelse inverted 0.2 · 104 = 20.8.
    pupils = one(warehouse, CONTRIBUTION, A, "grunnskole", 2024, "gs_elever")
    assert (pupils["contribution"], pupils["contribution_share"]) == pytest.approx((61.8, 61.8 / 103.4))
    group = one(warehouse, CONTRIBUTION, A, "grunnskole", 2024, "gs_gruppestorrelse")
    assert group["polarity"] == "lower_better" and group["indicator_index"] == pytest.approx(104)
    # The models read v2 by default; the older v1 rows in the seed do not leak into its P.
    assert warehouse.execute(
        "select distinct weights_version from marts.production_contributions"
    ).fetchall() == [("v2",)]


@pytest.mark.slow
def test_missing_input_gives_null_with_reason_never_a_smaller_sum(warehouse):
    # E has no grunnskolepoeng in 2024: P would be 0.6 · 90 + 0.2 · I_gruppe if the missing term were
    # dropped; instead P and E are NULL and the reason names the indicator. U still exists (90).
    e = one(warehouse, INDICES, E, "grunnskole", 2024)
    assert e["production_index"] is None and e["efficiency_index"] is None and not e["complete"]
    assert e["expenditure_index"] == pytest.approx(90)
    assert "gs_grunnskolepoeng missing" in e["incomplete_reason"]
    contribution = one(warehouse, CONTRIBUTION, E, "grunnskole", 2024, "gs_elever")
    assert contribution["indicator_index"] == pytest.approx(90) and contribution["production_index"] is None
    # D has no barnevern cost key: U and the volume are missing, and both say why.
    d = one(warehouse, INDICES, D, "barnevern", 2024)
    assert d["expenditure_index"] is None and d["production_index"] is None
    assert "U: cost key missing" in d["incomplete_reason"] and "P: cost key missing" in d["incomplete_reason"]


@pytest.mark.slow
def test_incomplete_member_leaves_the_reference(warehouse):
    # 2023: C has no gruppestørrelse, so the reference for P is A and B only: pupils mean (1030 + 1000) / 2 =
    # 1015, poeng 40.8, gruppe 15.68. P_A = 0.6 · 100·1030/1015 + 0.2 · 100·41.6/40.8
    # + 0.2 · (200 − 100·15.36/15.68) = 60.8867 + 20.3922 + 20.4082 = 101.687; P_B = 98.313 (mean 100).
    a = one(warehouse, INDICES, A, "grunnskole", 2023)
    assert a["production_index"] == pytest.approx(101.687, abs=1e-3)
    assert a["production_reference_member_count"] == 2
    c = one(warehouse, INDICES, C, "grunnskole", 2023)
    assert c["production_index"] is None and "gs_gruppestorrelse missing" in c["incomplete_reason"]
    # U is centred on the same two members as P (issue 12, finding 5): mean u = (94.8 + 100) / 2 = 97.4, so
    # U_A = 100 · 94.8 / 97.4 = 97.33, U_C = 100 · 105.2 / 97.4 = 108.01 (C is indexed, not a reference).
    assert a["expenditure_index"] == pytest.approx(100 * 94.8 / 97.4)
    assert c["expenditure_index"] == pytest.approx(100 * 105.2 / 97.4)
    assert c["expenditure_reference_member_count"] == 2 and not c["is_reference_member"]
    assert a["is_reference_member"]
    # E = 100 · P / U on that one reference: the members' P and U both average 100 over A and B.
    assert a["efficiency_index"] == pytest.approx(100 * a["production_index"] / (100 * 94.8 / 97.4))


@pytest.mark.slow
def test_p_and_u_are_centred_on_the_same_members_in_every_sector_and_year(warehouse):
    # Issue 12, finding 5: a member without a complete P (or without u) leaves both references, so E's
    # numerator and denominator are relative to the same average municipality.
    rows = warehouse.execute(
        """
        select sector, year, municipality_id, production_reference_member_count,
               expenditure_reference_member_count, is_reference_member, production_index, expenditure_index
        from marts.sector_indices where weights_version is not null order by sector, year, municipality_id
        """
    ).fetchall()
    # Every sector with production weights, the age groups of pleie og omsorg included; the whole sector
    # (U only under v2) is checked below.
    assert {r[0] for r in rows} == {"barnevern", "grunnskole", "pleie_omsorg_0_66", "pleie_omsorg_67_pluss"}
    for sector, year, municipality, p_count, u_count, *_ in rows:
        assert p_count == u_count, (sector, year, municipality, p_count, u_count)
    by_sector_year: dict[tuple[str, int], list[tuple]] = defaultdict(list)
    for sector, year, _m, _p, _u, is_reference, p, u in rows:
        if is_reference:
            by_sector_year[(sector, year)].append((p, u))
    for key, values in by_sector_year.items():
        assert all(p is not None and u is not None for p, u in values), key
        assert sum(p for p, _ in values) / len(values) == pytest.approx(100), key
        assert sum(u for _, u in values) / len(values) == pytest.approx(100), key
    # A sector without P centres U on the members with u.
    whole = warehouse.execute(
        "select year, avg(expenditure_index), count(*) from marts.sector_indices "
        "where sector = 'pleie_omsorg' and is_reference_member group by year order by year"
    ).fetchall()
    assert [(y, n) for y, _u, n in whole] == [(2023, 3), (2024, 3)]
    assert all(u == pytest.approx(100) for _y, u, _n in whole)


@pytest.mark.slow
def test_asss_mean_of_p_and_u_is_100_in_every_sector_and_year(warehouse):
    rows = warehouse.execute(
        """
        select sector, year, avg(production_index), avg(expenditure_index), count(production_index)
        from marts.sector_indices where is_reference_member and weights_version is not null
        group by sector, year order by sector, year
        """
    ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [
        ("barnevern", 2023),
        ("barnevern", 2024),
        ("grunnskole", 2023),
        ("grunnskole", 2024),
        ("pleie_omsorg_0_66", 2023),
        ("pleie_omsorg_0_66", 2024),
        ("pleie_omsorg_67_pluss", 2023),
        ("pleie_omsorg_67_pluss", 2024),
    ]
    for sector, year, mean_p, mean_u, members_with_p in rows:
        assert mean_p == pytest.approx(100), (sector, year)
        assert mean_u == pytest.approx(100), (sector, year)
        assert members_with_p >= 2
    # Each indicator index averages 100 over the reference members too.
    for (mean_index,) in warehouse.execute(
        """
        select avg(c.indicator_index) from marts.production_contributions c
        where c.is_asss_member and c.complete group by c.sector, c.year, c.indicator_id
        """
    ).fetchall():
        assert mean_index == pytest.approx(100)


@pytest.mark.slow
def test_key_figure_grades_and_polarity(warehouse):
    # gs_grunnskolepoeng 2024 (higher is better): A 41.6, B 40, C 38.4, D 36 (E none); SSB's national figure
    # (EAK) is 38, the average that grades 3.5 (barometer parameter average_reference = national_figure);
    # P5 = 36 + 0.15 · 2.4 = 36.36, P95 = 40 + 0.85 · 1.6 = 41.36.
    # B: 3.5 + 2.5 · 2 / 3.36 = 4.9881; C: 3.5 + 2.5 · 0.4 / 3.36 = 3.7976; A above P95 → 6; D below P5 → 1.
    expected = {A: 6.0, B: 3.5 + 2.5 * 2 / 3.36, C: 3.5 + 2.5 * 0.4 / 3.36, D: 1.0}
    for municipality, grade in expected.items():
        row = one(warehouse, GRADE, municipality, 2024, "key_figure", "grunnskole", "gs_grunnskolepoeng")
        assert row["grade"] == pytest.approx(grade), municipality
    missing = one(warehouse, GRADE, E, 2024, "key_figure", "grunnskole", "gs_grunnskolepoeng")
    assert missing["grade"] is None and missing["not_graded_reason"] == "no value" and missing["rank"] is None
    # gs_gruppestorrelse (lower is better): E 14, A 15.36, B 16, C 16.64, D 20 → mean 16.4,
    # P5 = 14 + 0.2 · 1.36 = 14.272, P95 = 16.64 + 0.8 · 3.36 = 19.328. The lowest value grades highest:
    # E: 3.5 + 2.5 · 2.4 / 2.128 > 6 → 6; A: 3.5 + 2.5 · 1.04 / 2.128 = 4.7218;
    # C: 3.5 − 2.5 · 0.24 / 2.928 = 3.2951; D: 3.5 − 2.5 · 3.6 / 2.928 < 1 → 1.
    low = one(warehouse, GRADE, E, 2024, "key_figure", "grunnskole", "gs_gruppestorrelse")
    assert low["grade"] == pytest.approx(6.0) and low["rank"] == 1
    # No national figure published for it: the mean of the municipalities grades 3.5, and the row says so.
    assert low["national_mean"] == pytest.approx(16.4) and low["average_source"] == "municipal_mean"
    assert (low["anchor_low"], low["anchor_high"]) == pytest.approx((14.272, 19.328))
    assert one(warehouse, GRADE, A, 2024, "key_figure", "grunnskole", "gs_gruppestorrelse")[
        "grade"
    ] == pytest.approx(3.5 + 2.5 * 1.04 / 2.128)
    assert one(warehouse, GRADE, C, 2024, "key_figure", "grunnskole", "gs_gruppestorrelse")[
        "grade"
    ] == pytest.approx(3.5 - 2.5 * 0.24 / 2.928)
    high = one(warehouse, GRADE, D, 2024, "key_figure", "grunnskole", "gs_gruppestorrelse")
    assert high["grade"] == pytest.approx(1.0) and high["rank"] == 5 and high["ranked_count"] == 5
    # All equal (vg1 → vg2 90 everywhere it exists): everyone is the national average, 3.5.
    same = one(warehouse, GRADE, B, 2024, "key_figure", "grunnskole", "gs_overgang_vg1_vg2")
    assert same["grade"] == pytest.approx(3.5)
    # Kostnadsnivå reads U (lower is better): E 90, A 94.8, B 100, C 105.2, D 120 → mean 102,
    # P5 = 90.96, P95 = 117.04; A: 3.5 + 2.5 · 7.2 / 11.04 = 5.1304.
    cost = one(warehouse, GRADE, A, 2024, "key_figure", "kostnadsniva", "kostnadsniva_grunnskole")
    assert cost["grade"] == pytest.approx(3.5 + 2.5 * 7.2 / 11.04)


@pytest.mark.slow
def test_sector_grade_sixty_percent_rule(warehouse):
    # Grunnskole key figures: poeng 0.4, gruppe 0.4, overgang 0.2.
    # A: 0.4 · 6 + 0.4 · 4.7218 + 0.2 · 3.5 = 4.9887.
    a = one(warehouse, GRADE, A, 2024, "sector", "grunnskole", None)
    assert a["grade"] == pytest.approx(0.4 * 6 + 0.4 * (3.5 + 2.5 * 1.04 / 2.128) + 0.2 * 3.5)
    # E has 2 of 3 key figures (66.7 % ≥ 60 %): graded over the two, weights renormalised:
    # (0.4 · 6 + 0.2 · 3.5) / 0.6 = 5.1667, the best grunnskole grade → rank 1 of 5.
    e = one(warehouse, GRADE, E, 2024, "sector", "grunnskole", None)
    assert e["is_graded"] and e["grade"] == pytest.approx((0.4 * 6 + 0.2 * 3.5) / 0.6)
    assert (e["items_with_data"], e["items_total"]) == (2, 3)
    assert (e["rank"], e["ranked_count"]) == (1, 5)
    # Barnevern has two key figures; E has only one (50 % < 60 %): no grade, no rank, a reason.
    e_bv = one(warehouse, GRADE, E, 2024, "sector", "barnevern", None)
    assert not e_bv["is_graded"] and e_bv["grade"] is None and e_bv["rank"] is None
    assert "1 of 2" in e_bv["not_graded_reason"]
    # A's barnevern: us 3.5 + 2.5 · 10 / 18 = 4.8889 (mean 80, P95 98), tiltaksplan 100 above P95 98.5 → 6;
    # (4.8889 + 6) / 2 = 5.4444, rank 1 of the 4 graded.
    a_bv = one(warehouse, GRADE, A, 2024, "sector", "barnevern", None)
    assert a_bv["grade"] == pytest.approx((3.5 + 2.5 * 10 / 18 + 6) / 2)
    assert (a_bv["rank"], a_bv["ranked_count"]) == (1, 4)


@pytest.mark.slow
def test_overall_grade_and_rank(warehouse):
    # Sector weights: grunnskole 0.4, barnevern 0.3, kostnadsnivå 0.2, økonomi 0.1 (no key figures, never
    # graded). A: (0.4 · 4.9887 + 0.3 · 5.4444 + 0.2 · 5.1304) / 0.9 = 5.1721.
    # E: barnevern not graded → (0.4 · 5.1667 + 0.2 · 6) / 0.6 = 5.4444 with 60 % of the weight (≥ 50 %).
    grunnskole_a = 0.4 * 6 + 0.4 * (3.5 + 2.5 * 1.04 / 2.128) + 0.2 * 3.5
    barnevern_a = (3.5 + 2.5 * 10 / 18 + 6) / 2
    cost_a = 3.5 + 2.5 * 7.2 / 11.04
    a = one(warehouse, GRADE, A, 2024, "overall", None, None)
    assert a["grade"] == pytest.approx((0.4 * grunnskole_a + 0.3 * barnevern_a + 0.2 * cost_a) / 0.9)
    assert a["data_share"] == pytest.approx(0.9)
    e = one(warehouse, GRADE, E, 2024, "overall", None, None)
    assert e["grade"] == pytest.approx((0.4 * (0.4 * 6 + 0.2 * 3.5) / 0.6 + 0.2 * 6) / 0.6)
    assert e["data_share"] == pytest.approx(0.6)
    # Ranks: E 5.44, A 5.17, B 4.03, C 2.86, D 1.
    ranks = dict(
        warehouse.execute(
            "select municipality_id, rank from marts.barometer where grade_level = 'overall' and year = 2024"
        ).fetchall()
    )
    assert ranks == {E: 1, A: 2, B: 3, C: 4, D: 5}


@pytest.mark.slow
def test_subgroup_rate_is_weighted_by_its_own_population(warehouse):
    # Issue 12, finding 4. po_dekning_67 (a share of inhabitants 67+) 2024, members A 10, B 20, C 30:
    # unweighted (10 + 20 + 30) / 3 = 20. Its weight is inhabitants 67+ (catalogue weight_id), A 1000,
    # B 1000, C suppressed: (10 · 1000 + 20 · 1000) / 2000 = 15 over A and B, and the row names C as the
    # member without a weight. Weighted by total population (A 10000, B 5000, C 5000) it would be 17.5.
    agg = one(
        warehouse, "select * from marts.asss_aggregates where indicator_id = 'po_dekning_67' and year = 2024"
    )
    assert agg["mean_unweighted"] == pytest.approx(20) and agg["member_count"] == 3
    assert (agg["weighting"], agg["weight_id"]) == ("own_population", "pop_67_pluss")
    assert agg["mean_weighted"] == pytest.approx(15)
    assert agg["weighted_member_count"] == 2 and agg["members_without_weight"] == C
    # A rate whose denominator has no catalogue row gets no weighted mean, not one by total population.
    poeng = one(
        warehouse,
        "select * from marts.asss_aggregates where indicator_id = 'gs_grunnskolepoeng' and year = 2024",
    )
    assert poeng["weighting"] == "none" and poeng["mean_weighted"] is None


@pytest.mark.slow
def test_barometer_average_is_a_parameter_and_the_national_figure_by_default(built, tmp_path):
    # Issue 12, finding 6. Grunnskolepoeng 2024: SSB's national figure 38, the municipalities' mean 39
    # (A 41.6, B 40, C 38.4, D 36), P5 36.36, P95 41.36.
    con = duckdb.connect(str(built[0]), read_only=True)
    try:
        b = one(con, GRADE, B, 2024, "key_figure", "grunnskole", "gs_grunnskolepoeng")
    finally:
        con.close()
    # average_reference = national_figure: the national figure itself grades exactly 3.5.
    assert b["average_source"] == "national_figure" and b["national_mean"] == pytest.approx(38)
    assert b["national_value"] == pytest.approx(38) and b["national_value_grade"] == pytest.approx(3.5)
    # The other choice, on a copy: the mean of municipalities (39) grades 3.5, and the national figure 38
    # lies below it: 3.5 − 2.5 · (39 − 38) / (39 − 36.36) = 2.5530.
    db, _target = built
    project = tmp_path / "project"
    shutil.copytree(db.parent / "project", project, ignore=shutil.ignore_patterns("target", "logs"))
    parameters = project / "seeds" / "indices" / "barometer_parameters.csv"
    parameters.write_text(
        parameters.read_text(encoding="utf-8").replace("national_figure", "municipal_mean"), encoding="utf-8"
    )
    copy = tmp_path / "copy" / db.name
    copy.parent.mkdir()
    copy.write_bytes(db.read_bytes())
    run_dbt_process(
        "build",
        copy,
        project_dir=project,
        target_path=tmp_path / "target",
        log_path=tmp_path / "logs",
        select=["barometer_parameters+"],
    )
    con = duckdb.connect(str(copy), read_only=True)
    try:
        b2 = one(con, GRADE, B, 2024, "key_figure", "grunnskole", "gs_grunnskolepoeng")
    finally:
        con.close()
    assert b2["average_source"] == "municipal_mean" and b2["national_mean"] == pytest.approx(39)
    assert b2["grade"] == pytest.approx(3.5 + 2.5 / 2.36)
    assert b2["national_value_grade"] == pytest.approx(3.5 - 2.5 * 1 / 2.64)


@pytest.mark.slow
def test_whole_number_key_figure_is_flagged_not_graded_1_or_6(warehouse):
    # Issue 12, finding 6. Children per staff man-year published as whole numbers: A 6, B 6, C 5, D 7, E 6,
    # P5 5.2, P95 6.8: the anchors are 1.6 publication steps apart (fewer than min_anchor_steps = 10), so
    # C would get 6 and D 1 from one step each. Flagged instead: no grade, a reason, no rank.
    rows = warehouse.execute(
        """
        select municipality_id, grade, is_graded, not_graded_reason, rank from marts.barometer
        where key_figure_id = 'bh_barn_per_ansatt' and year = 2024 order by municipality_id
        """
    ).fetchall()
    assert len(rows) == 5
    for municipality, grade, is_graded, reason, rank in rows:
        assert grade is None and not is_graded and rank is None, municipality
        assert reason.startswith("published with too little precision to grade"), reason
    # The sector has no graded key figure left, so it is not graded either (never a 1 or a 6 from rounding).
    sector = one(warehouse, GRADE, C, 2024, "sector", "barnehage", None)
    assert sector["grade"] is None and not sector["is_graded"]


@pytest.mark.slow
def test_care_split_by_age_in_u_p_and_e_by_hand(warehouse):
    # Pleie og omsorg 0-66 and 67+ (issue 12, finding 5): each age group's expenditure is the sector's net
    # expenditure (253+254+261) times its share of the assigned weekly hours, ASSS's A · (B / (B + C)), per
    # need-adjusted inhabitant of the group (D · the sector's cost key).
    # 0-66: A 300 · 100/300 = 100 → u = 1000 · 100 / (8000 · 1.25) = 10; B 200 · 48/200 = 48 → 48000/4000
    # = 12; C 150 · 40/150 = 40 → 40000/5000 = 8. Mean 10: U = 100, 120, 80.
    a = one(warehouse, INDICES, A, "pleie_omsorg_0_66", 2024)
    assert a["sector_net_expenditure"] == pytest.approx(300)
    assert a["hours_share"] == pytest.approx(1 / 3)
    assert a["net_expenditure"] == pytest.approx(100)
    assert a["expenditure_per_need_adjusted_inhabitant"] == pytest.approx(10)
    assert a["cost_index"] == pytest.approx(1.25)  # the sector's key (cost_key_sector pleie_omsorg)
    u66 = {m: one(warehouse, INDICES, m, "pleie_omsorg_0_66", 2024)["expenditure_index"] for m in (A, B, C)}
    assert u66 == pytest.approx({A: 100, B: 120, C: 80})
    # P 0-66: long-term days per 1000 need-adjusted 0-66: A 1000 · 120 / 10000 = 12, B 10, C 8 → P 120, 100, 80;
    # E_A = 120, E_B = 100 · 100 / 120 = 83.33, E_C = 100.
    assert a["production_index"] == pytest.approx(120) and a["efficiency_index"] == pytest.approx(120)
    assert one(warehouse, INDICES, B, "pleie_omsorg_0_66", 2024)["efficiency_index"] == pytest.approx(250 / 3)
    # 67+: C has no inhabitants 67+, so it has neither u nor P there and leaves the 67+ reference (but not
    # the 0-66 one). A 300 · 200/300 = 200 → u = 1000 · 200 / (1000 · 1.25) = 160; B 200 · 152/200 = 152 → 152.
    # Mean over A and B 156: U_A = 16000 / 156, U_B = 15200 / 156. P: days per 1000 need-adjusted 67+
    # A 1000 · 500 / 1250 = 400, B 600 → P 80, 120. E_A = 100 · 80 · 156 / 16000 = 78.
    a67 = one(warehouse, INDICES, A, "pleie_omsorg_67_pluss", 2024)
    assert a67["net_expenditure"] == pytest.approx(200)
    assert a67["expenditure_index"] == pytest.approx(16000 / 156)
    assert a67["production_index"] == pytest.approx(80)
    assert a67["efficiency_index"] == pytest.approx(78)
    assert (a67["expenditure_reference_member_count"], a67["production_reference_member_count"]) == (2, 2)
    c67 = one(warehouse, INDICES, C, "pleie_omsorg_67_pluss", 2024)
    assert not c67["is_reference_member"] and "pop_67_pluss missing" in c67["incomplete_reason"]
    assert one(warehouse, INDICES, C, "pleie_omsorg_0_66", 2024)["is_reference_member"]
    # D (not a member): 100 · 80/100 = 80 → u = 80000 / 500 = 160 → U = 16000 / 156; days 250 → x 500 → P 100.
    d67 = one(warehouse, INDICES, D, "pleie_omsorg_67_pluss", 2024)
    assert (d67["expenditure_index"], d67["production_index"]) == pytest.approx((16000 / 156, 100))
    # E's 0-66 hours are suppressed: neither age group has a U, and both say which input is missing.
    for sector in ("pleie_omsorg_0_66", "pleie_omsorg_67_pluss"):
        e = one(warehouse, INDICES, E, sector, 2024)
        assert e["expenditure_index"] is None and "U: po_timer_uke_0_66 missing" in e["incomplete_reason"]
    # The whole sector keeps its U (1000 · 300 / (10000 · 1.25) = 24 for A) but has no P under v2, and says so.
    whole = one(warehouse, INDICES, A, "pleie_omsorg", 2024)
    assert whole["expenditure_per_need_adjusted_inhabitant"] == pytest.approx(24)
    assert whole["production_index"] is None and "P: no production weights" in whole["incomplete_reason"]
    # The fixture's keys come from the cost_keys seed with source "fixture": not DEMO, not Grønt hefte.
    assert a["cost_key_source"] == "fixture" and a["cost_key_is_demo"] is False


@pytest.mark.slow
def test_dbt_weight_test_catches_a_bad_sum(built, tmp_path):
    # The singular dbt test passes on the fixture and fails once a weight is changed (run on a copy).
    db, target = built
    sql = next((target / "compiled").rglob("assert_production_weights_sum_to_one.sql")).read_text(
        encoding="utf-8"
    )
    copy = tmp_path / db.name  # the compiled SQL names the catalog after the file
    copy.write_bytes(db.read_bytes())
    con = duckdb.connect(str(copy))
    try:
        assert con.execute(sql).fetchall() == []
        con.execute(
            "update reference.production_weights set weight = 0.5 where indicator_id = 'gs_elever' and weights_version = 'v2'"
        )
        assert con.execute(sql).fetchall() == [("v2", "grunnskole", pytest.approx(0.9))]
    finally:
        con.close()


# --- the committed seeds (fast, no dbt) ------------------------------------------------------------------


def _read(name: str) -> list[dict]:
    with (INDEX_SEEDS / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_committed_weights_sum_to_one_and_keep_published_shares():
    sums: dict[tuple[str, str], float] = defaultdict(float)
    for row in _read("production_weights.csv"):
        sums[(row["weights_version"], row["sector"])] += float(row["weight"])
        assert row["source"].strip(), row
    assert sums and all(abs(total - 1) < 1e-9 for total in sums.values()), sums
    weights = {(r["sector"], r["indicator_id"]): float(r["weight"]) for r in _read("production_weights.csv")}
    # ASSS: barnevern coverage ratios 80 %; pleie og omsorg long-term days + practical hours 60.3 %.
    assert weights[("barnevern", "bv_barn_tiltak_ikke_plassert")] + weights[
        ("barnevern", "bv_barn_tiltak_plassert")
    ] == pytest.approx(0.8)
    care = [w for (s, i), w in weights.items() if s == "pleie_omsorg" and ("langtid" in i or "praktisk" in i)]
    assert sum(care) == pytest.approx(0.603)
    # v2 (the default) measures the age groups apart and keeps ASSS's 60.3 % in each.
    for group in ("0_66", "67_pluss"):
        v2 = [
            float(r["weight"])
            for r in _read("production_weights.csv")
            if r["weights_version"] == "v2"
            and r["sector"] == f"pleie_omsorg_{group}"
            and ("langtid" in r["indicator_id"] or "praktisk" in r["indicator_id"])
        ]
        assert sum(v2) == pytest.approx(0.603), group
    assert not [
        r
        for r in _read("production_weights.csv")
        if r["weights_version"] == "v2" and r["sector"] == "pleie_omsorg"
    ]
    sectors = {r["barometer_sector"]: float(r["weight"]) for r in _read("barometer_sectors.csv")}
    assert sum(sectors.values()) == pytest.approx(1)
    assert (sectors["grunnskole"], sectors["pleie_omsorg"], sectors["kostnadsniva"]) == (0.2, 0.2, 0.05)
    key_sums: dict[str, float] = defaultdict(float)
    for row in _read("barometer_key_figures.csv"):
        key_sums[row["barometer_sector"]] += float(row["weight"])
    assert all(abs(total - 1) < 1e-9 for total in key_sums.values()), key_sums


def test_committed_seeds_name_catalogue_indicators_and_cover_every_municipality():
    with (DBT_PROJECT_DIR / "seeds" / "indicator_catalogue.csv").open(encoding="utf-8") as handle:
        catalogue = {r["indicator_id"] for r in csv.DictReader(handle)}
    named = {r["indicator_id"] for r in _read("production_weights.csv")}
    named |= {
        r["indicator_id"] for r in _read("barometer_key_figures.csv") if r["source_kind"] == "indicator"
    }
    named |= {r["expenditure_indicator_id"] for r in _read("sector_functions.csv")}
    assert named - catalogue == set()
    with (DBT_PROJECT_DIR / "seeds" / "reference" / "municipalities.csv").open(encoding="utf-8") as handle:
        municipalities = {r["municipality_id"] for r in csv.DictReader(handle)}
    # Each sector reads its cost key's sector (the age groups of pleie og omsorg read the sector's key).
    sectors = {r["cost_key_sector"] or r["sector"] for r in _read("sector_functions.csv")}
    keys = {(r["municipality_id"], r["sector"], int(r["year"])) for r in _read("cost_keys.csv")}
    expected = {(m, s, y) for m in municipalities for s in sectors for y in range(2015, 2025)}
    assert expected <= keys
    assert all(r["source"].startswith("DEMO") for r in _read("cost_keys.csv")[:5])
