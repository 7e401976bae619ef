"""The indicator catalogue and table seeds: evidence on every row, validation errors name the row, tables()
gives SSB-shaped specs, and the SQL reading of filter codes agrees with the Python one."""

import os
import shutil

import duckdb
import pandas as pd
import pytest

from pipeline import config
from pipeline.reference import catalogue


def test_catalogue_loads_and_covers_every_sector():
    df = catalogue.load_catalogue()
    assert list(df.columns) == catalogue.COLUMNS
    assert set(df["sector"]) == set(catalogue.SECTORS)
    assert catalogue.indicators()["indicator_id"].is_unique
    by_id = catalogue.indicators().set_index("indicator_id")
    row = by_id.loc["bh_andel_1_2"]
    assert (row["table_id"], row["contents_code"], row["status"]) == ("13502", "KOSandel120000", "confirmed")
    per_pupil = by_id.loc["gs_nde_per_elev"]
    assert (per_pupil["numerator_id"], per_pupil["denominator_id"], per_pupil["scale"]) == (
        "nde_grunnskole",
        "gs_elever",
        1000.0,
    )
    assert per_pupil["status"] == "derived" and per_pupil["table_id"] == ""
    acc = df[df["table_id"] == "12367"]
    assert (acc["status"] == "confirmed").all() and set(acc["art"]) == {"AGD2", "AGD10"}


def test_every_row_carries_evidence():
    df = catalogue.load_catalogue()
    assert set(df["status"]) <= set(catalogue.STATUSES)
    assert (df["source"].str.len() > 10).all()
    # Contradicted by ssb-tables.md: none of these may come back.
    assert not set(df["table_id"]) & {"12235", "13533", "12003"}
    assert "KOSgruppestr10000" not in set(df["contents_code"])


def test_facts_from_ssb_tables_md():
    """The corrections issue 9 names, as the catalogue now states them."""
    by_id = catalogue.indicators().set_index("indicator_id")
    assert by_id.loc["gs_gruppestorrelse", "contents_code"] == "KOSgrstr20000"
    assert by_id.loc["gs_gruppestorrelse", "table_id"] == "12255"
    # Barnevern cost per child: brutto f251/f252, SSB's own figures.
    assert by_id.loc["bv_kost_per_barn_plassert", "contents_code"] == "KOSbdu252bvbarnt0000"
    assert by_id.loc["bv_kost_per_barn_plassert", "label_nb"].startswith("Brutto")
    assert by_id.loc["bv_nde_per_innb_0_22", "denominator_id"] == "pop_0_22"
    # The real 12209 code of the real March 2026 response.
    assert by_id.loc["po_dekning_hjemmetj_80", "contents_code"] == "KOShjtj80aarover0001"
    # ASSS's own figures are derived, never fetched under invented codes.
    for iid in ("po_nde_per_innb_0_66", "po_nde_per_innb_67_pluss", "gs_nde_per_elev"):
        assert by_id.loc[iid, "status"] == "derived"
        assert by_id.loc[iid, "note"].startswith("derived:")
    layouts = catalogue.table_layouts()
    assert layouts["07459"].dimensions == (
        ("Region", None),
        ("Kjonn", None),
        ("Alder", "alder"),
        ("ContentsCode", None),
        ("Tid", None),
    )
    assert layouts["07459"].summed_dimensions == ("Kjonn",)
    assert (layouts["12210"].last_year, layouts["12210"].successor_table_id) == (2021, "13995")


def test_a_replaced_table_hands_the_indicator_on_with_a_break():
    df = catalogue.load_catalogue()
    rows = df[df["indicator_id"] == "sos_mottakere"].sort_values("first_year", na_position="first")
    assert list(rows["table_id"]) == ["12210", "13995"]
    assert list(rows["last_year"].astype("object")) == [2021, pd.NA]
    assert rows.iloc[1]["first_year"] == 2022 and "tilfeller" in rows.iloc[1]["series_break"]
    assert rows.iloc[0]["status"] == "confirmed" and rows.iloc[1]["status"] == "unverified"


def test_age_ranges_expand_to_single_years():
    assert catalogue.split_codes("080..105+") == [f"{a:03d}" for a in range(80, 105)] + ["105+"]
    assert catalogue.split_codes("001..002;005") == ["001", "002", "005"]
    assert len(catalogue.split_codes("000..105+")) == 106
    with pytest.raises(catalogue.CatalogueError, match="bad code range"):
        catalogue.split_codes("005..001")
    with pytest.raises(catalogue.CatalogueError, match="bad code range"):
        catalogue.split_codes("a..b")


def test_dbt_macro_reads_filters_as_python_does():
    """The dbt macro catalogue_codes (rendered here as plain SQL) gives the same lists as split_codes."""
    macro = (config.DBT_PROJECT_DIR / "macros" / "catalogue_codes.sql").read_text(encoding="utf-8")
    body = macro.split("{% macro catalogue_codes(column) -%}", 1)[1].split("{%- endmacro %}", 1)[0]
    df = catalogue.load_catalogue()
    values = sorted({v for col in ("alder", "funksjon") for v in df[col] if v})
    con = duckdb.connect()
    con.execute("create table t (v varchar)")
    con.executemany("insert into t values (?)", [[v] for v in values])
    sql = body.replace("{{ column }}", "v")
    got = dict(con.execute(f"select v, {sql} from t").fetchall())
    for v in values:
        assert sorted(got[v]) == sorted(set(catalogue.split_codes(v))), v


def test_indicators_filters_by_sector():
    rows = catalogue.indicators("pleie_omsorg_67_pluss")
    assert len(rows) > 5 and set(rows["sector"]) == {"pleie_omsorg_67_pluss"}
    with pytest.raises(catalogue.CatalogueError, match="unknown sector"):
        catalogue.indicators("skole")


