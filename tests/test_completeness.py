"""The blocking ingest check: every ASSS member and comparator is in every landed release, for every year."""

from pipeline import reference
from pipeline.completeness import check_table, expected_codes
from pipeline.landing import LandingStore, Part
from tests.jsonstat_factory import make_doc


def _land(store, regions, status=None):
    dims = {"KOKkommuneregion0000": regions, "ContentsCode": ["KOSandel120000"], "Tid": ["2019", "2021"]}
    body = make_doc("13502", dims, status=status)
    store.land("13502", [Part(body=body, query=None, cells=0)], updated="2022-06-15T06:00:00Z", source="t")


def _all_codes():
    return sorted(set(expected_codes(2019)) | set(expected_codes(2021)))


def test_expected_codes_follow_the_code_history():
    assert expected_codes(2019)["0219"] == "3201" and expected_codes(2021)["3024"] == "3201"
    assert expected_codes(2021)["3025"] == "3203"  # Asker, a comparator in 2021
    assert {"0602", "0625", "0711"} <= set(expected_codes(2019))  # Drammen's three codes before 2020
    assert set(expected_codes(2021).values()) == set(reference.asss_members(2021, include_comparators=True))


def test_a_complete_release_passes(tmp_path):
    store = LandingStore(tmp_path)
    _land(store, _all_codes())
    assert check_table(store, "13502").ok


def test_a_missing_member_is_named(tmp_path):
    store = LandingStore(tmp_path)
    _land(store, [c for c in _all_codes() if c != "0301"])
    result = check_table(store, "13502")
    assert not result.ok
    assert [p for p in result.problems if "0301" in p and "missing for 2019" in p]
    assert [p for p in result.problems if "0301" in p and "missing for 2021" in p]


def test_a_member_shown_as_not_applicable_in_a_valid_year_is_named(tmp_path):
    store = LandingStore(tmp_path)
    _land(store, _all_codes(), status={("4601", "KOSandel120000", "2021"): "."})
    (problem,) = check_table(store, "13502").problems
    assert "4601" in problem and "'.'" in problem and "2021" in problem


def test_a_table_never_landed_is_reported(tmp_path):
    assert check_table(LandingStore(tmp_path), "12367").problems == ["table 12367 has never been landed"]
