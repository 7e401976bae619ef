"""The municipality reference seeds and their Python API: code histories, ASSS, KOSTRA groups, SSB labels."""

from __future__ import annotations

import csv
import json
import re

import pandas as pd
import pytest

from pipeline.reference import seeds as ref
from pipeline.reference.klass import build_reference as br

# Code histories from the domain notes: municipality_id -> {code: (valid_from, valid_to)}.
# None for valid_from means "before 2015" (floored, or an earlier year from SSB's labels).
ASSS_HISTORIES = {
    "0301": {"0301": (None, None)},  # Oslo
    "3201": {"0219": (None, 2019), "3024": (2020, 2023), "3201": (2024, None)},  # Bærum
    "3203": {  # Asker (+ Røyken, Hurum in 2020)
        "0220": (None, 2019),
        "0627": (None, 2019),
        "0628": (None, 2019),
        "3025": (2020, 2023),
        "3203": (2024, None),
    },
    "3301": {  # Drammen (+ Nedre Eiker, Svelvik in 2020)
        "0602": (None, 2019),
        "0625": (None, 2019),
        "0711": (None, 2019),
        "3005": (2020, 2023),
        "3301": (2024, None),
    },
    "3107": {"0106": (None, 2019), "3004": (2020, 2023), "3107": (2024, None)},  # Fredrikstad
    "1103": {"1103": (None, None), "1141": (None, 2019), "1142": (None, 2019)},  # Stavanger
    "1108": {"1102": (None, 2019), "1129": (None, 2019), "1108": (2020, None)},  # Sandnes
    "4204": {"1001": (None, 2019), "1017": (None, 2019), "1018": (None, 2019), "4204": (2020, None)},
    "4601": {"1201": (None, 2019), "4601": (2020, None)},  # Bergen
    "5001": {"1601": (None, 2017), "1662": (None, 2017), "5030": (2018, 2019), "5001": (2018, None)},
    "5501": {"1902": (None, 2019), "5401": (2020, 2023), "5501": (2024, None)},  # Tromsø
}


@pytest.mark.parametrize("mid", sorted(ASSS_HISTORIES))
def test_asss_code_histories_match_domain_notes(mid):
    got = {code: (y0 if y0 > 2015 else None, y1) for code, y0, y1 in ref.history(mid)}
    assert got == ASSS_HISTORIES[mid]


def test_baerum_successor_chain_and_lookups():
    assert ref.successor_chain("0219") == ["0219", "3024", "3201"]
    assert ref.municipality_id("0219") == "3201"
    assert ref.codes_for("3201", 2016) == ["0219"]
    assert ref.codes_for("3201", 2021) == ["3024"]
    assert ref.name_in("0219", 2019) == "Bærum"
    assert ref.name_in("0219", 2020) is None


def test_trondheim_renumbered_2018_and_klaebu_merged_2020():
    assert ref.successor_chain("1601") == ["1601", "5001"]
    assert ref.successor_chain("1662") == ["1662", "5030", "5001"]
    assert ref.codes_for("5001", 2017) == ["1601", "1662"]
    assert ref.codes_for("5001", 2019) == ["5001", "5030"]
    assert ref.codes_for("5001", 2020) == ["5001"]
    row = ref.municipalities().set_index("municipality_code").loc["5030"]
    assert "innlemmet i 5001" in row["change_note"]


def test_stavanger_absorbed_finnoy_and_rennesoy_in_2020():
    m = ref.municipalities().set_index("municipality_code")
    assert m.loc["1141", "successor_code"] == m.loc["1142", "successor_code"] == "1103"
    assert m.loc["1141", "valid_to_year"] == 2019
    assert pd.isna(m.loc["1103", "valid_to_year"])
    assert "1141, 1142 innlemmet" in m.loc["1103", "change_note"]


