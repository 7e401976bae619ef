"""Tests for pipeline.raw.jsonstat: real SSB responses, pyjstat's sample documents, and malformed documents.

Decision on documents without ``version``: pyjstat reads them as JSON-stat 1.x (``check_version_2`` is False,
so it takes ``id``/``size`` from inside ``dimension``; us-labor-ds.json is such a document). SSB always
sends ``version: "2.0"`` with ``id``/``size`` at the top level, so ``decode`` refuses any document without
version "2.0" instead of guessing the layout (``test_dataset_without_version_is_rejected_as_pre_2_0``).
"""

from __future__ import annotations

import copy
import csv
import itertools
import json
import math
from collections import Counter

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest

from pipeline.raw.jsonstat import Dataset, JsonStatError, decode

KS = "KSAnalyse__ks-json-stat.java"
NFG = "NFG-J__is114-tema05"


# --- helpers -----------------------------------------------------------------------------------------


def _raw(path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _frame(ds: Dataset, naming: str = "id") -> pd.DataFrame:
    """The cells as a plain DataFrame: dimension codes (naming='id') or labels (naming='label')."""
    data = {}
    for dim in ds.dimensions:
        col = ds.cells[dim.id].combine_chunks()
        values = dim.codes if naming == "id" else dim.labels
        name = dim.id if naming == "id" else dim.label
        data[name] = np.asarray(values, dtype=object)[col.indices.to_numpy()]
    data["value"] = ds.cells["value"].to_numpy()
    return pd.DataFrame(data)


def _pyjstat_frame(doc: dict, naming: str) -> pd.DataFrame:
    from pyjstat import pyjstat

    df = pyjstat.Dataset.read(json.dumps(doc)).write("dataframe", naming=naming)
    return df.astype({c: object for c in df.columns if c != "value"}).astype({"value": "float64"})


def _small(**overrides) -> dict:
    """A valid 2×3 JSON-stat 2.0 dataset shaped like an SSB response; overrides replace top-level keys."""
    doc = {
        "class": "dataset",
        "version": "2.0",
        "label": "99999: Testtabell, etter region og år",
        "source": "Statistisk sentralbyrå",
        "updated": "2024-06-17T06:00:00Z",
        "id": ["Region", "Tid"],
        "size": [2, 3],
        "dimension": {
            "Region": {
                "label": "region",
                "category": {"index": {"0301": 0, "4601": 1}, "label": {"0301": "Oslo", "4601": "Bergen"}},
            },
            "Tid": {"label": "år", "category": {"index": ["2021", "2022", "2023"]}},
        },
        "role": {"time": ["Tid"], "geo": ["Region"]},
        "extension": {"px": {"tableid": "99999", "decimals": 0}},
        "value": [1, 2.5, None, 4, 5, 6],
        "status": {"2": ":"},
    }
    doc.update(overrides)
    return doc


def _rows(ds: Dataset) -> list[tuple]:
    return list(zip(*(ds.cells[c].to_pylist() for c in ds.cells.column_names), strict=True))


# --- pyjstat's sample documents (realdata) ---------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("naming", ["id", "label"])
def test_cantabria_equals_pyjstat(shared_data, naming):
    doc = _raw(shared_data / "jsonstat-samples" / "cantabria.json")
    ours = _frame(decode(orjson.dumps(doc)), naming)
    theirs = _pyjstat_frame(doc, naming)
    assert len(ours) == 5400
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)


@pytest.mark.realdata
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("naming", ["id", "label"])
def test_galicia_2_0_equals_pyjstat(shared_data, naming):
    path = shared_data / "jsonstat-samples" / "galicia-2.0.json"
    doc = _raw(path)
    ours = decode(path.read_bytes())
    # galicia-2.0's 'concept' dimension omits category.index (allowed for a single category). pyjstat 2.4
    # crashes on that under pandas 3 (KeyError 0), so pyjstat gets the same document with the index spelled
    # out; decoding both forms must give the same cells.
    assert "index" not in doc["dimension"]["concept"]["category"]
    explicit = copy.deepcopy(doc)
    explicit["dimension"]["concept"]["category"]["index"] = ["pop"]
    assert _rows(decode(explicit)) == _rows(ours)

    theirs = _pyjstat_frame(explicit, naming)
    assert len(theirs) == 3960
    pd.testing.assert_frame_equal(_frame(ours, naming), theirs, check_dtype=False)
    assert ours.dimension("concept").codes == ["pop"]
    assert ours.dimension("concept").units == {"pop": {"label": "persons", "decimals": 0}}
    assert ours.role == {"time": ["time"], "geo": ["residence", "birth"], "metric": ["concept"]}


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("collection.json", "class 'collection' is not supported"),
        ("dimension.json", "class 'dimension' is not supported"),
        ("galicia.json", "JSON-stat 1.x bundle"),
    ],
)
def test_other_classes_and_1x_bundle_are_rejected(shared_data, name, message):
    with pytest.raises(JsonStatError, match=message):
        decode((shared_data / "jsonstat-samples" / name).read_bytes())