def test_tables_are_read_again_when_the_catalogue_changes_and_callers_cannot_change_the_cache(tmp_path):
    path = tmp_path / catalogue.CATALOGUE_FILE
    shutil.copy(config.SEEDS_DIR / catalogue.CATALOGUE_FILE, path)
    first = catalogue.tables(path)
    first["13502"].contents.clear()  # a caller's copy, not the cache
    assert catalogue.tables(path)["13502"].contents

    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = df[df["table_id"] != "13995"]
    df.to_csv(path, index=False)
    stat = path.stat()
    os.utime(
        path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000)
    )  # a later edit, whatever the clock
    assert "13995" in first and "13995" not in catalogue.tables(path)


def test_tables_follow_ssb_dimension_order():
    specs = catalogue.tables()
    acc = specs["12367"]
    assert acc.dimension_ids == [
        "KOKkommuneregion0000",
        "KOKregnskapsomfa0000",
        "KOKfunksjon0000",
        "KOKart0000",
        "ContentsCode",
        "Tid",
    ]
    funcs = acc.dimensions[2][1]
    assert {"202", "213", "215", "222", "223", "FGK13"} <= set(funcs)
    assert funcs.index("202") < funcs.index("FGK7") < funcs.index("FGK13")
    assert acc.contents == [("KOSbelop0000", "Beløp (1000 kr)", "1000 kr", 0)]
    bv = specs["12275"]
    assert bv.dimension_ids[1:3] == ["KOKalder0000", "KOKbvfunksjon0000"]
    pop = specs["07459"]
    assert pop.region_dimension == "Region"
    assert pop.dimensions[1] == ("Kjonn", ["1", "2"], ["Menn", "Kvinner"])
    assert pop.dimensions[2][1][0] == "000" and pop.dimensions[2][1][-1] == "105+"
    assert specs["12191"].dimension_ids == ["ContentsCode", "KOKkommuneregion0000", "Tid"]
    assert "KOSandel120000" in [c[0] for c in specs["13502"].contents]
    assert "12210" in specs and specs["12210"].serves(2021) and not specs["12210"].serves(2022)


def _broken(tmp_path, edit):
    path = tmp_path / "indicator_catalogue.csv"
    shutil.copy(config.SEEDS_DIR / "indicator_catalogue.csv", path)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(df)
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("iid", "column", "value", "message"),
    [
        ("gs_nde_per_elev", "numerator_id", "nope", "gs_nde_per_elev.*unknown indicator 'nope'"),
        ("gs_gruppestorrelse", "polarity", "up", "gs_gruppestorrelse.*bad polarity"),
        ("bh_andel_1_2", "denominator_id", "bh_andel_3_5", "bh_andel_1_2.*not a base row"),
        ("pop_1_2", "kind", "level", "pop_1_2.*bad kind"),
        ("pop_1_2", "funksjon", "202", "pop_1_2.*no dimension for the funksjon filter"),
        ("gs_andel_spes", "scale", "", "gs_andel_spes.*numeric scale"),
        ("gs_grunnskolepoeng", "status", "verified", "gs_grunnskolepoeng.*status must be one of"),
        ("gs_grunnskolepoeng", "source", "", "gs_grunnskolepoeng.*source is empty"),
        ("gs_grunnskolepoeng", "status", "confirmed_live", "gs_grunnskolepoeng.*confirmed_on"),
        ("gs_grunnskolepoeng", "table_id", "12235", "gs_grunnskolepoeng.*no row in ssb_tables.csv"),
        ("gs_nde_per_elev", "table_id", "12255", "gs_nde_per_elev.*derived row is computed"),
        ("gs_elever", "status", "confirmed", "gs_elever.*table 11975 is unverified"),
        ("pop_80_pluss", "alder", "105..080", "pop_80_pluss.*bad code range"),
        ("pop_80_pluss", "alder", "000..127", "pop_80_pluss.*alder lists 128 codes; at most 127"),
        ("gs_grunnskolepoeng", "series_break", "x", "gs_grunnskolepoeng.*series_break needs the first_year"),
    ],
)
def test_validation_names_the_row(tmp_path, iid, column, value, message):
    def edit(df):
        df.loc[df.indicator_id == iid, column] = value

    path = _broken(tmp_path, edit)
    with pytest.raises(catalogue.CatalogueError, match=message):
        catalogue.load_catalogue(path)


def test_overlapping_sources_are_rejected(tmp_path):
    def overlap(df):
        df.loc[(df.indicator_id == "sos_mottakere") & (df.table_id == "13995"), "first_year"] = "2021"

    with pytest.raises(catalogue.CatalogueError, match="sos_mottakere.*overlap"):
        catalogue.load_catalogue(_broken(tmp_path, overlap))


def test_a_discontinued_table_needs_an_end_year(tmp_path):
    def open_ended(df):
        df.loc[(df.indicator_id == "sos_mottakere") & (df.table_id == "12210"), "last_year"] = ""

    with pytest.raises(catalogue.CatalogueError, match="table 12210 ends in 2021"):
        catalogue.load_catalogue(_broken(tmp_path, open_ended))


def test_attributes_must_agree_across_sources(tmp_path):
    def relabel(df):
        df.loc[(df.indicator_id == "sos_mottakere") & (df.table_id == "13995"), "unit"] = "tilfeller"

    with pytest.raises(catalogue.CatalogueError, match="sos_mottakere.*unit differs"):
        catalogue.load_catalogue(_broken(tmp_path, relabel))
