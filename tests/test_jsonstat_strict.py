"""The strict decoder: booleans are not numbers, indices are decimal integers in range, extension is an object,
and a declared cell count above the cap is refused before anything is allocated for it."""

from __future__ import annotations

import resource

import orjson
import pytest

from pipeline.raw.jsonstat import JsonStatError, decode
from tests.jsonstat_factory import make_doc

DIMS = {"KOKkommuneregion0000": ["0301", "4601"], "ContentsCode": ["K"], "Tid": ["2023", "2024"]}


def _doc(**changes) -> dict:
    doc = orjson.loads(make_doc("13502", DIMS))
    doc.update(changes)
    return doc


@pytest.mark.parametrize("value", [[1.0, True, 3.0, 4.0], [False, None, None, None], {"0": True}])
def test_booleans_are_not_numbers(value):
    with pytest.raises(JsonStatError, match="boolean"):
        decode(_doc(value=value))


@pytest.mark.parametrize("key", ["0x1", " 1", "+1", "1.0", "١"])
def test_sparse_keys_must_be_decimal_indices(key):
    with pytest.raises(JsonStatError, match="not flat cell indices"):
        decode(_doc(value={key: 1.0}))
    with pytest.raises(JsonStatError, match="not flat cell indices"):
        decode(_doc(status={key: ".."}))


def test_an_index_out_of_range_is_refused():
    with pytest.raises(JsonStatError, match="outside 0..3"):
        decode(_doc(value={"4": 1.0}))


@pytest.mark.parametrize("extension", [[], 0, "", "px", [{"px": {}}]])
def test_extension_must_be_an_object(extension):
    with pytest.raises(JsonStatError, match="'extension' must be an object"):
        decode(_doc(extension=extension))


def test_a_huge_declared_size_is_refused_before_allocating(monkeypatch):
    doc = _doc(size=[2000, 1, 10_000], value={"0": 1.0})  # 20 M cells declared in a tiny document
    doc["id"] = ["KOKkommuneregion0000", "ContentsCode", "Tid"]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(JsonStatError, match="20,000,000 cells, more than the 10,000,000 accepted"):
        decode(doc)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 50_000  # no 20 M-cell arrays were made
    monkeypatch.setenv("KOSTRA_MAX_CELLS", "3")
    with pytest.raises(JsonStatError, match="more than the 3 accepted"):
        decode(_doc())
    assert decode(_doc(), limit=4).n_cells == 4


def test_a_valid_document_still_decodes():
    ds = decode(_doc(value=[1, 2.5, None, 0], status={"2": ".."}))
    assert ds.cells["value"].to_pylist() == [1.0, 2.5, None, 0.0]
    assert ds.cells["status"].to_pylist() == [None, None, "..", None]