@pytest.mark.realdata
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_dataset_without_version_is_rejected_as_pre_2_0(shared_data):
    """us-labor-ds.json has class 'dataset' but no version and keeps id/size inside 'dimension'."""
    doc = _raw(shared_data / "jsonstat-samples" / "us-labor-ds.json")
    assert "version" not in doc and "id" not in doc and doc["dimension"]["id"] == ["year", "county", "labor"]
    with pytest.raises(JsonStatError, match=r"Labor Force Data.*no 'version'.*pre-2\.0"):
        decode(doc)
    # pyjstat reads it through its 1.x path (with the single-category 'year' index spelled out, see above):
    # proof that the document is a readable 1.x dataset that we refuse on purpose, not a broken one.
    doc["dimension"]["year"]["category"]["index"] = ["2012"]
    assert len(_pyjstat_frame(doc, "id")) == 1 * 3220 * 4


# --- real SSB responses (realdata) ------------------------------------------------------------------

SSB_FILES = [
    (f"{KS}/resultatTest.json", f"{KS}/derived_resultatTest_long.csv", "12367", 1250),
    (f"{KS}/resultatTest3.json", f"{KS}/derived_resultatTest3_long.csv", "12191", 135),
    (f"{KS}/resultatTest2.json", f"{KS}/derived_resultatTest2_long.csv", "08655", 75),
]


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "long_csv", "table_id", "cells"), SSB_FILES)
def test_ssb_response_matches_raw_json_and_long_csv(snapshots, name, long_csv, table_id, cells):
    path = snapshots / name
    raw = _raw(path)
    ds = decode(path.read_bytes())

    assert ds.table_id == table_id
    assert ds.n_cells == cells == math.prod(raw["size"]) == len(raw["value"])
    assert ds.status_counts() == dict(Counter(raw["status"].values()))
    assert [v for v in ds.cells["value"].to_pylist() if v is not None] == [
        v for v in raw["value"] if v is not None
    ]
    assert ds.updated == raw["updated"] and ds.label == raw["label"]
    assert ds.role == {"time": ["Tid"], "metric": ["ContentsCode"]}
    assert ds.dimension("Tid").role == "time" and ds.dimension("ContentsCode").role == "metric"

    # Every cell, in order, against the independent row-major flattening beside the response.
    with open(snapshots / long_csv, encoding="utf-8", newline="") as f:
        expected = [
            (
                *(row[d] for d in raw["id"]),
                float(row["value"]) if row["value"] else None,
                row["status"] or None,
            )
            for row in csv.DictReader(f)
        ]
    assert _rows(ds) == expected


@pytest.mark.realdata
def test_ssb_status_cells_have_null_values(snapshots):
    for name, *_ in SSB_FILES:
        cells = decode((snapshots / name).read_bytes()).cells
        with_status = cells.filter(cells["status"].is_valid())
        assert with_status.num_rows > 0
        assert with_status["value"].null_count == with_status.num_rows, name


@pytest.mark.realdata
def test_12367_known_cells_and_units(snapshots):
    ds = decode((snapshots / KS / "resultatTest.json").read_bytes())
    df = _frame(ds)
    key = ["KOKkommuneregion0000", "KOKregnskapsomfa0000", "KOKfunksjon0000", "KOKart0000", "Tid"]
    cell = df.set_index(key)["value"]
    assert cell[("EAK", "A", "100", "AGD4", "2015")] == 1943974
    assert cell[("EAK", "A", "100", "AGD4", "2020")] == 1793513
    assert ds.status_counts() == {".": 400, ":": 85}
    assert ds.dimension("ContentsCode").units == {"KOSbelop0000": {"base": "1000 kr", "decimals": 0}}
    assert ds.extension == {"px": {"infofile": "al", "tableid": "12367", "decimals": 0}}
    labels = ds.labels().to_pylist()
    assert {"dimension_id": "KOKkommuneregion0000", "code": "3001", "label": "Halden"} in labels
    assert len(labels) == 5 + 2 + 5 + 5 + 1 + 5


