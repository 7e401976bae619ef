"""SSB's real barnehage table 13502, through `kostra ingest-file` and `kostra build`, gives a tjenesteprofil for
every ASSS member in every year 2015–2023, across the 2018, 2020 code changes.

The home is the run's shared real-data build (tests/demo_build.py): 13502 landed and built together with the
other recorded KOSTRA responses, which hold none of 13502's indicator (bh_andel_1_2); the tables of the
catalogue that were never landed are absent from the marts."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.reference import seeds
from tests.demo_build import REALDATA_KOSTRA, REALDATA_RESPONSES

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def built(realdata_built_home):
    con = duckdb.connect(str(realdata_built_home / "kostra.duckdb"), read_only=True)
    yield con
    con.close()


def test_every_asss_member_has_a_profile_every_year(built):
    rows = built.execute(
        "select municipality_id, year, value, index_asss, comparable_across_break from marts.service_profile "
        "where indicator_id = 'bh_andel_1_2'"
    ).fetchall()
    got = {(m, y): (v, i, c) for m, y, v, i, c in rows}
    for year in range(2015, 2024):
        for member in seeds.asss_members(year):
            value, index, _ = got[(member, year)]
            assert value is not None and index is not None, (member, year)


def test_bærum_series_is_ssbs_own_figures_under_one_id(built):
    rows = built.execute(
        "select year, region_code, value, comparable_across_break from marts.service_profile "
        "where indicator_id = 'bh_andel_1_2' and municipality_id = '3201' order by year"
    ).fetchall()
    assert [r[0] for r in rows] == list(range(2015, 2024))
    assert [r[1] for r in rows] == ["0219"] * 5 + ["3024"] * 4
    assert rows[1][2] == pytest.approx(86.3)  # 0219 Bærum 2016 in SSB's StatBank export
    assert all(r[3] for r in rows)  # no merger: comparable across the renumbering


def test_merged_members_use_the_municipality_as_it_was_and_say_so(built):
    # Drammen 2019 = 0602 Drammen (+ Nedre Eiker, Svelvik merged in 2020): a share cannot be recombined.
    region, comparable = built.execute(
        "select region_code, comparable_across_break from marts.indicator_values "
        "where indicator_id = 'bh_andel_1_2' and municipality_id = '3301' and year = 2019"
    ).fetchone()
    assert "0602" in region and comparable is False


def test_the_asss_mean_is_the_unweighted_mean_of_the_members(built):
    (mean, n) = built.execute(
        "select avg(value), count(*) from marts.service_profile where indicator_id = 'bh_andel_1_2' "
        "and year = 2021 and is_asss_member"
    ).fetchone()
    (asss_mean,) = built.execute(
        "select distinct asss_mean from marts.service_profile where indicator_id = 'bh_andel_1_2' and year = 2021"
    ).fetchone()
    assert n == 10 and asss_mean == pytest.approx(mean)


def test_tables_never_landed_are_simply_absent(built):
    tables = {t for (t,) in built.execute("select distinct table_id from marts.indicator_values").fetchall()}
    landed = {REALDATA_RESPONSES[rel][0] for rel in REALDATA_KOSTRA}
    assert "13502" in tables and tables <= landed
    # The profile above is 13502's alone: no other landed table feeds its indicator.
    (sources,) = built.execute(
        "select list(distinct table_id) from marts.indicator_values where indicator_id = 'bh_andel_1_2'"
    ).fetchone()
    assert sources == ["13502"]
