"""The structural similarity group (issue 14) on a hand-built fixture whose nearest neighbours are known by
construction, and the comparison-group parameter in every form.

The fixture (five municipalities, 2019 and 2024, k = 2): every municipality has the same age shares (7, 12,
9 and 4 per cent), so only population (log) and free income per inhabitant separate them. In 2024 Asker is
Bærum's twin (120 000 inhabitants and 59 500 kr against 130 000 and 60 000); Stavanger and Bergen are
identical to each other (150 000, 62 000), so they tie for every municipality and the lower code, Stavanger,
wins; Oslo (700 000, 75 000) is far from everyone. In 2019 Asker is three codes (0220, 0627, 0628) that
merged in 2020: its counts are summed on today's borders, its free income per inhabitant (a published rate)
is 0220's, and every pair with Asker says so.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pipeline.config import Comparison, comparison_group_label_nb, normalise_comparison_group
from pipeline.raw.load import RAW_CELLS_SCHEMA
from pipeline.transform.dbt_runner import dbt_vars, run_dbt
from tests.fixtures_indices import write_similarity_seeds
from tests.fixtures_raw import CATALOGUE_HEADER, _Cells, build_raw_fixture, make_fixture_project

AGES = {"Y0_5": 0.07, "Y6_15": 0.12, "Y67_79": 0.09, "Y80": 0.04}
# year -> region code -> (inhabitants, free income per inhabitant)
UNITS = {
    2019: {
        "0301": (690000.0, 74000.0),
        "0219": (128000.0, 59000.0),
        "0220": (60000.0, 59000.0),
        "0627": (30000.0, 50000.0),
        "0628": (10000.0, 48000.0),
        "1103": (148000.0, 61000.0),
        "1201": (148000.0, 61000.0),
    },
    2024: {
        "0301": (700000.0, 75000.0),
        "3201": (130000.0, 60000.0),
        "3203": (120000.0, 59500.0),
        "1103": (150000.0, 62000.0),
        "4601": (150000.0, 62000.0),
    },
}
TODAY = {"0219": "3201", "0220": "3203", "0627": "3203", "0628": "3203", "1201": "4601"}
RELEASE = datetime(2025, 6, 16, 6, 0)
CATALOGUE = [
    "pop_total,befolkning,Innbyggere,Inhabitants,07459,Personer1,,,TOT,,personer,neutral,base,,,,,,confirmed,fixture,,,,",
    *(
        f"{iid},befolkning,Innbyggere {iid},Inhabitants {iid},07459,Personer1,,,{age},,personer,neutral,base,,,,,,"
        "confirmed,fixture,,,,"
        for iid, age in (
            ("pop_0_5", "Y0_5"),
            ("pop_6_15", "Y6_15"),
            ("pop_67_79", "Y67_79"),
            ("pop_80_pluss", "Y80"),
        )
    ),
    "frie_inntekter_per_innb,regnskap,Frie inntekter per innbygger,Free income per inhabitant,12134,KOSAG110000,"
    ",,,,kroner,neutral,need,,,,,,confirmed,fixture,,,,pop_total",
]
WEIGHTS = {"log_population": 2.0, "free_income_per_inhabitant": 2.0}  # the age shares (1 each) do not vary
TOTAL_WEIGHT = 8.0


def _raw(db: Path) -> Path:
    build_raw_fixture(db, tables=[])
    cells = _Cells()
    for year, units in UNITS.items():
        for code, (pop, income) in units.items():
            cells.add("07459", RELEASE, "revised", "Personer1", code, year, pop, alder="TOT")
            for age, share in AGES.items():
                cells.add("07459", RELEASE, "revised", "Personer1", code, year, round(pop * share), alder=age)
            cells.add("12134", RELEASE, "revised", "KOSAG110000", code, year, income)
    fixture_cells = pa.Table.from_pylist(cells.rows, schema=RAW_CELLS_SCHEMA)
    con = duckdb.connect(str(db))
    try:
        con.register("fixture_cells", fixture_cells)
        con.execute("insert into raw.cells by name select * from fixture_cells")
        con.execute(
            "insert into raw.releases select table_id, release_updated, 'fixture ' || table_id, "
            "'tests/test_similarity.py', max(year), count(*), now()::timestamp from fixture_cells "
            "group by table_id, release_updated"
        )
    finally:
        con.close()
    return db


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    root = tmp_path_factory.mktemp("similarity")
    project = make_fixture_project(root / "project")
    (project / "seeds" / "indicator_catalogue.csv").write_text(
        "\n".join([CATALOGUE_HEADER, *CATALOGUE]) + "\n", encoding="utf-8"
    )
    real = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds" / "similarity"
    variables = "".join((real / "similarity_variables.csv").read_text(encoding="utf-8").splitlines(True)[1:])
    write_similarity_seeds(
        project / "seeds",
        {
            "similarity_variables.csv": variables,
            "similarity_parameters.csv": "k,2,fixture\nvariables_version,v1,fixture\n",
        },
    )
    db = _raw(root / "kostra_build.duckdb")
    # In-process: as a dbt process of its own this fixture's seeds fail to load (a '' cast to INT32 in
    # stg_reference__indicator_catalogue), unexplained yet; the indices fixture builds as a process.
    run_dbt(
        "build",
        db,
        Comparison(focus_municipality="3201", comparison_group="similar", extra_comparators=()),
        project_dir=project,
        target_path=root / "target",
        log_path=root / "logs",
        exclude=["test_type:unit"],
    )
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def _expected_distances(year: int) -> dict[tuple[str, str], float]:
    """The distance by hand: z over today's municipalities, the weighted root mean square of differences."""
    units: dict[str, list[float]] = {}
    for code, (pop, income) in UNITS[year].items():
        mid = TODAY.get(code, code)
        units.setdefault(mid, [0.0, None])
        units[mid][0] += pop
        if code in ("0220", "0219", "1201") or mid == code:
            units[mid][1] = income  # a merged municipality's rate is its principal code's
    columns = {
        "log_population": [math.log(v[0]) for v in units.values()],
        "free": [v[1] for v in units.values()],
    }
    z = {}
    for name, xs in columns.items():
        mean = sum(xs) / len(xs)
        sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs))
        z[name] = [(x - mean) / sd for x in xs]
    ids = list(units)
    out = {}
    for i, a in enumerate(ids):
        for j, b in enumerate(ids):
            if a != b:
                sq = sum(2.0 * (z[n][i] - z[n][j]) ** 2 for n in z)
                out[(a, b)] = math.sqrt(sq / TOTAL_WEIGHT)
    return out