@pytest.mark.realdata
def test_12191_statuses_and_drammen(snapshots):
    ds = decode((snapshots / KS / "resultatTest3.json").read_bytes())
    assert ds.status_counts() == {".": 90, ":": 1, "..": 1}
    region = ds.dimension("KOKkommuneregion0000")
    assert dict(zip(region.codes, region.labels, strict=True))["3005"] == "Drammen"
    # Flat index 53 carries ':' (suppressed) in the raw response: ContentsCode 1, region 8 (3039), Tid 2020.
    row = ds.cells.slice(53, 1).to_pylist()[0]
    assert row == {
        "ContentsCode": "KOShjemmebesokjo0000",
        "KOKkommuneregion0000": "3039",
        "Tid": "2020",
        "value": None,
        "status": ":",
    }


@pytest.mark.realdata
def test_13502_matches_derived_long_csv(snapshots):
    path = snapshots / NFG / "derived_13502_KOSandel120000.jsonstat2.json"
    raw = _raw(path)
    ds = decode(path.read_bytes())
    with open(snapshots / NFG / "derived_13502_KOSandel120000_long.csv", encoding="utf-8", newline="") as f:
        long = list(csv.DictReader(f))

    assert ds.n_cells == len(long) == 723 * 1 * 9
    assert (
        ds.status_counts() == dict(Counter(r["status"] for r in long if r["status"])) == {".": 2952, "..": 1}
    )
    assert ds.cells["value"].null_count == sum(1 for r in long if not r["value"]) == len(raw["status"])
    got = list(
        zip(
            ds.cells["KOKkommuneregion0000"].to_pylist(),
            ds.cells["Tid"].to_pylist(),
            ds.cells["value"].to_pylist(),
            ds.cells["status"].to_pylist(),
            strict=True,
        )
    )
    expected = [
        (r["region_code"], r["year"], float(r["value"]) if r["value"] else None, r["status"] or None)
        for r in long
    ]
    assert got == expected

    cell = _frame(ds).set_index(["KOKkommuneregion0000", "Tid"])["value"]
    assert cell[("0219", "2016")] == 86.3  # Bærum (-2019), as in the long CSV
    assert math.isnan(cell[("0219", "2020")])  # the old code after the 2020 merger: '.'
    dim = ds.dimension("KOKkommuneregion0000")
    region = dict(zip(dim.codes, dim.labels, strict=True))
    assert region["0219"] == "Bærum (-2019)" and region["3024"] == "Bærum"
    assert ds.updated == "2024-06-17T06:00:00Z"


# --- synthetic documents: forms of the format ------------------------------------------------------


def test_small_dataset_cells_schema_and_labels():
    ds = decode(_small())
    assert ds.cells.schema == pa.schema(
        [
            ("Region", pa.dictionary(pa.int32(), pa.string())),
            ("Tid", pa.dictionary(pa.int32(), pa.string())),
            ("value", pa.float64()),
            ("status", pa.string()),
        ]
    )
    assert _rows(ds) == [
        ("0301", "2021", 1.0, None),
        ("0301", "2022", 2.5, None),
        ("0301", "2023", None, ":"),
        ("4601", "2021", 4.0, None),
        ("4601", "2022", 5.0, None),
        ("4601", "2023", 6.0, None),
    ]
    assert ds.labels().to_pylist() == [
        {"dimension_id": "Region", "code": "0301", "label": "Oslo"},
        {"dimension_id": "Region", "code": "4601", "label": "Bergen"},
        {"dimension_id": "Tid", "code": "2021", "label": "2021"},
        {"dimension_id": "Tid", "code": "2022", "label": "2022"},
        {"dimension_id": "Tid", "code": "2023", "label": "2023"},
    ]
    assert ds.dimension("Region").role == "geo" and ds.dimension("Region").label == "region"
    assert (ds.table_id, ds.source, ds.n_cells) == ("99999", "Statistisk sentralbyrå", 6)


def test_bytes_str_and_dict_decode_alike():
    doc = _small()
    expected = _rows(decode(doc))
    assert _rows(decode(orjson.dumps(doc))) == expected
    assert _rows(decode(json.dumps(doc))) == expected
    assert _rows(decode(bytearray(orjson.dumps(doc)))) == expected


def test_dimension_columns_follow_row_major_order():
    """An uneven 3×1×4×2 cube against itertools.product, the definition of row-major over id."""
    sizes = [3, 1, 4, 2]
    ids = ["A", "B", "C", "D"]
    codes = {d: [f"{d}{k}" for k in range(s)] for d, s in zip(ids, sizes, strict=True)}
    n = math.prod(sizes)
    doc = _small(
        id=ids,
        size=sizes,
        dimension={d: {"category": {"index": codes[d]}} for d in ids},
        value=list(range(n)),
        status=None,
        role=None,
    )
    ds = decode(doc)
    assert [r[:4] for r in _rows(ds)] == list(itertools.product(*(codes[d] for d in ids)))
    assert ds.cells["value"].to_pylist() == [float(v) for v in range(n)]
    assert ds.dimension("A").label == "A"  # no label: the id stands in


