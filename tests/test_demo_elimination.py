"""Elimination as SSB offers it: 07459's Kjonn may be left out of a query, and the answer is the sum over it.

The demo is generated from the catalogue's real 07459 layout (Region, Kjonn, Alder single years, ContentsCode,
Tid); the client leaves Kjonn out because the catalogue sums over it, and a variable the metadata does not
allow to be eliminated is refused before any data request.
"""

from __future__ import annotations

import pytest

from pipeline.demo.generate import generate
from pipeline.demo.server import DemoSource, serve
from pipeline.raw.jsonstat import decode
from pipeline.ssb.client import SsbClient
from pipeline.ssb.errors import SsbQueryError

REGIONS = ["EAK", "0301", "3201", "0219"]


@pytest.fixture(scope="module")
def statbank(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo-elim") / "demo"
    generate(folder, first_year=2019, last_year=2024, regions=REGIONS)
    with serve(DemoSource(folder)) as srv:
        yield srv


def _client(srv) -> SsbClient:
    v0, v2 = srv.roots()
    return SsbClient(v0, v2, retries=0, progress=False)


def _by_key(ds, dims):
    t = ds.cells.to_pydict()
    return {tuple(t[d][i] for d in dims): t["value"][i] for i in range(len(t["value"]))}


def test_metadata_says_kjonn_may_be_eliminated(statbank):
    with _client(statbank) as client:
        meta = client.table_metadata("07459")
    flags = {v.code: v.elimination for v in meta.variables}
    assert flags["Kjonn"] is True and flags["Alder"] is False and flags["Region"] is False


def test_eliminated_kjonn_is_the_sum_of_both_sexes(statbank):
    selection = {"Region": ["0301", "3201"], "Alder": ["000", "067", "105+"], "Tid": ["2024"]}
    with _client(statbank) as client:
        whole = client.fetch("07459", {**selection, "Kjonn": ["1", "2"]})
        summed = client.fetch("07459", selection, eliminate=["Kjonn"])
    by_sex = _by_key(decode(whole.parts[0].body), ["Region", "Kjonn", "Alder"])
    ds = decode(summed.parts[0].body)
    assert "Kjonn" not in [d.id for d in ds.dimensions]
    total = _by_key(ds, ["Region", "Alder"])
    assert len(total) == 6
    for (region, age), value in total.items():
        assert value == by_sex[(region, "1", age)] + by_sex[(region, "2", age)]
        assert value > 0
    assert summed.cells == whole.cells // 2


def test_a_code_outside_its_validity_stays_not_applicable_after_the_sum(statbank):
    with _client(statbank) as client:
        fetched = client.fetch(
            "07459", {"Region": ["0219"], "Alder": ["010"], "Tid": ["2024"]}, eliminate=["Kjonn"]
        )
    ds = decode(fetched.parts[0].body)
    row = ds.cells.to_pylist()[0]
    assert row["value"] is None and row["status"] == "."  # Bærum's code until 2019


def test_a_variable_that_cannot_be_eliminated_is_refused_before_any_data_request(statbank):
    before = len(statbank.requests)
    with _client(statbank) as client, pytest.raises(SsbQueryError, match="Alder cannot be eliminated"):
        client.fetch("07459", {"Region": ["0301"], "Tid": ["2024"]}, eliminate=["Alder"])
    assert not [
        r for r in statbank.requests[before:] if r.path.split("?")[0].endswith("/data") or r.method == "POST"
    ]


def test_the_server_refuses_a_left_out_variable_without_elimination(statbank):
    import requests

    body = {
        "query": [
            {"code": "Region", "selection": {"filter": "item", "values": ["0301"]}},
            {"code": "Kjonn", "selection": {"filter": "item", "values": ["1"]}},
            {"code": "Tid", "selection": {"filter": "item", "values": ["2024"]}},
        ],
        "response": {"format": "json-stat2"},
    }
    resp = requests.post(f"{statbank.url}/api/v0/no/table/07459", json=body, timeout=5)
    assert resp.status_code == 400 and "Alder" in resp.text
