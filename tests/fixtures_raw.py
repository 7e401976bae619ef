"""Build a small, hand-checkable build DuckDB (schema ``raw``) and a copy of the dbt project with fixture seeds.

The numbers are chosen so that every mart value in tests/test_dbt_models.py can be worked out by hand:
population 1000 and expenditure (1000 kr) equal to the target per-inhabitant value wherever nothing else is
said, so ``grs_netto_per_innb = 1000 * expenditure / population`` is just the expenditure.

Tables (all synthetic, real structure):
- ``07459`` population (contents Personer1), releases 2024-02-21 (2015–2023) and 2025-02-20 (2015–2024);
- ``12362`` net operating expenditure by function (``202;213;215;222;223`` summed), regnskapsomfang A/B,
  releases 2024-03-15 (2023 unrevised), 2024-06-17 (2015–2023 revised), 2025-03-17 (2024 unrevised);
- ``12562`` kindergarten coverage in percent (a published rate: no numerator/denominator), ages 1-2 and 1-5,
  same release dates as 12362 for 2019–2024.
Every code in the municipality seed also gets '.' cells for the years outside its validity, as SSB does.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.config import DBT_PROJECT_DIR
from pipeline.raw.load import RAW_CELLS_SCHEMA, RAW_DDL

YEARS = range(2015, 2025)
FUNCTION_SHARES = {"202": 0.6, "213": 0.1, "215": 0.1, "222": 0.15, "223": 0.05}
OTHER_FUNCTION = "201"  # barnehage: must not leak into the grunnskole sum

MARCH_2024 = datetime(2024, 3, 15, 7, 0)
JUNE_2024 = datetime(2024, 6, 17, 6, 0)
MARCH_2025 = datetime(2025, 3, 17, 7, 0)
POP_2024 = datetime(2024, 2, 21, 7, 0)
POP_2025 = datetime(2025, 2, 20, 7, 0)

# municipality_code, name, valid_from_year, valid_to_year, successor_code, municipality_id
MUNICIPALITIES = [
    ("0301", "Oslo", 2015, None, None, "0301"),
    ("0219", "Bærum", 2015, 2019, "3024", "3201"),
    ("3024", "Bærum", 2020, 2023, "3201", "3201"),
    ("3201", "Bærum", 2024, None, None, "3201"),
    ("0220", "Asker", 2015, 2019, "3025", "3203"),
    ("0627", "Røyken", 2015, 2019, "3025", "3203"),
    ("0628", "Hurum", 2015, 2019, "3025", "3203"),
    ("3025", "Asker", 2020, 2023, "3203", "3203"),
    ("3203", "Asker", 2024, None, None, "3203"),
    ("1201", "Bergen", 2015, 2019, "4601", "4601"),
    ("4601", "Bergen", 2020, None, None, "4601"),
    ("1103", "Stavanger", 2015, None, None, "1103"),
    # A split (issue 12): Ålesund 1504 and Haram 1534 merge into 1507 in 2020, and 1507 is split in 2024
    # into 1508 Ålesund and 1580 Haram. SSB's 2024 grouping files 1504 under 1508 and 1534 under 1580.
    ("1504", "Ålesund", 2015, 2019, "1507", "1508"),
    ("1534", "Haram", 2015, 2019, "1507", "1580"),
    ("1507", "Ålesund", 2020, 2023, "1508", "1508"),
    ("1508", "Ålesund", 2024, None, None, "1508"),
    ("1580", "Haram", 2024, None, None, "1580"),
]
# region_code, successor_code, change_year, change_kind, share, is_on_series_borders
SUCCESSORS = [
    ("0219", "3024", 2020, "whole", 1, True),
    ("3024", "3201", 2024, "whole", 1, True),
    ("0220", "3025", 2020, "whole", 1, True),
    ("0627", "3025", 2020, "whole", 1, True),
    ("0628", "3025", 2020, "whole", 1, True),
    ("3025", "3203", 2024, "whole", 1, True),
    ("1201", "4601", 2020, "whole", 1, True),
    ("1504", "1507", 2020, "whole", 1, True),
    ("1534", "1507", 2020, "whole", 1, True),
    ("1507", "1508", 2024, "split", None, False),
    ("1507", "1580", 2024, "split", None, False),
]
# Population of the split's codes (expenditure is a tenth of it: 100 kr per inhabitant throughout).
SPLIT_POPULATION = {"1504": 4000.0, "1534": 1000.0, "1507": 5000.0, "1508": 4000.0, "1580": 1000.0}
AGGREGATES = [
    ("EAK", "Landet", "national"),
    ("EAKUO", "Landet uten Oslo", "national"),
    ("EKG13", "KOSTRA-gruppe 13", "kostra_group"),
]

# Target grunnskole expenditure per inhabitant by (region code, year) where it is not the default below.
GRS_DEFAULT = {
    "0301": 100.0,
    "1201": 120.0,
    "4601": 120.0,
    "3025": 130.0,
    "3203": 130.0,
    "1103": 90.0,
    "EAK": 95.0,
    "EKG13": 105.0,
}
ASKER_2015_2019 = {"0220": (60000.0, 7200.0), "0627": (30000.0, 3300.0), "0628": (10000.0, 1500.0)}
OSLO_2022 = (2000.0, 198.0)  # → 99 kr per inhabitant, and double weight in the ratio of sums
BAERUM_2023_MARCH = 112.0
BAERUM_2023_JUNE = 113.0
STAVANGER_2015_MISSING_FUNCTION = "223"  # an incomplete function sum → NULL
STAVANGER_2021_ZERO_FUNCTION = "215"  # '-' (zero) → counts as 0
STAVANGER_2021_PUBLISHED = 91.0  # SSB's published per-inhabitant figure differs from 1000 * 90 / 1000

BHG_DEFAULT = {
    "0301": 90.0,
    "0219": 92.0,
    "3024": 92.0,
    "3201": 92.0,
    "1201": 88.0,
    "4601": 88.0,
    "3025": 86.0,
    "3203": 86.0,
    "1103": 89.0,
    "EAK": 87.0,
}
ASKER_BHG_2019 = {"0220": 85.0, "0627": 80.0, "0628": 75.0}
OSLO_BHG_2023 = (90.0, 91.0)  # March → June
BERGEN_BHG_2023_MARCH = 80.0  # June: suppressed (':')

CATALOGUE_HEADER = (
    "indicator_id,sector,label_nb,label_en,table_id,contents_code,funksjon,art,alder,regnskapsomfang,unit,"
    "polarity,kind,numerator_id,denominator_id,scale,first_year,last_year,status,source,confirmed_on,series_break,note,"
    "weight_id"
)
CATALOGUE_ROWS = [
    "pop_total,befolkning,Innbyggere,Inhabitants,07459,Personer1,,,,,personer,neutral,base,,,,,,confirmed,fixture,,,fixture",
    "grs_netto_drift,grunnskole,Netto driftsutgifter grunnskole,Net operating expenditure primary school,"
    "12362,KOSAG110000,202;213;215;222;223,,,B,1000 kr,neutral,base,,,,,,confirmed,fixture,,,fixture",
    # Published by SSB (its own denominator), with components for merged codes and weighted means.
    "grs_netto_per_innb,grunnskole,Netto driftsutgifter grunnskole per innbygger,"
    "Net operating expenditure primary school per inhabitant,12362,KOSAGD2INNB,FG2,,,B,kr,lower_better,expenditure,"
    "grs_netto_drift,pop_total,1000,,,confirmed,fixture,,,fixture",
    # Not published: computed from the same components.
    "grs_netto_per_innb_beregnet,grunnskole,Netto driftsutgifter grunnskole per innbygger (beregnet),"
    "Net operating expenditure primary school per inhabitant (computed),,,,,,,kr,lower_better,expenditure,"
    "grs_netto_drift,pop_total,1000,,,derived,fixture,,,fixture",
    "bhg_dekning,barnehage,Andel barn 1-5 år i barnehage,Share of children 1-5 in kindergarten,"
    "12562,KOSandel120000,,,1-5,,prosent,higher_better,coverage,,,,,,confirmed,fixture,,,fixture",
    # One indicator from two tables: SSB ended 12210 with 2021 and counts cases in 13995 from 2022.
    "sos_mottakere,sosiale_tjenester,Sosialhjelpsmottakere,Social-assistance recipients,"
    "12210,KOSsosantkliente0000,,,,,mottakere,neutral,base,,,,,2021,confirmed,fixture,,,fixture",
    "sos_mottakere,sosiale_tjenester,Sosialhjelpsmottakere,Social-assistance recipients,"
    "13995,KOSsostilfeller0000,,,,,mottakere,neutral,base,,,,2022,,unverified,fixture,,"
    "Fra 2022 teller SSB tilfeller,fixture",
]
# weight_id: a ratio defaults to its denominator; the fixture's coverage share is weighted by the only
# population it has.
CATALOGUE_ROWS = [
    row + ("," + ("pop_total" if row.startswith("bhg_dekning,") else "")) for row in CATALOGUE_ROWS
]
# Oslo's social-assistance series: 12210 until 2021, 13995 from 2022; a stray 12210 figure for 2022 must
# not be used (its catalogue row ends in 2021).
SOCIAL_12210 = {2019: 100.0, 2020: 110.0, 2021: 120.0, 2022: 999.0}
SOCIAL_13995 = {2022: 300.0, 2023: 310.0}


def _fmt(value) -> str:
    return "" if value is None else str(value)


def write_fixture_seeds(seeds_dir: Path) -> Path:
    """Write the fixture catalogue and reference seeds (same names and columns as the real ones)."""
    reference = seeds_dir / "reference"
    reference.mkdir(parents=True, exist_ok=True)
    (seeds_dir / "indicator_catalogue.csv").write_text(
        "\n".join([CATALOGUE_HEADER, *CATALOGUE_ROWS]) + "\n", encoding="utf-8"
    )
    lines = [
        "municipality_code,name,valid_from_year,valid_to_year,successor_code,municipality_id,change_note,source"
    ]
    for code, name, start, end, successor, mid in MUNICIPALITIES:
        lines.append(f"{code},{name},{start},{_fmt(end)},{_fmt(successor)},{mid},,test fixture")
    (reference / "municipalities.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    membership = ["municipality_id,name,year,role"]
    for year in YEARS:
        for mid, name in (("0301", "Oslo"), ("3201", "Bærum"), ("4601", "Bergen")):
            membership.append(f"{mid},{name},{year},member")
        # Asker is also a member in 2019 here, so the 2019 means mix borders (its coverage is 0220's).
        role = "member" if year >= 2022 or year == 2019 else "comparator"
        membership.append(f"3203,Asker,{year},{role}")
    (reference / "asss_membership.csv").write_text("\n".join(membership) + "\n", encoding="utf-8")
    (reference / "kostra_groups.csv").write_text(
        "municipality_code,year_from,year_to,kostra_group,grouping,source\n"
        "0219,2015,2019,EKG13,pre-2020,test fixture\n"
        "3024,2020,2023,EKG13,2020,test fixture\n"
        "3201,2024,,EKG13,2020,test fixture\n"
        "0301,2015,2019,EKG16,pre-2020,test fixture\n"
        "0301,2020,,EKG16,2020,test fixture\n",
        encoding="utf-8",
    )
    successors = [
        "region_code,region_kind,successor_code,change_year,change_kind,share,is_on_series_borders,note,source"
    ]
    for code, successor, year, kind, share, on_borders in SUCCESSORS:
        successors.append(
            f"{code},municipality,{successor},{year},{kind},{_fmt(share)},{str(on_borders).lower()},,test fixture"
        )
    (reference / "region_successors.csv").write_text("\n".join(successors) + "\n", encoding="utf-8")
    (reference / "kostra_groupings.csv").write_text(
        "kostra_grouping,klass_112_versions,first_year,last_year,numbering,source\n"
        "pre-2020,423; 1288,2015,2019,old,test fixture\n"
        "2020,1450,2020,,new,test fixture\n",
        encoding="utf-8",
    )
    (reference / "aggregate_regions.csv").write_text(
        "region_code,name,kind\n" + "".join(f"{c},{n},{k}\n" for c, n, k in AGGREGATES), encoding="utf-8"
    )
    return seeds_dir


def make_fixture_project(dest: Path) -> Path:
    """Copy the dbt project (code only) to ``dest`` and give it the fixture seeds instead of the real ones."""
    shutil.copytree(
        DBT_PROJECT_DIR,
        dest,
        ignore=shutil.ignore_patterns("seeds", "target", "logs", "dbt_packages", ".user.yml"),
    )
    write_fixture_seeds(dest / "seeds")
    # The index models (issue 4) need their seeds to parse; empty ones keep this fixture about issue 3.
    from tests.fixtures_indices import write_empty_index_seeds

    write_empty_index_seeds(dest / "seeds")
    return dest


def _valid(code: str, year: int) -> bool:
    for c, _name, start, end, _successor, _mid in MUNICIPALITIES:
        if c == code:
            return start <= year <= (end or 9999)
    return True  # aggregates are always valid


def _regions() -> list[str]:
    return [m[0] for m in MUNICIPALITIES] + ["EAK", "EKG13"]


def _grs(code: str, year: int) -> tuple[float, float]:
    """(population, expenditure in 1000 kr) of one code and year, revised figures."""
    if code in ASKER_2015_2019:
        return ASKER_2015_2019[code]
    if code == "0301" and year == 2022:
        return OSLO_2022
    if code in ("0219", "3024", "3201"):
        return 1000.0, BAERUM_2023_JUNE if year == 2023 else 104.0 + (year - 2015)
    if code in SPLIT_POPULATION:
        return SPLIT_POPULATION[code], SPLIT_POPULATION[code] / 10
    return 1000.0, GRS_DEFAULT[code]


class _Cells:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, table_id, release, vintage, contents, region, year, value, status=None, **dims) -> None:
        self.rows.append(
            {
                "table_id": table_id,
                "release_updated": release,
                "vintage": vintage,
                "contents_code": contents,
                "region_code": region,
                "period": str(year),
                "year": year,
                "funksjon": dims.get("funksjon"),
                "art": None,
                "regnskapsomfang": dims.get("regnskapsomfang"),
                "alder": dims.get("alder"),
                "kjonn": None,
                "other_dimensions": [],
                "value": value,
                "status": status,
                "landing_sha256": f"fixture-{table_id}-{release:%Y%m%d}",
            }
        )


def _population(cells: _Cells) -> None:
    for release, newest in ((POP_2024, 2023), (POP_2025, 2024)):
        for year in range(2015, newest + 1):
            vintage = "unrevised" if year == newest else "revised"
            for code in _regions():
                if not _valid(code, year):
                    cells.add("07459", release, vintage, "Personer1", code, year, None, ".")
                    continue
                cells.add("07459", release, vintage, "Personer1", code, year, _grs(code, year)[0])


def _expenditure(cells: _Cells) -> None:
    releases = (
        (MARCH_2024, "unrevised", [2023]),
        (JUNE_2024, "revised", list(range(2015, 2024))),
        (MARCH_2025, "unrevised", [2024]),
    )
    for release, vintage, years in releases:
        for year in years:
            for code in _regions():
                total = _grs(code, year)[1]
                if code in ("0219", "3024", "3201") and year == 2023 and vintage == "unrevised":
                    total = BAERUM_2023_MARCH
                for function, share in [*FUNCTION_SHARES.items(), (OTHER_FUNCTION, None)]:
                    for scope in ("A", "B"):
                        dims = {"funksjon": function, "regnskapsomfang": scope}
                        if not _valid(code, year):
                            cells.add("12362", release, vintage, "KOSAG110000", code, year, None, ".", **dims)
                            continue
                        if code == "1103" and year == 2015 and function == STAVANGER_2015_MISSING_FUNCTION:
                            continue
                        if code == "1103" and year == 2021 and function == STAVANGER_2021_ZERO_FUNCTION:
                            cells.add("12362", release, vintage, "KOSAG110000", code, year, None, "-", **dims)
                            continue
                        value = 999.0 if share is None else total * share
                        if code == "1103" and year == 2021 and share is not None:
                            value = total * share / (1 - FUNCTION_SHARES[STAVANGER_2021_ZERO_FUNCTION])
                        # Konsern (A) is deliberately different so a missing regnskapsomfang filter shows.
                        cells.add(
                            "12362",
                            release,
                            vintage,
                            "KOSAG110000",
                            code,
                            year,
                            value * (2 if scope == "A" else 1),
                            **dims,
                        )
                dims = {"funksjon": "FG2", "regnskapsomfang": "B"}
                if not _valid(code, year):
                    cells.add("12362", release, vintage, "KOSAGD2INNB", code, year, None, ".", **dims)
                elif not (code == "1103" and year == 2015):
                    per_inhabitant = 1000 * total / _grs(code, year)[0]
                    if code == "1103" and year == 2021:
                        per_inhabitant = STAVANGER_2021_PUBLISHED
                    cells.add("12362", release, vintage, "KOSAGD2INNB", code, year, per_inhabitant, **dims)


def _coverage(cells: _Cells) -> None:
    releases = (
        (MARCH_2024, "unrevised", [2023]),
        (JUNE_2024, "revised", list(range(2019, 2024))),
        (MARCH_2025, "unrevised", [2024]),
    )
    for release, vintage, years in releases:
        for year in years:
            for code in [*_regions()]:
                if code == "EKG13":
                    continue
                for alder in ("1-5", "1-2"):
                    if not _valid(code, year):
                        cells.add(
                            "12562", release, vintage, "KOSandel120000", code, year, None, ".", alder=alder
                        )
                        continue
                    value, status = (
                        (ASKER_BHG_2019[code] if code in ASKER_BHG_2019 else BHG_DEFAULT.get(code, 80.0)),
                        None,
                    )
                    if code == "0301" and year == 2023:
                        value = OSLO_BHG_2023[0 if vintage == "unrevised" else 1]
                    if code == "4601" and year == 2023:
                        value, status = (
                            (BERGEN_BHG_2023_MARCH, None) if vintage == "unrevised" else (None, ":")
                        )
                    if value is not None and alder == "1-2":
                        value -= 10  # the other age group must not be picked up
                    cells.add(
                        "12562", release, vintage, "KOSandel120000", code, year, value, status, alder=alder
                    )


def _social(cells: _Cells) -> None:
    for year, value in SOCIAL_12210.items():
        cells.add("12210", JUNE_2024, "revised", "KOSsosantkliente0000", "0301", year, value)
    for year, value in SOCIAL_13995.items():
        cells.add("13995", JUNE_2024, "revised", "KOSsostilfeller0000", "0301", year, value)


def fixture_cells(tables: Iterable[str] | None = None) -> pa.Table:
    """The fixture's raw.cells rows, optionally only some tables."""
    cells = _Cells()
    _population(cells)
    _expenditure(cells)
    _coverage(cells)
    _social(cells)
    wanted = set(tables) if tables is not None else None
    rows = [r for r in cells.rows if wanted is None or r["table_id"] in wanted]
    return pa.Table.from_pylist(rows, schema=RAW_CELLS_SCHEMA)


def build_raw_fixture(db_path: Path, tables: Iterable[str] | None = None) -> Path:
    """Create ``db_path`` with the loader's raw schema holding the fixture cells (all tables, some, or none)."""
    cells = fixture_cells(tables)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db_path))
    try:
        con.execute(RAW_DDL)
        con.register("fixture_cells", cells)
        con.execute("insert into raw.cells by name select * from fixture_cells")
        con.execute(
            """
            insert into raw.releases
            select table_id, release_updated, 'fixture ' || table_id, 'tests/fixtures_raw.py',
                   max(year), count(*), now()::timestamp
            from fixture_cells group by table_id, release_updated
            """
        )
    finally:
        con.close()
    return db_path