def test_index_object_is_ordered_by_position_not_key_order():
    doc = _small()
    doc["dimension"]["Region"]["category"]["index"] = {"4601": 1, "0301": 0}
    assert decode(doc).dimension("Region").codes == ["0301", "4601"]
    assert decode(doc).cells["Region"].to_pylist()[:3] == ["0301"] * 3


def test_single_category_without_index_uses_the_label_key():
    doc = _small(id=["ContentsCode", "Tid"], size=[1, 3], value=[1, 2, 3], status=None, role=None)
    doc["dimension"] = {
        "ContentsCode": {
            "label": "statistikkvariabel",
            "category": {
                "label": {"KOSbelop0000": "Beløp (1000 kr)"},
                "unit": {"KOSbelop0000": {"base": "1000 kr"}},
            },
        },
        "Tid": doc["dimension"]["Tid"],
    }
    ds = decode(doc)
    assert ds.dimension("ContentsCode").codes == ["KOSbelop0000"]
    assert ds.dimension("ContentsCode").units == {"KOSbelop0000": {"base": "1000 kr"}}
    assert ds.cells["ContentsCode"].to_pylist() == ["KOSbelop0000"] * 3


def test_sparse_value_object():
    ds = decode(_small(value={"0": 10, "4": 0, "5": 7.5}, status=None))
    # 0 is a real zero, absent cells are null: the two must never be confused.
    assert ds.cells["value"].to_pylist() == [10.0, None, None, None, 0.0, 7.5]


def test_sparse_value_object_with_explicit_null():
    ds = decode(_small(value={"1": None, "3": 4}, status={"1": ".."}))
    assert ds.cells["value"].to_pylist() == [None, None, None, 4.0, None, None]
    assert ds.cells["status"].to_pylist() == [None, "..", None, None, None, None]


def test_status_string_applies_to_every_cell():
    ds = decode(_small(value=[None] * 6, status="."))
    assert ds.cells["status"].to_pylist() == ["."] * 6
    assert ds.cells["status"].type == pa.string()
    assert ds.status_counts() == {".": 6}


def test_status_array_and_single_element_array():
    ds = decode(_small(value=[None, 1, None, 2, 3, None], status=[".", None, ":", None, None, ".."]))
    assert ds.cells["status"].to_pylist() == [".", None, ":", None, None, ".."]
    assert ds.status_counts() == {".": 1, ":": 1, "..": 1}
    assert decode(_small(status=["*"])).cells["status"].to_pylist() == ["*"] * 6


def test_status_object_scatters_symbols():
    ds = decode(
        _small(value=[None, 1, None, 2, None, None], status={"5": "..", "0": ".", "2": ":", "4": "."})
    )
    assert ds.cells["status"].to_pylist() == [".", None, ":", None, ".", ".."]
    assert ds.status_counts() == {".": 2, ":": 1, "..": 1}


def test_status_cell_has_null_value_never_zero():
    ds = decode(_small(value=[None, None, 3, 4, 5, 6], status={"0": ":", "1": "."}))
    cells = ds.cells.to_pylist()
    assert [c["value"] for c in cells[:2]] == [None, None]
    assert ds.cells["value"].null_count == 2
    # And in the DuckDB-bound numpy form the nulls stay NaN, not 0.
    assert np.isnan(ds.cells["value"].to_numpy()[:2]).all()


def test_number_with_status_keeps_both():
    """The contract: a document with a number and a status keeps both; the loader records it."""
    ds = decode(_small(value=[1, 2, 3, 4, 5, 6], status={"3": "*"}))
    assert ds.cells.slice(3, 1).to_pylist()[0] == {
        "Region": "4601",
        "Tid": "2021",
        "value": 4.0,
        "status": "*",
    }


def test_no_status_means_all_null():
    ds = decode(_small(status=None))
    assert ds.cells["status"].null_count == 6 and ds.status_counts() == {}


# --- synthetic documents: rejections ---------------------------------------------------------------


def _dimension_without_version() -> dict:
    doc = _small()
    del doc["version"]
    return doc


def _unknown_in_id() -> dict:
    return _small(id=["Region", "Alder"])


def _bad_category_count() -> dict:
    doc = _small()
    doc["dimension"]["Tid"]["category"]["index"] = ["2021", "2022"]
    return doc


