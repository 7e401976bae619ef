"""The blocking ingest check: every ASSS member and comparator is in every landed release, for every year."""

from pipeline.landing.completeness import check_table, expected_codes
from pipeline.landing.store import LandingStore, Part
from pipeline.reference import seeds
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
    assert set(expected_codes(2021).values()) == set(seeds.asss_members(2021, include_comparators=True))


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


def _land_population(store, regions, status=None):
    """07459 as SSB publishes it: Region × Kjonn × Alder (single years), ContentsCode Personer1."""
    ages = [f"{a:03d}" for a in range(105)] + ["105+"]
    dims = {
        "Region": regions,
        "Kjonn": ["1", "2"],
        "Alder": ages,
        "ContentsCode": ["Personer1"],
        "Tid": ["2021"],
    }
    body = make_doc("07459", dims, status=status)
    store.land("07459", [Part(body=body, query=None, cells=0)], updated="2022-02-21T07:00:00Z", source="t")


def test_population_by_sex_and_single_year_is_checked_per_region(tmp_path):
    codes = sorted(expected_codes(2021))
    store = LandingStore(tmp_path)
    # One '.' in a single year of one sex is a cell symbol, not a missing member.
    _land_population(store, codes, status={("0301", "1", "104", "Personer1", "2021"): "."})
    assert check_table(store, "07459").ok
    store = LandingStore(tmp_path / "missing")
    ages = [f"{a:03d}" for a in range(105)] + ["105+"]
    every_cell = {("4601", k, a, "Personer1", "2021"): "." for k in ("1", "2") for a in ages}
    _land_population(store, [c for c in codes if c != "0301"], status=every_cell)
    problems = check_table(store, "07459").problems
    assert len(problems) == 2
    assert [p for p in problems if "0301" in p and "missing for 2021" in p]
    assert [p for p in problems if "4601" in p and "'.'" in p]


def test_a_fetch_split_by_region_is_checked_as_a_whole(tmp_path):
    """Over the cell limit the client splits a fetch by region: each part lacks half the members."""
    store = LandingStore(tmp_path)
    codes = _all_codes()
    parts = []
    for half in (codes[: len(codes) // 2], codes[len(codes) // 2 :]):
        dims = {"KOKkommuneregion0000": half, "ContentsCode": ["KOSandel120000"], "Tid": ["2019", "2021"]}
        parts.append(Part(body=make_doc("13502", dims), query=None, cells=0))
    store.land("13502", parts, updated="2022-06-15T06:00:00Z", source="t")
    assert check_table(store, "13502").ok
    # A member in neither part is still named.
    store2 = LandingStore(tmp_path / "two")
    dims = {"KOKkommuneregion0000": codes[1:], "ContentsCode": ["KOSandel120000"], "Tid": ["2019", "2021"]}
    store2.land(
        "13502",
        [Part(body=make_doc("13502", dims), query=None, cells=0)],
        updated="2022-06-15T06:00:00Z",
        source="t",
    )
    assert any(codes[0] in p for p in check_table(store2, "13502").problems)


def test_only_the_releases_in_scope_are_checked_and_the_summary_says_how_to_leave_one_out(tmp_path):
    store = LandingStore(tmp_path)
    _land(store, [c for c in _all_codes() if c != "0301"])  # 2022-06, without Oslo
    body = make_doc(
        "13502",
        {"KOKkommuneregion0000": _all_codes(), "ContentsCode": ["KOSandel120000"], "Tid": ["2019", "2021"]},
    )
    store.land("13502", [Part(body=body, query=None, cells=0)], updated="2023-06-15T06:00:00Z", source="t")

    later = check_table(store, "13502", only=lambda rec: rec.updated.startswith("2023"))
    assert later.ok and later.fetches == 1 and later.summary() == ""
    earlier = check_table(store, "13502", only=lambda rec: rec.updated.startswith("2022"))
    assert earlier.incomplete == ["13502@2022-06-15T06:00:00Z"]
    assert len(store.resolve(earlier.incomplete[0])) == 1  # the reference the hint gives is one kostra takes
    assert earlier.summary() == (
        f"{earlier.problems[0]} (and 1 more problem); to leave the release out of builds: "
        'kostra landing quarantine 13502@2022-06-15T06:00:00Z --reason "..."'
    )
    # A landed table with nothing in scope has nothing to check; a table never landed is still named.
    assert check_table(store, "13502", only=lambda rec: False).ok
    assert not check_table(LandingStore(tmp_path / "empty"), "13502", only=lambda rec: False).ok


def test_a_fetch_landed_without_updated_is_named_by_a_reference_the_quarantine_takes(tmp_path):
    store = LandingStore(tmp_path)
    dims = {"KOKkommuneregion0000": ["0301"], "ContentsCode": ["KOSandel120000"], "Tid": ["2021"]}
    rec = store.land(
        "13502", [Part(body=make_doc("13502", dims), query=None, cells=0)], updated=None, source="t"
    )
    result = check_table(store, "13502")
    assert result.incomplete == [rec.objects[0]]
    assert store.resolve(result.incomplete[0]) == [rec.objects[0]]
    assert result.summary().endswith(f'kostra landing quarantine {rec.objects[0]} --reason "..."')


def test_an_object_is_decoded_once_for_its_statuses_and_its_completeness(tmp_path, monkeypatch):
    """The ingest step counts the new objects' status symbols and its completeness check reads the same
    objects: one decode per object and process, with the same answers as decoding anew."""
    from pipeline.landing import completeness
    from pipeline.raw.jsonstat import decode

    store = LandingStore(tmp_path)
    codes = [c for c in _all_codes() if c != "0301"]
    _land(store, codes, status={(codes[0], "KOSandel120000", "2019"): ":"})
    (sha,) = [s for rec in store.fetches(["13502"]) for s in rec.objects]
    decoded = []
    monkeypatch.setattr(completeness, "decode", lambda body: decoded.append(1) or decode(body))
    completeness._object_facts.cache_clear()
    statuses = completeness.object_facts(store, sha).statuses
    result = check_table(store, "13502")
    assert decoded == [1]
    assert dict(statuses) == decode(store.read_object(sha)).status_counts() == {":": 1}
    assert [p for p in result.problems if "0301" in p and "missing for 2021" in p]
