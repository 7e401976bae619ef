"""The demo release: deterministic, shaped like the catalogue's tables, consistent, with its planted errors."""

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.demo.generate import generate
from pipeline.quality.config import IPLOS_AGE_GROUPS, IPLOS_INDICATORS
from pipeline.reference import catalogue

YEARS = range(2015, 2025)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return generate(out)


def _table(demo, table_id):
    return pd.read_parquet(demo.out_dir / "tables" / f"{table_id}.parquet")


def _meta(demo, table_id):
    return json.loads((demo.out_dir / "tables" / f"{table_id}.json").read_text(encoding="utf-8"))


def _source(iid: str, year: int) -> tuple[str, str]:
    """(table_id, contents_code) the catalogue reads ``iid`` from in ``year``."""
    cat = catalogue.load_catalogue()
    rows = cat[
        (cat["indicator_id"] == iid)
        & (cat["first_year"].fillna(0) <= year)
        & (cat["last_year"].fillna(9999) >= year)
    ]
    assert len(rows) == 1, (iid, year)
    return rows["table_id"].iloc[0], rows["contents_code"].iloc[0]


def test_same_seed_same_bytes(tmp_path):
    # Four years (the fewest the demo takes) with 12210's last and 13995's first in them.
    first = generate(tmp_path / "first", first_year=2021, last_year=2024)
    again = generate(tmp_path / "again", first_year=2021, last_year=2024)
    # A parquet and a JSON spec per catalogue table, plus releases.json, anomalies.json and README.md.
    assert again.sha256 == first.sha256 and len(first.sha256) == 2 * len(catalogue.tables()) + 3
    other = generate(tmp_path / "other", seed=1, first_year=2021, last_year=2024)
    assert other.sha256["12367.parquet"] != first.sha256["12367.parquet"]