def _unlisted_dimension() -> dict:
    doc = _small()
    doc["dimension"]["Kjonn"] = {"category": {"index": ["1", "2"]}}
    return doc


def _missing_index_two_labels() -> dict:
    doc = _small()
    doc["dimension"]["Region"]["category"].pop("index")
    return doc


def _bad_positions() -> dict:
    doc = _small()
    doc["dimension"]["Region"]["category"]["index"] = {"0301": 0, "4601": 2}
    return doc


def _text_positions() -> dict:
    doc = _small()
    doc["dimension"]["Region"]["category"]["index"] = {"0301": "0", "4601": 1}
    return doc


REJECTIONS = [
    ("collection", _small(**{"class": "collection"}), "class 'collection' is not supported"),
    ("dimension", _small(**{"class": "dimension"}), "class 'dimension' is not supported"),
    ("bundle", {"ds1": {"dimension": {}, "value": []}}, "JSON-stat 1.x bundle"),
    ("no class", {"version": "2.0", "id": [], "value": []}, "no 'class'"),
    ("no version", _dimension_without_version(), "no 'version'"),
    ("version 1.0", _small(version="1.0"), "version '1.0' is not supported"),
    ("id/size mismatch", _small(size=[2, 3, 1]), "'id' has 2 dimensions but 'size' has 3"),
    ("size vs categories", _bad_category_count(), "'Tid' has size 3 in 'size' but 2 categories"),
    ("value too short", _small(value=[1, 2, 3, 4, 5]), "'value' has 5 entries, but 'size' gives 6 cells"),
    ("value too long", _small(value=[1] * 7), "'value' has 7 entries"),
    ("no value", _small(value=None), "no 'value'"),
    ("text value", _small(value=[1, "x", 3, 4, 5, 6]), "not a number or null"),
    ("unknown id", _unknown_in_id(), r"'id' names dimension\(s\) \['Alder'\] that have no entry"),
    (
        "unknown in role",
        _small(role={"time": ["Aar"]}),
        r"role 'time' names unknown dimension\(s\) \['Aar'\]",
    ),
    ("unlisted", _unlisted_dimension(), r"entries \['Kjonn'\] that are not listed in 'id'"),
    ("status key range", _small(status={"6": "."}), r"'status' refers to cell index 6, outside 0\.\.5"),
    ("status key neg", _small(status={"-1": "."}), "'status' refers to cell index -1"),
    ("status key text", _small(status={"a": "."}), "'status' has keys that are not flat cell indices"),
    ("status length", _small(status=[".", ":"]), "'status' has 2 entries, but 'size' gives 6"),
    ("status number", _small(status={"1": 5}), "not a string or null"),
    ("value key range", _small(value={"9": 1}), "'value' refers to cell index 9"),
    ("index without", _missing_index_two_labels(), "only allowed for a single category"),
    ("index positions", _bad_positions(), r"positions must be 0\.\.1 once each"),
    ("index text positions", _text_positions(), r"positions must be 0\.\.1 once each"),
    ("too many cells", _small(size=[200_000, 1_000], value={}), "gives 200,000,000 cells, more than"),
    ("reserved id", _small(id=["value", "Tid"]), "clash with the cell columns"),
    ("duplicate id", _small(id=["Tid", "Tid"]), "more than once"),
]


@pytest.mark.parametrize(("doc", "message"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS])
def test_malformed_documents_are_rejected(doc, message):
    with pytest.raises(JsonStatError, match=message):
        decode(doc)


def test_error_names_the_table():
    with pytest.raises(JsonStatError, match=r"^JSON-stat table 99999: 'value' has 5 entries"):
        decode(_small(value=[1, 2, 3, 4, 5]))
    doc = _small(value=[1, 2, 3, 4, 5], extension=None)
    with pytest.raises(JsonStatError, match=r"^JSON-stat table 99999"):  # from the '99999: …' label
        decode(doc)
    doc = _small(value=[1], extension=None, label="Befolkning")
    with pytest.raises(JsonStatError, match=r"^JSON-stat dataset 'Befolkning'"):
        decode(doc)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"class": "dataset", "value": [1, 2', "not valid JSON"),
        (b"", "not valid JSON"),
        ("[1, 2, 3]", "expected a JSON object at the top level, got a JSON array"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_invalid_json_is_rejected(text, message):
    with pytest.raises(JsonStatError, match=message):
        decode(text)


def test_json_stat_error_is_a_value_error_and_wrong_type_is_a_type_error():
    assert issubclass(JsonStatError, ValueError)
    with pytest.raises(TypeError, match="bytes, str or dict"):
        decode(42)
