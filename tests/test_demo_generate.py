"""The demo release: deterministic, shaped like the catalogue's tables, consistent, with its planted errors."""

import json

import numpy as np
import pandas as pd
import pytest

from pipeline import catalogue
from pipeline.demo.generate import generate


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return generate(out)


def _table(demo, table_id):
    return pd.read_parquet(demo.out_dir / "tables" / f"{table_id}.parquet")


def test_same_seed_same_bytes(tmp_path):
    first = generate(tmp_path / "first", first_year=2020, last_year=2024)
    again = generate(tmp_path / "again", first_year=2020, last_year=2024)
    assert again.sha256 == first.sha256 and len(first.sha256) == 25
    other = generate(tmp_path / "other", seed=1, first_year=2020, last_year=2024)
    assert other.sha256["12367.parquet"] != first.sha256["12367.parquet"]


def test_labelled_as_demo(demo):
    readme = (demo.out_dir / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# DEMO DATA: synthetic values, real structure")
    meta = json.loads((demo.out_dir / "tables" / "12367.json").read_text(encoding="utf-8"))
    assert meta["demo"] is True
    releases = json.loads((demo.out_dir / "releases.json").read_text(encoding="utf-8"))
    assert releases[0] == {
        "key": "2016-03",
        "updated": "2016-03-15T07:00:00Z",
        "data_year": 2015,
        "vintage": "unrevised",
    }
    assert len(releases) == 20


def test_shapes_match_the_catalogue(demo):
    for table_id, spec in catalogue.tables().items():
        df = _table(demo, table_id)
        meta = json.loads((demo.out_dir / "tables" / f"{table_id}.json").read_text(encoding="utf-8"))
        assert meta["dimension_order"] == spec.dimension_ids
        dims = spec.dimension_ids
        assert list(df.columns) == [
            *dims,
            "value_unrevised",
            "status_unrevised",
            "value_revised",
            "status_revised",
        ]
        n_regions = len(meta["dimensions"][0]["codes"])
        n_cells = np.prod([len(d[1]) for d in spec.dimensions[1:-1]])
        assert len(df) == n_regions * n_cells * 10, table_id
        for dim_id, codes, _ in spec.dimensions[1:-1]:
            assert set(df[dim_id]) == set(codes)
        units = meta["units"]
        assert set(units) == {c[0] for c in spec.contents}
        # A status always comes with a NULL value (never 0).
        for v in ("unrevised", "revised"):
            assert df.loc[df[f"status_{v}"].notna(), f"value_{v}"].isna().all()


@pytest.mark.parametrize(
    ("code", "valid_years"),
    [
        ("0219", range(2015, 2020)),
        ("3024", range(2020, 2024)),
        ("3201", range(2024, 2025)),
        ("0301", range(2015, 2025)),
    ],
)
def test_dot_exactly_outside_validity(demo, code, valid_years):
    df = _table(demo, "07459")
    rows = df[(df["Region"] == code) & (df["Alder"] == "F000-120")].set_index("Tid")
    for year in range(2015, 2025):
        status = rows.loc[str(year), "status_revised"]
        if year in valid_years:
            assert pd.isna(status) and rows.loc[str(year), "value_revised"] > 0, (code, year)
        else:
            assert status == "." and pd.isna(rows.loc[str(year), "value_revised"]), (code, year)


def test_dot_matches_reference_for_every_code(demo):
    from pipeline import reference

    munis = reference.municipalities().set_index("municipality_code")
    df = _table(demo, "12367")
    df = df[~df["KOKkommuneregion0000"].str.startswith("E")]
    dot = (df["status_revised"] == ".").groupby([df["KOKkommuneregion0000"], df["Tid"]]).all()
    for (code, tid), is_dot in dot.items():
        r = munis.loc[code]
        valid = r["valid_from_year"] <= int(tid) and (
            pd.isna(r["valid_to_year"]) or int(tid) <= r["valid_to_year"]
        )
        assert is_dot == (not valid), (code, tid)


def test_ratios_are_numerator_over_denominator(demo):
    cat = catalogue.load_catalogue().set_index("indicator_id")
    tables = {t: _table(demo, t) for t in cat["table_id"].unique()}

    cache = {}
    specs = catalogue.tables()

    def cells(iid, vintage):
        if iid in cache:
            return cache[iid][f"value_{vintage}"]
        row = cat.loc[iid]
        df = tables[row["table_id"]]
        spec = specs[row["table_id"]]
        mask = df["ContentsCode"] == row["contents_code"]
        filters = catalogue.cell_filters(row)
        for dim_id, codes in filters.items():
            mask &= df[dim_id].isin(codes)
        sub = df[mask]
        cache[iid] = sub.groupby([spec.region_dimension, "Tid"])[["value_unrevised", "value_revised"]].sum(
            min_count=len(filters.get("KOKfunksjon0000", [1]))
        )
        return cache[iid][f"value_{vintage}"]

    checked = 0
    for iid, row in cat[cat["numerator_id"] != ""].iterrows():
        for vintage in ("unrevised", "revised"):
            ratio = cells(iid, vintage)
            num = cells(row["numerator_id"], vintage)
            den = cells(row["denominator_id"], vintage)
            joined = pd.concat({"r": ratio, "n": num, "d": den}, axis=1).dropna()
            joined = joined[joined["d"] != 0]
            expected = joined["n"] / joined["d"] * row["scale"]
            tol = 0.5 * 10 ** -catalogue.decimals_for(row["unit"]) + 1e-9
            assert (abs(joined["r"] - expected) <= tol).all(), iid
            checked += len(joined)
    assert checked > 100_000


def test_realistic_levels(demo):
    df = _table(demo, "12235")
    eak = df[(df["KOKkommuneregion0000"] == "EAK") & (df["ContentsCode"] == "KOSndgrsperelev0000")]
    assert eak["value_revised"].between(100_000, 160_000).all()
    bh = _table(demo, "13502")
    share = bh[(bh["KOKkommuneregion0000"] == "EAK") & (bh["ContentsCode"] == "KOSandel120000")]
    assert share["value_revised"].between(85, 95).all()
    iplos = _table(demo, "12003")
    eak = iplos[iplos["KOKkommuneregion0000"] == "EAK"].pivot_table(
        index="Tid", columns="ContentsCode", values="value_revised", aggfunc="sum"
    )
    hours = eak["KOStildtimeruke0000"] / eak["KOSbrukerehjemtj0000"]
    anomalies = json.loads((demo.out_dir / "anomalies.json").read_text(encoding="utf-8"))
    # Oslo's planted 190 hours a week per user drags the national figure up that year, as it would at SSB.
    polluted = next(str(a["year"]) for a in anomalies if a["kind"] == "implausible_hours")
    assert hours.drop(polluted).between(5, 12).all() and hours[polluted] > 12
    # Internal identities hold for every municipality cell that has no planted anomaly.
    planted = {(a["region_code"], str(a["year"])) for a in anomalies}
    users = iplos.pivot_table(
        index=["KOKkommuneregion0000", "KOKalder0000", "Tid"], columns="ContentsCode", values="value_revised"
    )
    users = users[[(r, t) not in planted for r, _a, t in users.index]].dropna(
        subset=["KOSbrukere31120000", "KOSbrukereaar0000"]
    )
    assert (users["KOSbrukere31120000"] <= users["KOSbrukereaar0000"]).all()


def test_revisions_on_a_fraction_of_cells(demo):
    df = _table(demo, "12367")
    both = df.dropna(subset=["value_unrevised", "value_revised"])
    changed = (both["value_unrevised"] != both["value_revised"]).mean()
    assert 0.005 < changed < 0.1
    rel = (both["value_unrevised"] / both["value_revised"] - 1).abs()
    assert rel[both["value_revised"] > 1000].median() < 0.01


def test_statuses_present(demo):
    statuses = set()
    for t in catalogue.tables():
        statuses |= set(_table(demo, t)["status_revised"].dropna())
    assert {".", "..", ":"} <= statuses


def _cell(df, spec, a, vintage, contents=None):
    mask = (df[spec.region_dimension] == a["region_code"]) & (df["Tid"] == str(a["year"]))
    mask &= df["ContentsCode"] == (contents or a["contents_code"])
    for dim_id, code in a["dimensions"].items():
        mask &= df[dim_id] == code
    sub = df[mask]
    assert len(sub) == 1, a["anomaly_id"]
    return sub.iloc[0]


def test_planted_anomalies_are_in_the_data(demo):
    from pipeline import reference

    anomalies = {a["kind"]: a for a in demo.anomalies}
    assert len(anomalies) == 10
    asss = set(reference.asss_members(2022))
    assert any(reference.municipality_id(a["region_code"]) in asss for a in demo.anomalies)
    specs = catalogue.tables()
    t = {k: _table(demo, k) for k in ("12003", "12367", "12235", "13533", "12209")}

    a = anomalies["iplos_zero_hours"]
    assert _cell(t["12003"], specs["12003"], a, "revised")["value_revised"] == 0
    zero_users = _cell(t["12003"], specs["12003"], a, "revised", "KOSbrukere0timer0000")["value_revised"]
    assert (
        zero_users
        == _cell(t["12003"], specs["12003"], a, "revised", "KOSbrukerehjemtj0000")["value_revised"]
        > 0
    )

    a = anomalies["implausible_hours"]
    hours = _cell(t["12003"], specs["12003"], a, "revised")["value_revised"]
    users = _cell(t["12003"], specs["12003"], a, "revised", "KOSbrukerehjemtj0000")["value_revised"]
    assert hours / users > 168

    a = anomalies["year_end_exceeds_year"]
    end = _cell(t["12003"], specs["12003"], a, "revised")["value_revised"]
    during = _cell(t["12003"], specs["12003"], a, "revised", "KOSbrukereaar0000")["value_revised"]
    assert end > during

    a = anomalies["copied_previous_year"]
    df = t["12003"]
    this = df[(df["KOKkommuneregion0000"] == a["region_code"]) & (df["Tid"] == str(a["year"]))]
    prev = df[(df["KOKkommuneregion0000"] == a["region_code"]) & (df["Tid"] == str(a["year"] - 1))]
    assert this["value_revised"].fillna(-1).tolist() == prev["value_revised"].fillna(-1).tolist()
    assert this["status_revised"].fillna("").tolist() == prev["status_revised"].fillna("").tolist()
    assert this["value_revised"].notna().sum() >= 10

    a = anomalies["yoy_jump"]
    df = t["13533"]
    series = df[(df["KOKkommuneregion0000"] == a["region_code"]) & (df["ContentsCode"] == a["contents_code"])]
    series = series.set_index("Tid")["value_revised"]
    assert series[str(a["year"])] / series[str(a["year"] - 1)] > 2.5

    a = anomalies["large_revision"]
    c = _cell(t["12367"], specs["12367"], a, "both")
    assert c["value_revised"] / c["value_unrevised"] > 1.5

    a = anomalies["status_in_june"]
    c = _cell(t["12235"], specs["12235"], a, "both")
    assert c["status_revised"] == ".." and pd.isna(c["status_unrevised"]) and c["value_unrevised"] > 0

    a = anomalies["net_exceeds_gross"]
    net = _cell(t["12367"], specs["12367"], a, "revised")["value_revised"]
    gross = _cell(
        t["12367"], specs["12367"], {**a, "dimensions": {**a["dimensions"], "KOKart0000": "AGD10"}}, "r"
    )
    assert net > gross["value_revised"]

    a = anomalies["total_not_sum"]
    total = _cell(t["12367"], specs["12367"], a, "revised")["value_revised"]
    parts = sum(
        _cell(
            t["12367"], specs["12367"], {**a, "dimensions": {**a["dimensions"], "KOKfunksjon0000": f}}, "r"
        )["value_revised"]
        for f in ("244", "251", "252")
    )
    assert abs(total - parts) > 1000

    a = anomalies["zero_denominator"]
    assert _cell(t["12235"], specs["12235"], a, "revised")["value_revised"] == 0
    ratio = _cell(t["12235"], specs["12235"], a, "revised", "KOSndgrsperelev0000")
    assert pd.isna(ratio["value_revised"]) and ratio["status_revised"] == ".."


def test_aggregates_are_sums_of_members(demo):
    df = _table(demo, "07459")
    tot = df[(df["Alder"] == "F000-120") & (df["Tid"] == "2021")].set_index("Region")["value_revised"]
    munis = tot[~tot.index.str.startswith("E")].sum()
    assert tot["EAK"] == munis
    assert tot["EAKUO"] == munis - tot["0301"]


def test_regions_subset_and_bad_region(tmp_path):
    g = generate(tmp_path / "sub", regions=["EAK", "0301", "0219"])
    df = pd.read_parquet(g.tables["07459"])
    assert set(df["Region"]) == {"EAK", "0301", "0219"}
    with pytest.raises(ValueError, match="unknown region codes"):
        generate(tmp_path / "bad", regions=["9999"])
