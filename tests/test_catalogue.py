"""The indicator catalogue seed: validation errors name the row; tables() gives SSB-shaped specs."""

import shutil

import pandas as pd
import pytest

from pipeline import catalogue, config


def test_catalogue_loads_and_covers_every_sector():
    df = catalogue.load_catalogue()
    assert list(df.columns) == catalogue.COLUMNS
    assert set(df["sector"]) == set(catalogue.SECTORS)
    assert df["indicator_id"].is_unique
    row = df.set_index("indicator_id").loc["bh_andel_1_2"]
    assert (row["table_id"], row["contents_code"], bool(row["verified"])) == ("13502", "KOSandel120000", True)
    per_pupil = df.set_index("indicator_id").loc["gs_nde_per_elev"]
    assert (per_pupil["numerator_id"], per_pupil["denominator_id"], per_pupil["scale"]) == (
        "nde_grunnskole",
        "gs_elever",
        1000.0,
    )
    acc = df[df["table_id"] == "12367"]
    assert acc["verified"].all() and set(acc["art"]) == {"AGD2", "AGD10"}


def test_indicators_filters_by_sector():
    rows = catalogue.indicators("pleie_omsorg_67_pluss")
    assert len(rows) > 5 and set(rows["sector"]) == {"pleie_omsorg_67_pluss"}
    with pytest.raises(catalogue.CatalogueError, match="unknown sector"):
        catalogue.indicators("skole")


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
    assert specs["07459"].region_dimension == "Region"
    assert "KOSandel120000" in [c[0] for c in specs["13502"].contents]


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
    ],
)
def test_validation_names_the_row(tmp_path, iid, column, value, message):
    def edit(df):
        df.loc[df.indicator_id == iid, column] = value

    path = _broken(tmp_path, edit)
    with pytest.raises(catalogue.CatalogueError, match=message):
        catalogue.load_catalogue(path)


def test_duplicate_id_is_rejected(tmp_path):
    def dup(df):
        df.loc[df.indicator_id == "pop_0_17", "indicator_id"] = "pop_total"

    with pytest.raises(catalogue.CatalogueError, match="duplicate indicator_id"):
        catalogue.load_catalogue(_broken(tmp_path, dup))