def _rows(con, sql, *params) -> list[dict]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


@pytest.mark.slow
def test_nearest_are_known_by_construction_with_a_tie(built):
    rows = _rows(
        built,
        "select * from marts.similar_municipalities where municipality_id = '3201' and year = 2024 "
        "order by similarity_rank",
    )
    assert [(r["similarity_rank"], r["similar_municipality_id"]) for r in rows] == [(1, "3203"), (2, "1103")]
    asker, stavanger = rows
    assert not asker["is_tied"] and asker["tie_note"] is None
    # Bergen is exactly as far as Stavanger: the tie is flagged and broken by the code (1103 < 4601).
    assert stavanger["is_tied"] and "order by municipality code" in stavanger["tie_note"]
    expected = _expected_distances(2024)
    assert asker["distance"] == pytest.approx(expected[("3201", "3203")])
    assert stavanger["distance"] == pytest.approx(expected[("3201", "1103")])
    assert expected[("3201", "1103")] == pytest.approx(expected[("3201", "4601")])
    assert (asker["k"], asker["candidate_count"], asker["variables_version"]) == (2, 4, "v1")
    assert asker["similar_municipality_name"] == "Asker" and asker["municipality_name"] == "Bærum"
    # Oslo's two nearest are the tied pair, in code order.
    oslo = _rows(
        built,
        "select similar_municipality_id, is_tied from marts.similar_municipalities "
        "where municipality_id = '0301' and year = 2024 order by similarity_rank",
    )
    assert oslo == [
        {"similar_municipality_id": "1103", "is_tied": True},
        {"similar_municipality_id": "4601", "is_tied": True},
    ]


@pytest.mark.slow
def test_contributions_add_up_to_the_squared_distance(built):
    pairs = _rows(
        built,
        "select s.year, s.municipality_id, s.similar_municipality_id, s.distance, "
        "s.largest_contribution_variable_id, "
        "sum(c.squared_distance_part) as total, sum(c.squared_distance_share) as shares, "
        "max(c.squared_distance_part) filter (where c.variable_id like 'share%') as age_part "
        "from marts.similar_municipalities s join marts.similar_municipality_contributions c using "
        "(municipality_id, year, similar_municipality_id) group by all",
    )
    assert len(pairs) == 2 * 5 * 2  # two years, five municipalities, k = 2
    for p in pairs:
        assert p["total"] == pytest.approx(p["distance"] ** 2)
        assert p["age_part"] == 0  # equal age shares everywhere separate no one
        if {p["municipality_id"], p["similar_municipality_id"]} == {"1103", "4601"}:
            # Identical structure: distance 0, no part to share out.
            assert p["distance"] == 0 and p["shares"] is None
            assert p["largest_contribution_variable_id"] is None
        else:
            assert p["shares"] == pytest.approx(1.0)
            assert p["largest_contribution_variable_id"] in WEIGHTS
    # Bærum–Asker: population (log 130 000 vs 120 000) and income (60 000 vs 59 500), by hand.
    detail = {
        r["variable_id"]: r
        for r in _rows(
            built,
            "select * from marts.similar_municipality_contributions "
            "where municipality_id = '3201' and similar_municipality_id = '3203' and year = 2024",
        )
    }
    assert detail["log_population"]["value"] == pytest.approx(math.log(130000))
    assert detail["log_population"]["similar_value"] == pytest.approx(math.log(120000))
    assert detail["free_income_per_inhabitant"]["similar_value"] == 59500
    assert detail["share_0_5"]["value"] == pytest.approx(0.07)