def test_splits_name_every_part_and_follow_the_largest():
    m = ref.municipalities().set_index("municipality_code")
    assert m.loc["5012", "successor_code"] == "5059"  # Snillfjord → Orkland
    assert "delt mellom 5055, 5056, 5059" in m.loc["5012", "change_note"]
    assert m.loc["1850", "successor_code"] == "1806"  # Tysfjord → Narvik
    assert m.loc["1507", "successor_code"] == "1508"  # Ålesund 2024 → Ålesund, Haram split off
    # Haram 1534 merged into Ålesund 1507 in 2020 and was split off again as 1580 in 2024: its chain runs
    # through 1507 to 1508, but SSB's 2024 grouping (followed here) files its series under Haram.
    assert ref.successor_chain("1534") == ["1534", "1507", "1508"]
    assert ref.municipality_id("1534") == "1580"
    assert ref.history("1580") == [("1534", 2015, 2019), ("1580", 2024, None)]


@pytest.mark.parametrize(
    ("year", "count"),
    [(2015, 428), (2016, 428), (2017, 426), (2018, 422), (2019, 422), (2020, 356), (2023, 356), (2024, 357)],
)
def test_number_of_valid_codes_per_year(year, count):
    assert len(ref.codes_valid_in(year)) == count


def test_no_changes_2021_to_2023_and_2024_county_split():
    assert ref.codes_valid_in(2021) == ref.codes_valid_in(2020) == ref.codes_valid_in(2023)
    prefixes_2024 = {c[:2] for c in ref.codes_valid_in(2024)}
    assert {"31", "32", "33", "39", "40", "55", "56"} <= prefixes_2024
    assert not {"30", "38", "54"} & prefixes_2024
    assert set(ref.all_codes(2015, 2024)) == set(ref.municipalities()["municipality_code"])
    assert ref.all_codes(2024, 2024) == ref.codes_valid_in(2024)


def test_every_municipality_id_is_valid_in_2024_and_every_chain_reaches_it():
    m = ref.municipalities()
    current = set(ref.codes_valid_in(2024))
    assert set(m["municipality_id"]) == current
    notes = dict(zip(m["municipality_code"], m["change_note"], strict=True))
    detours = []
    for code, mid in zip(m["municipality_code"], m["municipality_id"], strict=True):
        chain = ref.successor_chain(code)
        assert chain[-1] in current and len(chain) <= 4, chain
        if chain[-1] != mid:
            # only through a split whose parts include the series' code
            assert any(re.search(rf"delt mellom [0-9, ]*{mid}", notes[c]) for c in chain), code
            detours.append(code)
    assert detours == ["1534"]


def test_successor_takes_over_the_year_after_the_code_ends():
    m = ref.municipalities().set_index("municipality_code")
    ended = m[m["valid_to_year"].notna()]
    assert (ended["successor_code"] != "").all()
    starts = m.loc[ended["successor_code"], "valid_from_year"].to_numpy()
    # The successor is new that year, or a continuing code that absorbed this one.
    assert (
        (starts == ended["valid_to_year"].to_numpy() + 1) | (starts <= ended["valid_to_year"].to_numpy())
    ).all()
    assert (m.loc[m["valid_to_year"].isna(), "successor_code"] == "").all()


def test_asss_membership_by_year():
    core = {"0301", "4601", "5001", "1103", "3201", "4204", "3301", "3107", "1108", "5501"}
    for year in range(2015, 2027):
        members = set(ref.asss_members(year))
        assert core <= members
        assert members - core == (set() if year < 2022 else {"3203", "3205"})
    assert "3203" in ref.asss_members(2021, include_comparators=True)
    assert "3203" not in ref.asss_members(2021)
    assert "3203" in ref.asss_members(2022)
    assert "3205" not in ref.asss_members(2021, include_comparators=True)
    with pytest.raises(ref.ReferenceError, match="2015-2026"):
        ref.asss_members(2030)