def test_labelled_as_demo(demo):
    readme = (demo.out_dir / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# DEMO DATA: synthetic values, real structure")
    meta = _meta(demo, "12367")
    assert meta["demo"] is True and meta["notes"][0].startswith("DEMO DATA")
    releases = json.loads((demo.out_dir / "releases.json").read_text(encoding="utf-8"))
    assert releases[0] == {
        "key": "2016-03",
        "updated": "2016-03-15T07:00:00Z",
        "data_year": 2015,
        "vintage": "unrevised",
    }
    assert len(releases) == 20


@pytest.mark.slow  # reads every table of the whole demo release (15 s)
def test_shapes_match_the_catalogue(demo):
    for table_id, spec in catalogue.tables().items():
        df = _table(demo, table_id)
        meta = _meta(demo, table_id)
        # The JSON spec gives SSB's dimension order (12191 puts ContentsCode before the region); the demo
        # server reads the parquet's columns by name.
        assert meta["dimension_order"] == spec.dimension_ids
        assert [d["id"] for d in meta["dimensions"]] == spec.dimension_ids
        assert sorted(df.columns) == sorted(
            [*spec.dimension_ids, "value_unrevised", "status_unrevised", "value_revised", "status_revised"]
        )
        dims = {d["id"]: d["codes"] for d in meta["dimensions"]}
        years = [str(y) for y in YEARS if spec.serves(y)]
        assert dims["Tid"] == years and sorted(set(df["Tid"])) == years, table_id
        others = [(d, codes) for d, codes, _ in spec.dimensions if d not in (spec.region_dimension, "Tid")]
        n_cells = np.prod([len(codes) for _, codes in others])
        assert len(df) == len(dims[spec.region_dimension]) * n_cells * len(years), table_id
        for dim_id, codes in others:
            assert set(df[dim_id]) == set(codes), (table_id, dim_id)
        assert set(meta["units"]) == {c[0] for c in spec.contents}
        # A status always comes with a NULL value (never 0).
        for v in ("unrevised", "revised"):
            assert df.loc[df[f"status_{v}"].notna(), f"value_{v}"].isna().all()


def test_population_by_sex_and_single_year(demo):
    """07459 as SSB publishes it: Region × Kjonn (1, 2) × Alder (000…104, 105+), no KOSTRA age groups."""
    meta = _meta(demo, "07459")
    assert meta["dimension_order"] == ["Region", "Kjonn", "Alder", "ContentsCode", "Tid"]
    dims = {d["id"]: d["codes"] for d in meta["dimensions"]}
    assert dims["Kjonn"] == ["1", "2"]
    assert dims["Alder"] == [f"{a:03d}" for a in range(105)] + ["105+"]
    assert dims["ContentsCode"] == ["Personer1"]
    df = _table(demo, "07459")
    assert df["Kjonn"].notna().all() and not df["Alder"].str.startswith("F").any()
    oslo = df[(df["Region"] == "0301") & (df["Tid"] == "2024")]
    assert len(oslo) == 2 * 106 and oslo["value_revised"].gt(0).all()
    # Population is register-based: never revised between March and June.
    assert df["value_unrevised"].fillna(-1).equals(df["value_revised"].fillna(-1))


def test_catalogue_age_groups_are_sums_of_single_years(demo):
    """Each population indicator is the catalogue's sum over its single years and both sexes; groups nest."""
    df = _table(demo, "07459")
    df = df[(df["Tid"] == "2022") & df["status_revised"].isna()]
    pop = catalogue.indicators("befolkning").set_index("indicator_id")
    assert (pop["table_id"] == "07459").all()
    sums = {
        iid: df[df["Alder"].isin(catalogue.split_codes(r["alder"]))].groupby("Region")["value_revised"].sum()
        for iid, r in pop.iterrows()
    }
    total = df.groupby("Region")["value_revised"].sum()
    assert (sums["pop_total"] == total).all()
    assert (sums["pop_0_66"] + sums["pop_67_pluss"] == total).all()
    assert (sums["pop_1_2"] + sums["pop_3_5"] == sums["pop_1_5"]).all()
    assert (sums["pop_80_pluss"] < sums["pop_67_pluss"]).all()
    assert 0.12 < sums["pop_67_pluss"]["EAK"] / total["EAK"] < 0.22


def test_replaced_table_serves_only_its_years(demo):
    """12210 ends in 2021 and names its successor; 13995 serves 2022 onwards; the indicator moves across."""
    old, new = _meta(demo, "12210"), _meta(demo, "13995")
    assert old["discontinued"] is True and old["last_year"] == 2021 and old["successor_table_id"] == "13995"
    assert any("Avslutta serie" in n and "2021" in n and "13995" in n for n in old["notes"])
    assert new["discontinued"] is False and new["first_year"] == 2022 and new["last_year"] is None
    assert not any("Avslutta serie" in n for n in new["notes"])
    assert sorted(set(_table(demo, "12210")["Tid"])) == [str(y) for y in range(2015, 2022)]
    assert sorted(set(_table(demo, "13995")["Tid"])) == [str(y) for y in range(2022, 2025)]
    for iid in ("sos_mottakere", "sos_langtid"):
        for year in (2021, 2022):
            table_id, code = _source(iid, year)
            assert table_id == ("12210" if year == 2021 else "13995")
            df = _table(demo, table_id)
            c = df[
                (df["KOKkommuneregion0000"] == "EAK")
                & (df["Tid"] == str(year))
                & (df["ContentsCode"] == code)
            ]
            assert len(c) == 1 and c["value_revised"].iloc[0] > 0, (iid, year)


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
    rows = df[df["Region"] == code]
    for year in YEARS:
        cells = rows[rows["Tid"] == str(year)]
        assert len(cells) == 2 * 106
        if year in valid_years:
            assert cells["status_revised"].isna().all() and cells["value_revised"].sum() > 0, (code, year)
        else:
            assert (cells["status_revised"] == ".").all() and cells["value_revised"].isna().all(), (
                code,
                year,
            )


def test_dot_matches_reference_for_every_code(demo):
    from pipeline.reference import seeds

    munis = seeds.municipalities().set_index("municipality_code")
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
    """Published ratio cells equal numerator / denominator × scale of the catalogue's base cells, where the
    bases are read exactly as the catalogue says (population: the sum of single years and both sexes)."""
    cat = catalogue.load_catalogue()
    specs = catalogue.tables()
    tables = {t: _table(demo, t) for t in specs}
    cache = {}

    def cells(iid, vintage):
        if iid not in cache:
            parts = []
            for row in cat[(cat["indicator_id"] == iid) & (cat["table_id"] != "")].to_dict("records"):
                df, spec = tables[row["table_id"]], specs[row["table_id"]]
                mask = df["ContentsCode"] == row["contents_code"]
                filters = catalogue.cell_filters(row)
                for dim_id, codes in filters.items():
                    mask &= df[dim_id].isin(codes)
                sub = df[mask].rename(columns={spec.region_dimension: "region"})
                n = int(np.prod([len(c) for c in filters.values()] or [1]))
                summed = catalogue.table_layouts()[row["table_id"]].summed_dimensions  # 07459: Kjonn
                n *= int(np.prod([len(d[1]) for d in spec.dimensions if d[0] in summed] or [1]))
                parts.append(
                    sub.groupby(["region", "Tid"])[["value_unrevised", "value_revised"]].sum(min_count=n)
                )
            cache[iid] = pd.concat(parts)
        return cache[iid][f"value_{vintage}"]

    checked: dict[str, int] = {}
    ratios = cat[(cat["numerator_id"] != "") & (cat["table_id"] != "")]
    for row in ratios.drop_duplicates("indicator_id").to_dict("records"):
        for vintage in ("unrevised", "revised"):
            ratio = cells(row["indicator_id"], vintage)
            num = cells(row["numerator_id"], vintage)
            den = cells(row["denominator_id"], vintage)
            joined = pd.concat({"r": ratio, "n": num, "d": den}, axis=1).dropna()
            joined = joined[joined["d"] != 0]
            expected = joined["n"] / joined["d"] * row["scale"]
            tol = 0.5 * 10 ** -catalogue.decimals_for(row["unit"]) + 1e-9
            assert (abs(joined["r"] - expected) <= tol).all(), row["indicator_id"]
            checked[row["indicator_id"]] = checked.get(row["indicator_id"], 0) + len(joined)
    # Every published ratio, on most of its region-years (both vintages); derived ratios are not in the demo.
    assert len(checked) == ratios["indicator_id"].nunique() >= 10
    assert min(checked.values()) > 5000, checked
    # Population denominators are 07459 sums over single years × sexes: those ratios were checked too.
    over_population = set(ratios.loc[ratios["denominator_id"].str.startswith("pop_"), "indicator_id"])
    assert {"bh_andel_1_2", "bv_andel_tiltak", "bv_nde_per_innb_0_22"} <= over_population <= set(checked)


def test_realistic_levels(demo):
    table_id, code = _source("gs_nde_per_innb_6_15", 2024)
    df = _table(demo, table_id)
    eak = df[(df["KOKkommuneregion0000"] == "EAK") & (df["ContentsCode"] == code)]
    assert eak["value_revised"].between(90_000, 160_000).all()
    bh = _table(demo, "13502")
    share = bh[(bh["KOKkommuneregion0000"] == "EAK") & (bh["ContentsCode"] == "KOSandel120000")]
    assert share["value_revised"].between(85, 95).all()
    # IPLOS: hours a week per home-service user, both age groups together, from the catalogue's 12292 codes.
    code_of = {key: _source(iid, 2024) for key, iid in IPLOS_INDICATORS.items()}
    assert {t for t, _ in code_of.values() if t != "07459"} == {"12292"}
    iplos = _table(demo, "12292")
    eak = iplos[iplos["KOKkommuneregion0000"] == "EAK"].pivot_table(
        index="Tid", columns="ContentsCode", values="value_revised"
    )
    hours = sum(eak[code_of[(g, "hours")][1]] for g in IPLOS_AGE_GROUPS)
    users = sum(eak[code_of[(g, "users")][1]] for g in IPLOS_AGE_GROUPS)
    anomalies = json.loads((demo.out_dir / "anomalies.json").read_text(encoding="utf-8"))
    # Oslo's planted 190 hours a week per user drags the national figure up that year, as it would at SSB.
    polluted = next(str(a["year"]) for a in anomalies if a["kind"] == "implausible_hours")
    per_user = hours / users
    assert per_user.drop(polluted).between(5, 12).all() and per_user[polluted] > 12
    # Internal identities hold for every municipality cell that has no planted anomaly.
    planted = {(a["region_code"], str(a["year"])) for a in anomalies}
    wide = iplos.pivot_table(
        index=["KOKkommuneregion0000", "Tid"], columns="ContentsCode", values="value_revised"
    )
    wide = wide[[(r, t) not in planted for r, t in wide.index]]
    checked = 0
    for g in IPLOS_AGE_GROUPS:
        end, during = code_of[(g, "users_year_end")][1], code_of[(g, "users_year")][1]
        pair = wide[[end, during]].dropna()
        assert (pair[end] <= pair[during]).all(), g
        checked += len(pair)
    assert checked > 5000


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


def _cell(df, spec, a, contents=None):
    mask = (df[spec.region_dimension] == a["region_code"]) & (df["Tid"] == str(a["year"]))
    mask &= df["ContentsCode"] == (contents or a["contents_code"])
    for dim_id, code in a["dimensions"].items():
        mask &= df[dim_id] == code
    sub = df[mask]
    assert len(sub) == 1, a["anomaly_id"]
    return sub.iloc[0]


def test_anomalies_name_catalogue_cells(demo):
    """Each anomaly's table and code is a catalogue row serving its year; its dimensions are that row's filters."""
    cat = catalogue.fetched_rows()
    specs = catalogue.tables()
    assert len(demo.anomalies) == 10
    for a in demo.anomalies:
        rows = cat[(cat["table_id"] == a["table_id"]) & (cat["contents_code"] == a["contents_code"])]
        assert not rows.empty, a["anomaly_id"]
        assert specs[a["table_id"]].serves(a["year"]), a["anomaly_id"]
        spec_dims = set(specs[a["table_id"]].filter_dimensions.values())
        assert set(a["dimensions"]) == spec_dims, a["anomaly_id"]
    iplos = [
        a
        for a in demo.anomalies
        if a["kind"] in ("iplos_zero_hours", "implausible_hours", "year_end_exceeds_year")
    ]
    assert {a["table_id"] for a in iplos} == {"12292"} and all(a["dimensions"] == {} for a in iplos)
    by_kind = {a["kind"]: a for a in demo.anomalies}
    assert (by_kind["iplos_zero_hours"]["table_id"], by_kind["iplos_zero_hours"]["contents_code"]) == _source(
        "po_timer_uke_67_pluss", by_kind["iplos_zero_hours"]["year"]
    )
    assert (
        by_kind["implausible_hours"]["table_id"],
        by_kind["implausible_hours"]["contents_code"],
    ) == _source("po_timer_uke_0_66", by_kind["implausible_hours"]["year"])


def test_planted_anomalies_are_in_the_data(demo):
    from pipeline.reference import seeds

    anomalies = {a["kind"]: a for a in demo.anomalies}
    assert len(anomalies) == 10
    asss = set(seeds.asss_members(2022))
    assert any(seeds.municipality_id(a["region_code"]) in asss for a in demo.anomalies)
    specs = catalogue.tables()
    t = {k: _table(demo, k) for k in {a["table_id"] for a in demo.anomalies}}

    def cell(a, iid=None):
        code = _source(iid, a["year"])[1] if iid else None
        return _cell(t[a["table_id"]], specs[a["table_id"]], a, code)

    a = anomalies["iplos_zero_hours"]
    assert cell(a)["value_revised"] == 0
    zero_users = cell(a, "po_brukere_null_timer_67_pluss")["value_revised"]
    assert zero_users == cell(a, "po_brukere_hjemmetj_67_pluss")["value_revised"] > 0
    # The other age group is untouched.
    assert cell(a, "po_timer_uke_0_66")["value_revised"] != 0

    a = anomalies["implausible_hours"]
    assert cell(a)["value_revised"] / cell(a, "po_brukere_hjemmetj_0_66")["value_revised"] > 168

    a = anomalies["year_end_exceeds_year"]
    assert cell(a)["value_revised"] > cell(a, "po_brukere_aar_67_pluss")["value_revised"]

    a = anomalies["copied_previous_year"]
    df = t[a["table_id"]].sort_values("ContentsCode")
    this = df[(df["KOKkommuneregion0000"] == a["region_code"]) & (df["Tid"] == str(a["year"]))]
    prev = df[(df["KOKkommuneregion0000"] == a["region_code"]) & (df["Tid"] == str(a["year"] - 1))]
    assert this["ContentsCode"].tolist() == prev["ContentsCode"].tolist()
    assert this["value_revised"].fillna(-1).tolist() == prev["value_revised"].fillna(-1).tolist()
    assert this["status_revised"].fillna("").tolist() == prev["status_revised"].fillna("").tolist()
    assert this["value_revised"].notna().sum() >= 10

    a = anomalies["yoy_jump"]
    assert (a["table_id"], a["contents_code"]) == _source("helse_lege_aarsverk", a["year"])
    df = t[a["table_id"]]
    series = df[(df["KOKkommuneregion0000"] == a["region_code"]) & (df["ContentsCode"] == a["contents_code"])]
    series = series.set_index("Tid")["value_revised"]
    assert series[str(a["year"])] / series[str(a["year"] - 1)] > 2.5

    a = anomalies["large_revision"]
    c = cell(a)
    assert c["value_revised"] / c["value_unrevised"] > 1.5

    a = anomalies["status_in_june"]
    assert (a["table_id"], a["contents_code"]) == _source("gs_grunnskolepoeng", a["year"])
    c = cell(a)
    assert c["status_revised"] == ".." and pd.isna(c["status_unrevised"]) and c["value_unrevised"] > 0

    a = anomalies["net_exceeds_gross"]
    gross = _cell(t["12367"], specs["12367"], {**a, "dimensions": {**a["dimensions"], "KOKart0000": "AGD10"}})
    assert cell(a)["value_revised"] > gross["value_revised"]

    a = anomalies["total_not_sum"]
    parts = sum(
        _cell(t["12367"], specs["12367"], {**a, "dimensions": {**a["dimensions"], "KOKfunksjon0000": f}})[
            "value_revised"
        ]
        for f in ("244", "251", "252")
    )
    assert abs(cell(a)["value_revised"] - parts) > 1000

    a = anomalies["zero_denominator"]
    assert (a["table_id"], a["contents_code"]) == _source("gs_elever", a["year"])
    assert cell(a)["value_revised"] == 0
    # Every published ratio over pupils is missing ('..') there, never a division by zero.
    cat = catalogue.fetched_rows()
    over_pupils = cat[cat["denominator_id"] == "gs_elever"]
    assert not over_pupils.empty
    for r in over_pupils.to_dict("records"):
        df = t.get(r["table_id"])
        df = _table(demo, r["table_id"]) if df is None else df
        ratio = _cell(df, specs[r["table_id"]], {**a, "dimensions": {}}, r["contents_code"])
        assert pd.isna(ratio["value_revised"]) and ratio["status_revised"] == "..", r["indicator_id"]


def test_aggregates_are_sums_of_members(demo):
    df = _table(demo, "07459")
    tot = df[df["Tid"] == "2021"].groupby("Region")["value_revised"].sum()
    munis = tot[~tot.index.str.startswith("E")].sum()
    assert tot["EAK"] == munis
    assert tot["EAKUO"] == munis - tot["0301"]


def test_fewer_than_four_years_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="the demo needs at least four years, got 2022-2024"):
        generate(tmp_path / "short", first_year=2022, last_year=2024)
    assert not (tmp_path / "short").exists()


def test_regions_subset_and_bad_region(tmp_path):
    g = generate(tmp_path / "sub", regions=["EAK", "0301", "0219"])
    df = pd.read_parquet(g.tables["07459"])
    assert set(df["Region"]) == {"EAK", "0301", "0219"}
    with pytest.raises(ValueError, match="unknown region codes"):
        generate(tmp_path / "bad", regions=["9999"])