@pytest.mark.slow
def test_merger_is_matched_on_todays_borders_with_the_break_flagged(built):
    asker = {
        r["variable_id"]: r
        for r in _rows(
            built,
            "select * from intermediate.int_similarity__structural_values where municipality_id = '3203' "
            "and year = 2019",
        )
    }
    # 0220 + 0627 + 0628 on today's borders: counts summed, the shares recomputed from the sums.
    assert asker["log_population"]["numerator_value"] == 100000
    assert asker["log_population"]["is_on_current_borders"]
    assert asker["share_80_plus"]["value"] == pytest.approx(0.04)
    # The rate cannot be recombined: 0220's, flagged.
    assert asker["free_income_per_inhabitant"]["value"] == 59000
    assert not asker["free_income_per_inhabitant"]["is_on_current_borders"]
    rows = _rows(
        built,
        "select * from marts.similar_municipalities where year = 2019 and "
        "(municipality_id = '3203' or similar_municipality_id = '3203')",
    )
    assert rows and all(not r["is_on_current_borders"] for r in rows)
    assert all("3203 free_income_per_inhabitant" in r["border_note"] for r in rows)
    expected = _expected_distances(2019)
    baerum = _rows(
        built,
        "select similar_municipality_id, distance from marts.similar_municipalities "
        "where municipality_id = '3201' and year = 2019 order by similarity_rank",
    )
    assert baerum[0]["similar_municipality_id"] == min(
        ("3203", "1103", "4601", "0301"), key=lambda m: (expected[("3201", m)], m)
    )
    for r in baerum:
        assert r["distance"] == pytest.approx(expected[("3201", r["similar_municipality_id"])])


@pytest.mark.slow
def test_similar_comparison_group_is_the_focus_and_its_nearest(built):
    members = _rows(
        built,
        "select comparison_group, municipality_id, similarity_rank, municipality_name "
        "from marts.comparison_group_members where year = 2024 order by similarity_rank",
    )
    assert [(m["municipality_id"], m["similarity_rank"]) for m in members] == [
        ("3201", 0),
        ("3203", 1),
        ("1103", 2),
    ]
    assert {m["comparison_group"] for m in members} == {"similar:3201"}
    # The profile's group mean is over exactly those members, and says who they were.
    row = _rows(
        built,
        "select comparison_group, group_mean, group_member_count, group_members from marts.service_profile "
        "where municipality_id = '3201' and year = 2024 and indicator_id = 'frie_inntekter_per_innb'",
    )[0]
    assert row["comparison_group"] == "similar:3201"
    assert row["group_members"] == "1103, 3201, 3203"
    assert row["group_member_count"] == 3
    assert row["group_mean"] == pytest.approx((60000 + 59500 + 62000) / 3)
    aggregate = _rows(
        built,
        "select comparison_group, members from marts.asss_aggregates "
        "where year = 2024 and indicator_id = 'frie_inntekter_per_innb'",
    )[0]
    assert aggregate == {"comparison_group": "similar:3201", "members": "1103, 3201, 3203"}


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("asss", "ASSS"),
        ("ASSS", "ASSS"),
        ("ekg13", "EKG13"),
        ("kostra:2020:ekg12", "kostra:2020:EKG12"),
        ("KOSTRA:pre-2020:EKG13", "kostra:pre-2020:EKG13"),
        ("4601, 0301,4601", "list:0301,4601"),
        ("list:5001", "list:5001"),
        ("similar", "similar:3201"),
        ("similar:4601", "similar:4601"),
    ],
)
def test_comparison_group_forms_are_normalised(text, canonical):
    assert normalise_comparison_group(text, "3201") == canonical
    assert dbt_vars(Comparison(comparison_group=text))["comparison_group"] == canonical


@pytest.mark.parametrize("text", ["KS", "EKG1", "similar:46", "list:", "kostra:EKG12", "0301;4601"])
def test_bad_comparison_group_is_one_clear_error(text):
    with pytest.raises(ValueError, match="asss.*KOSTRA group.*list.*similar"):
        normalise_comparison_group(text)


def test_group_labels_for_people_are_norwegian():
    assert comparison_group_label_nb("kostra:2020:EKG12") == "KOSTRA-gruppe EKG12 (inndeling 2020)"
    assert comparison_group_label_nb("similar:3201").startswith("lignende kommuner (3201")
    assert comparison_group_label_nb("list:0301,4601") == "valgte kommuner (0301, 4601)"


def test_cli_rejects_a_bad_group_before_anything_starts(tmp_path, monkeypatch, capsys):
    from pipeline.cli import main

    monkeypatch.setenv("KOSTRA_HOME", str(tmp_path / "home"))
    for args in (["build", "--group", "KS"], ["report", "--group", "KS", "--out", str(tmp_path / "r.html")]):
        assert main(args) == 2
        out = capsys.readouterr().err
        assert "--group 'KS': use 'asss'" in out and "Traceback" not in out
    assert not (tmp_path / "home").exists()