def test_kostra_groups():
    assert ref.kostra_group("0301", 2015) == "EKG15"  # pre-2020 numbering
    assert ref.kostra_group("1201", 2016) == "EKG14"
    assert ref.kostra_group("0219", 2018) == "EKG13"
    assert ref.kostra_group("0219", 2019) is None  # the 2018 grouping is not recorded
    assert ref.kostra_group("1601", 2017) == "EKG14"
    assert ref.kostra_group("1601", 2018) is None  # code no longer valid
    assert ref.kostra_group("0301", 2021) == "EKG13"  # 2020 numbering
    assert ref.kostra_group("1580", 2024) == "EKG01"
    assert ref.kostra_group("3201", 2024) is None  # not recorded: do not invent
    groups = ref.kostra_groups()
    assert set(groups["kostra_group"]) <= set(ref.aggregate_regions()["region_code"])


def test_aggregate_regions_use_ssb_labels():
    agg = ref.aggregate_regions().set_index("region_code")
    assert agg.loc["EAK", "name"] == "Landet"
    assert agg.loc["EAKUO", "name"] == "Landet uten Oslo"
    assert agg.loc["EKG13", "name"] == "KOSTRA-gruppe 13"
    assert set(agg["kind"]) == {"national", "kostra_group"}


def test_ssb_labels_mirror_statbank():
    assert ref.ssb_label("0219") == "0219 Bærum (-2019)"
    assert ref.ssb_label("0219", with_code=False) == "Bærum (-2019)"
    assert ref.ssb_label("3024") == "3024 Bærum (2020-2023)"
    assert ref.ssb_label("3024", as_of=2023) == "3024 Bærum"
    assert ref.ssb_label("5012") == "5012 Snillfjord (2018-2019)"
    assert ref.ssb_label("1903") == "1903 Harstad - Hárstták (2013-2019)"
    assert ref.ssb_label("0105") == "0105 Sarpsborg (-2019)"  # began 1992: before SSB shows start years
    assert ref.ssb_label("3201") == "3201 Bærum"


def test_bad_input_gets_clear_errors():
    with pytest.raises(ref.ReferenceError, match="'9998' is not in municipalities.csv"):
        ref.municipality_id("9998")
    with pytest.raises(ref.ReferenceError, match="year must be an int"):
        ref.codes_valid_in("2020")
    with pytest.raises(ref.ReferenceError, match="first_year 2020 is after last_year 2019"):
        ref.all_codes(2020, 2019)
    with pytest.raises(ref.ReferenceError, match="not a municipality_id"):
        ref.history("0219")


def test_every_reference_seed_names_its_source():
    for table in (ref.municipalities(), ref.asss_membership(), ref.kostra_groups(), ref.aggregate_regions()):
        assert (table["source"].str.len() > 10).all()
    floored = ref.municipalities()["source"].str.contains("floored at 2015")
    assert (ref.municipalities().loc[floored, "valid_from_year"] == 2015).all()


# --------------------------------------------------------------------------- against the shared sources


def _read(path, delimiter=","):
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


@pytest.mark.realdata
def test_13502_codes_validity_and_labels_agree(snapshots):
    folder = snapshots / "NFG-J__is114-tema05"
    doc = json.loads((folder / "derived_13502_KOSandel120000.jsonstat2.json").read_text(encoding="utf-8"))
    labels = doc["dimension"]["KOKkommuneregion0000"]["category"]["label"]
    known = set(ref.municipalities()["municipality_code"])
    assert set(labels) - known == {"2111"}  # Longyearbyen: a KOSTRA region, not a KLASS 131 municipality
    for code, label in labels.items():
        if code != "2111":
            # the table ends in 2023, so 2020-2023 codes were current when it was labelled
            assert ref.ssb_label(code, as_of=2023, with_code=False) == label.strip(), code

    # "." (the category did not exist) marks exactly the years outside each code's validity
    cells = pd.read_csv(folder / "derived_13502_KOSandel120000_long.csv", dtype=str, keep_default_na=False)
    m = ref.municipalities().set_index("municipality_code")
    cells = cells[cells["region_code"] != "2111"]
    year = cells["year"].astype(int).to_numpy()
    start = m.loc[cells["region_code"], "valid_from_year"].to_numpy()
    end = m.loc[cells["region_code"], "valid_to_year"].fillna(9999).to_numpy()
    valid = (start <= year) & (year <= end)
    assert ((cells["status"] == ".").to_numpy() == ~valid).all()


@pytest.mark.realdata
def test_regtools_2024_grouping_matches_municipality_id(snapshots):
    rows = _read(snapshots / "lauriejh__regtools" / "derived_kommuner-1994-2024.csv")
    m = ref.municipalities().set_index("municipality_code")
    checked = 0
    for r in rows:
        end = re.search(r"-(\d{4})\)$", r["TEKST"])
        if end and int(end.group(1)) < 2015:
            continue  # codes that ended before our window
        code, group = r["KODE"], r["GRUPPEKODE"]
        if group in ("K.21-22", "K.23") or code == "9999":
            continue
        assert code in m.index, r
        if group == "K.Rest":
            # SSB leaves codes touched by a split out of the harmonised groups; ours follow the largest part
            assert m.loc[code, "municipality_id"] in ref.codes_valid_in(2024)
        else:
            assert m.loc[code, "municipality_id"] == group[2:], r
        checked += 1
    assert checked > 800


@pytest.mark.realdata
def test_klass_change_tables_agree_with_successors(snapshots):
    folder = snapshots / "gardenberg__barnevernmonitor"
    m = ref.municipalities().set_index("municipality_code")
    for old_y, new_y in [(2013, 2017), (2017, 2018), (2018, 2019), (2019, 2020)]:
        rows = _read(folder / f"derived_utf8_fra_{old_y}kommuner_til_{new_y}kommuner.csv", delimiter=";")
        targets: dict[str, set[str]] = {}
        for r in rows:
            targets.setdefault(r[f"kommunenummer_{old_y}"], set()).add(r[f"kommunenummer_{new_y}"])
        for old, new in targets.items():
            if old == "9999":
                continue
            if new == {old}:
                assert pd.isna(m.loc[old, "valid_to_year"]) or m.loc[old, "valid_to_year"] >= new_y
            else:
                assert m.loc[old, "valid_to_year"] == new_y - 1, old
                assert m.loc[old, "successor_code"] in new, old
                if len(new) == 1 and "SSBs gruppering" not in m.loc[old, "change_note"]:
                    assert m.loc[old, "municipality_id"] == m.loc[next(iter(new)), "municipality_id"]


@pytest.mark.realdata
def test_kostra_groups_match_ssb_kostra_data(snapshots):
    rows = _read(snapshots / "statisticsnorway__ssb-kostra" / "derived_rateData_data.csv")
    n = 0
    for r in rows:
        code = next(iter(r.values()))[:4]
        if r["Ny.kostragruppe"] in ("", "NA"):
            continue
        assert ref.kostra_group(code, 2015) == f"EKG{int(r['Ny.kostragruppe']):02d}", code
        n += 1
    assert n == 428


@pytest.mark.realdata
def test_build_script_reproduces_the_committed_seeds(snapshots, tmp_path):
    assert br.main(["--check", "--snapshots", str(snapshots)]) == 0
    # and a tampered copy is caught
    for name in br.COLUMNS:
        (tmp_path / name).write_text((br.REFERENCE_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    text = (tmp_path / "municipalities.csv").read_text(encoding="utf-8")
    (tmp_path / "municipalities.csv").write_text(text.replace("0219,Bærum,2015,2019", "0219,Bærum,2015,2020"))
    assert br.main(["--check", "--snapshots", str(snapshots), "--out", str(tmp_path)]) == 1
