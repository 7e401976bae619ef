"""A small, hand-checkable build DuckDB and dbt project copy for the index and barometer models.

Five municipalities, index sectors grunnskole, barnevern and pleie og omsorg (whole, 0-66 and 67+), two years (2023 revised, 2024 unrevised), all
values published directly (no mergers), so every P, U, E, contribution and grade in tests/test_indices.py
can be worked out by hand from the tables below. Members of the comparison group (ASSS): A = 0301 Oslo,
B = 4601 Bergen, C = 5001 Trondheim; not members: D = 1101 Eigersund, E = 1106 Haugesund.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.config import DBT_PROJECT_DIR
from pipeline.raw.load import RAW_CELLS_SCHEMA, RAW_DDL
from tests.fixtures_raw import CATALOGUE_HEADER

RELEASE = datetime(2025, 3, 17, 7, 0)
YEARS = (2023, 2024)
A, B, C, D, E = "0301", "4601", "5001", "1101", "1106"
MUNICIPALITIES = {A: "Oslo", B: "Bergen", C: "Trondheim", D: "Eigersund", E: "Haugesund"}
MEMBERS = (A, B, C)

# Catalogue: indicator_id → (table_id, contents_code, funksjon, alder, polarity, kind)
CATALOGUE = {
    "nde_grunnskole": ("12367", "KOSbelop0000", "202;213", "", "neutral", "base"),
    "nde_barnevern": ("12367", "KOSbelop0000", "244;251;252", "", "neutral", "base"),
    "pop_6_15": ("07459", "Personer1", "", "F006-015", "neutral", "base"),
    "pop_0_17": ("07459", "Personer1", "", "F000-017", "neutral", "base"),
    "gs_elever": ("12235", "KOSelever0000", "", "", "neutral", "base"),
    "gs_grunnskolepoeng": ("12235", "KOSgrpoeng0000", "", "", "higher_better", "quality"),
    "gs_gruppestorrelse": ("12235", "KOSgruppestr0000", "", "", "lower_better", "quality"),
    "gs_overgang_vg1_vg2": ("12235", "KOSovergang0000", "", "", "higher_better", "quality"),
    "bv_barn_tiltak": ("12275", "KOSbarntiltak0000", "", "", "neutral", "base"),
    "bv_us_innen_3mnd": ("12286", "KOSus3mnd0000", "", "", "higher_better", "quality"),
    "bv_andel_tiltaksplan": ("12286", "KOStiltplan0000", "", "", "higher_better", "quality"),
    # Issue 12: a subgroup rate and its own population (finding 4), total population (what weighted it
    # before), and a key figure published as whole numbers (finding 6).
    "pop_total": ("07459", "Personer1", "", "F000-105", "neutral", "base"),
    "pop_67_pluss": ("07459", "Personer1", "", "F067-105", "neutral", "base"),
    "po_dekning_67": ("12209", "KOSdekning670000", "", "", "higher_better", "coverage"),
    "bh_barn_per_ansatt": ("13502", "KOSbarnaav0000", "", "", "lower_better", "productivity"),
    # Pleie og omsorg split 0-66 / 67+ (issue 12, finding 5): the sector's net expenditure, each age group's
    # assigned weekly hours and inhabitants, and one volume per age group.
    "nde_pleie_omsorg": ("12367", "KOSbelop0000", "253;254;261", "", "neutral", "base"),
    "po_timer_uke_0_66": ("12292", "KOStildtimeruke0066", "", "", "neutral", "base"),
    "po_timer_uke_67_pluss": ("12292", "KOStildtimeruke0067", "", "", "neutral", "base"),
    "pop_0_66": ("07459", "Personer1", "", "F000-066", "neutral", "base"),
    "po_langtid_dager_0_66": ("12292", "KOSlangtiddogn0066", "", "", "neutral", "base"),
    "po_langtid_dager_67_pluss": ("12292", "KOSlangtiddogn0067", "", "", "neutral", "base"),
}
# weight_id of the catalogue: the rate's own denominator population.
WEIGHT_IDS = {"po_dekning_67": "pop_67_pluss"}
# SSB's national figure (region EAK) where the fixture publishes one: grunnskolepoeng only.
NATIONAL_2024 = {"gs_grunnskolepoeng": 38.0}

# Values per (indicator, municipality) in 2024; 2023 is the same except where YEAR_2023_CHANGES says.
# None = published with status ':' (suppressed). Net expenditure in 1000 kr.
VALUES_2024 = {
    "pop_6_15": {A: 1000, B: 1000, C: 1000, D: 1000, E: 1000},
    "pop_0_17": {A: 2000, B: 2000, C: 2000, D: 2000, E: 2000},
    "nde_grunnskole": {A: 113.76, B: 100, C: 84.16, D: 120, E: 90},
    "gs_elever": {A: 1236, B: 1000, C: 776, D: 1100, E: 900},
    "gs_grunnskolepoeng": {A: 41.6, B: 40, C: 38.4, D: 36, E: None},
    "gs_gruppestorrelse": {A: 15.36, B: 16, C: 16.64, D: 20, E: 14},
    "gs_overgang_vg1_vg2": {A: 90, B: 90, C: 90, D: None, E: 90},
    "nde_barnevern": {A: 20, B: 20, C: 20, D: 20, E: 30},
    "bv_barn_tiltak": {A: 100, B: 80, C: 60, D: 50, E: 40},
    "bv_us_innen_3mnd": {A: 90, B: 80, C: 70, D: 60, E: 100},
    "bv_andel_tiltaksplan": {A: 100, B: 90, C: 80, D: 70, E: None},
    "pop_total": {A: 10000, B: 5000, C: 5000, D: 4000, E: 3000},
    "pop_67_pluss": {A: 1000, B: 1000, C: None, D: 500, E: 500},
    "po_dekning_67": {A: 10, B: 20, C: 30, D: 15, E: 15},
    "bh_barn_per_ansatt": {A: 6, B: 6, C: 5, D: 7, E: 6},
    # Pleie og omsorg: A = nde (253+254+261), B / C = the age groups' assigned hours, D = inhabitants.
    # E's 0-66 hours are suppressed; C has no inhabitants 67+ (above).
    "nde_pleie_omsorg": {A: 300, B: 200, C: 150, D: 100, E: 100},
    "po_timer_uke_0_66": {A: 100, B: 48, C: 40, D: 20, E: None},
    "po_timer_uke_67_pluss": {A: 200, B: 152, C: 110, D: 80, E: 70},
    "pop_0_66": {A: 8000, B: 4000, C: 5000, D: 3500, E: 2500},
    "po_langtid_dager_0_66": {A: 120, B: 40, C: 40, D: 35, E: 30},
    "po_langtid_dager_67_pluss": {A: 500, B: 600, C: 300, D: 250, E: 200},
}
YEAR_2023_CHANGES = {("gs_gruppestorrelse", C): None}

# Cost index per (municipality, sector); D has none for barnevern (→ U missing).
COST_INDEX = {
    (A, "grunnskole"): 1.2,
    (B, "grunnskole"): 1.0,
    (C, "grunnskole"): 0.8,
    (D, "grunnskole"): 1.0,
    (E, "grunnskole"): 1.0,
    (A, "barnevern"): 1.0,
    (B, "barnevern"): 1.0,
    (C, "barnevern"): 1.0,
    (E, "barnevern"): 1.0,
    # The age groups read the sector's key (sector_functions.cost_key_sector).
    (A, "pleie_omsorg"): 1.25,
    (B, "pleie_omsorg"): 1.0,
    (C, "pleie_omsorg"): 1.0,
    (D, "pleie_omsorg"): 1.0,
    (E, "pleie_omsorg"): 1.0,
}

SECTOR_FUNCTIONS = (
    "sector,label_nb,funksjoner,expenditure_indicator_id,target_population_indicator_id,target_group_nb,"
    "cost_key_sector,hours_indicator_id,other_hours_indicator_id,source\n"
    "grunnskole,Grunnskole,202;213,nde_grunnskole,pop_6_15,innbyggere 6-15 år,,,,fixture\n"
    "barnevern,Barnevern,244;251;252,nde_barnevern,pop_0_17,innbyggere 0-17 år,,,,fixture\n"
    "pleie_omsorg,Pleie og omsorg,253;254;261,nde_pleie_omsorg,pop_total,innbyggere i alt,,,,fixture\n"
    "pleie_omsorg_0_66,Pleie og omsorg 0-66 år,253;254;261,nde_pleie_omsorg,pop_0_66,innbyggere 0-66 år,"
    "pleie_omsorg,po_timer_uke_0_66,po_timer_uke_67_pluss,fixture\n"
    "pleie_omsorg_67_pluss,Pleie og omsorg 67 år og over,253;254;261,nde_pleie_omsorg,pop_67_pluss,"
    "innbyggere 67 år og over,pleie_omsorg,po_timer_uke_67_pluss,po_timer_uke_0_66,fixture\n"
)
# v2 is the version the models read by default; v1 (an older version) must not leak into its P.
PRODUCTION_WEIGHTS = (
    "weights_version,sector,indicator_id,measure,weight,weight_basis,source\n"
    "v2,grunnskole,gs_elever,volume,0.6,cost_share,fixture\n"
    "v2,grunnskole,gs_grunnskolepoeng,value,0.2,proposed,fixture\n"
    "v2,grunnskole,gs_gruppestorrelse,value,0.2,proposed,fixture\n"
    "v2,barnevern,bv_barn_tiltak,volume,0.8,published,fixture: dekningsgradene 80 %\n"
    "v2,barnevern,bv_us_innen_3mnd,value,0.2,proposed,fixture\n"
    "v2,pleie_omsorg_0_66,po_langtid_dager_0_66,volume,1.0,proposed,fixture\n"
    "v2,pleie_omsorg_67_pluss,po_langtid_dager_67_pluss,volume,1.0,proposed,fixture\n"
    "v1,grunnskole,gs_elever,volume,1.0,proposed,fixture\n"
)
# The real (non-DEMO) cost keys' seed: the fixture has none, so every key is the cost_keys seed's.
COST_KEYS_GRONTHEFTE = "gronthefte_year,data_year,municipality_id,sector,cost_index,key_basis,source\n"
BAROMETER_SECTORS = (
    "barometer_sector,label_nb,weight,source\n"
    "grunnskole,Grunnskole,0.4,fixture\n"
    "barnevern,Barnevern,0.3,fixture\n"
    "kostnadsniva,Kostnadsnivå,0.2,fixture\n"
    "okonomi,Økonomi,0.1,fixture (no key figures)\n"
    "barnehage,Barnehage,0.0,fixture: only the whole-number key figure; never graded\n"
)
BAROMETER_KEY_FIGURES = (
    "barometer_sector,key_figure_id,source_kind,indicator_id,index_sector,polarity,weight,source\n"
    "grunnskole,gs_grunnskolepoeng,indicator,gs_grunnskolepoeng,,higher_better,0.4,fixture\n"
    "grunnskole,gs_gruppestorrelse,indicator,gs_gruppestorrelse,,lower_better,0.4,fixture\n"
    "grunnskole,gs_overgang_vg1_vg2,indicator,gs_overgang_vg1_vg2,,higher_better,0.2,fixture\n"
    "barnevern,bv_us_innen_3mnd,indicator,bv_us_innen_3mnd,,higher_better,0.5,fixture\n"
    "barnevern,bv_andel_tiltaksplan,indicator,bv_andel_tiltaksplan,,higher_better,0.5,fixture\n"
    "kostnadsniva,kostnadsniva_grunnskole,expenditure_index,,grunnskole,lower_better,1.0,fixture\n"
    "barnehage,bh_barn_per_ansatt,indicator,bh_barn_per_ansatt,,lower_better,1.0,fixture\n"
)
BAROMETER_PARAMETERS = (
    "parameter,value,source\n"
    "average_grade,3.5,fixture\n"
    "min_grade,1,fixture\n"
    "max_grade,6,fixture\n"
    "low_anchor_percentile,0.05,fixture\n"
    "high_anchor_percentile,0.95,fixture\n"
    "min_key_figure_share,0.6,fixture\n"
    "min_overall_weight_share,0.5,fixture\n"
    "average_reference,national_figure,fixture\n"
    "min_anchor_steps,10,fixture\n"
)


def value(indicator_id: str, municipality: str, year: int) -> float | None:
    """The fixture's value of one indicator, municipality and year (None = suppressed)."""
    if year == 2023 and (indicator_id, municipality) in YEAR_2023_CHANGES:
        return YEAR_2023_CHANGES[(indicator_id, municipality)]
    return VALUES_2024[indicator_id][municipality]


def write_seeds(seeds_dir: Path) -> Path:
    """Write the fixture's catalogue, reference and index seeds (same names and columns as the real ones)."""
    reference = seeds_dir / "reference"
    indices = seeds_dir / "indices"
    reference.mkdir(parents=True, exist_ok=True)
    indices.mkdir(parents=True, exist_ok=True)
    rows = [CATALOGUE_HEADER]
    for iid, (table, contents, funksjon, alder, polarity, kind) in CATALOGUE.items():
        art = "AGD2" if table == "12367" else ""
        scope = "A" if table == "12367" else ""
        sector = {
            "nde": "regnskap",
            "pop": "befolkning",
            "gs": "grunnskole",
            "bv": "barnevern",
            "po": "pleie_omsorg_67_pluss",
            "bh": "barnehage",
        }[iid.split("_")[0]]
        rows.append(
            f"{iid},{sector},{iid},{iid},{table},{contents},{funksjon},{art},{alder},{scope},x,{polarity},{kind},,,,"
            f",,confirmed,fixture,,,fixture,{WEIGHT_IDS.get(iid, '')}"
        )
    (seeds_dir / "indicator_catalogue.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (reference / "municipalities.csv").write_text(
        "municipality_code,name,valid_from_year,valid_to_year,successor_code,municipality_id,change_note,source\n"
        + "".join(f"{code},{name},2015,,,{code},,fixture\n" for code, name in MUNICIPALITIES.items()),
        encoding="utf-8",
    )
    (reference / "asss_membership.csv").write_text(
        "municipality_id,name,year,role,source\n"
        + "".join(f"{m},{MUNICIPALITIES[m]},{y},member,fixture\n" for y in YEARS for m in MEMBERS),
        encoding="utf-8",
    )
    (reference / "kostra_groups.csv").write_text(
        "municipality_code,year_from,year_to,kostra_group,grouping,source\n", encoding="utf-8"
    )
    (reference / "aggregate_regions.csv").write_text(
        "region_code,name,kind\nEAK,Landet,national\n", encoding="utf-8"
    )
    # No mergers or splits in this fixture; the groupings as the real seed has them.
    (reference / "region_successors.csv").write_text(
        "region_code,region_kind,successor_code,change_year,change_kind,share,is_on_series_borders,note,source\n",
        encoding="utf-8",
    )
    (reference / "kostra_groupings.csv").write_text(
        "kostra_grouping,klass_112_versions,first_year,last_year,numbering,source\n"
        "pre-2020,423; 1288,2015,2019,old,fixture\n"
        "2020,1450,2020,,new,fixture\n",
        encoding="utf-8",
    )
    cost_keys = ["municipality_id,sector,year,cost_index,source"]
    for (municipality, sector), index in COST_INDEX.items():
        cost_keys += [f"{municipality},{sector},{y},{index},fixture" for y in YEARS]
    (indices / "cost_keys.csv").write_text("\n".join(cost_keys) + "\n", encoding="utf-8")
    (indices / "cost_keys_gronthefte.csv").write_text(COST_KEYS_GRONTHEFTE, encoding="utf-8")
    (indices / "sector_functions.csv").write_text(SECTOR_FUNCTIONS, encoding="utf-8")
    (indices / "production_weights.csv").write_text(PRODUCTION_WEIGHTS, encoding="utf-8")
    (indices / "barometer_sectors.csv").write_text(BAROMETER_SECTORS, encoding="utf-8")
    (indices / "barometer_key_figures.csv").write_text(BAROMETER_KEY_FIGURES, encoding="utf-8")
    (indices / "barometer_parameters.csv").write_text(BAROMETER_PARAMETERS, encoding="utf-8")
    _copy_function_totals(indices)
    write_similarity_seeds(seeds_dir)
    return seeds_dir


def make_project(dest: Path) -> Path:
    """Copy the dbt project (code, and the seeds' YAML for their column types) with the fixture seeds."""
    shutil.copytree(
        DBT_PROJECT_DIR,
        dest,
        ignore=shutil.ignore_patterns("*.csv", "target", "logs", "dbt_packages", ".user.yml"),
    )
    write_seeds(dest / "seeds")
    return dest


def _cells() -> pa.Table:
    rows = []
    for year in YEARS:
        vintage = "unrevised" if year == 2024 else "revised"
        for iid, (table, contents, funksjon, alder, _polarity, _kind) in CATALOGUE.items():
            functions = funksjon.split(";") if funksjon else [None]
            regions = [*MUNICIPALITIES, *(["EAK"] if iid in NATIONAL_2024 else [])]
            for municipality in regions:
                total = NATIONAL_2024[iid] if municipality == "EAK" else value(iid, municipality, year)
                for function in functions:
                    rows.append(
                        {
                            "table_id": table,
                            "release_updated": RELEASE,
                            "vintage": vintage,
                            "contents_code": contents,
                            "region_code": municipality,
                            "period": str(year),
                            "year": year,
                            "funksjon": function,
                            "art": "AGD2" if function else None,
                            "regnskapsomfang": "A" if function else None,
                            "alder": alder or None,
                            "kjonn": None,
                            "other_dimensions": [],
                            # A function sum is split evenly over its functions.
                            "value": None if total is None else total / len(functions),
                            "status": ":" if total is None else None,
                            "landing_sha256": f"fixture-{table}",
                        }
                    )
    return pa.Table.from_pylist(rows, schema=RAW_CELLS_SCHEMA)


def build_raw(db_path: Path) -> Path:
    """Create ``db_path`` with the loader's raw schema holding the fixture cells."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db_path))
    try:
        con.execute(RAW_DDL)
        con.register("fixture_cells", _cells())
        con.execute("insert into raw.cells by name select * from fixture_cells")
        con.execute(
            """
            insert into raw.releases
            select table_id, release_updated, 'fixture ' || table_id, 'tests/fixtures_indices.py',
                   max(year), count(*), now()::timestamp
            from fixture_cells group by table_id, release_updated
            """
        )
    finally:
        con.close()
    return db_path


INDEX_SEED_HEADERS = {
    "cost_keys.csv": "municipality_id,sector,year,cost_index,source",
    "cost_keys_gronthefte.csv": COST_KEYS_GRONTHEFTE.splitlines()[0],
    "sector_functions.csv": SECTOR_FUNCTIONS.splitlines()[0],
    "production_weights.csv": PRODUCTION_WEIGHTS.splitlines()[0],
    "barometer_sectors.csv": BAROMETER_SECTORS.splitlines()[0],
    "barometer_key_figures.csv": BAROMETER_KEY_FIGURES.splitlines()[0],
    "barometer_parameters.csv": BAROMETER_PARAMETERS.splitlines()[0],
}


def write_empty_index_seeds(seeds_dir: Path) -> Path:
    """Write header-only index seeds, so a fixture project without indices still parses and builds (empty marts)."""
    indices = seeds_dir / "indices"
    indices.mkdir(parents=True, exist_ok=True)
    for name, header in INDEX_SEED_HEADERS.items():
        (indices / name).write_text(header + "\n", encoding="utf-8")
    _copy_function_totals(indices)
    write_similarity_seeds(seeds_dir)
    return seeds_dir


SIMILARITY_SEEDS = ("similarity_variables.csv", "similarity_parameters.csv")


def write_similarity_seeds(seeds_dir: Path, rows: dict[str, str] | None = None) -> Path:
    """The similarity seeds (issue 14): header-only by default, so a fixture without the structural
    variables parses and builds an empty similarity group; ``rows`` gives a file's body by name."""
    similarity = seeds_dir / "similarity"
    similarity.mkdir(parents=True, exist_ok=True)
    for name in SIMILARITY_SEEDS:
        real = (DBT_PROJECT_DIR / "seeds" / "similarity" / name).read_text(encoding="utf-8")
        header = real.splitlines()[0]
        body = (rows or {}).get(name, "")
        (similarity / name).write_text(header + "\n" + body, encoding="utf-8")
    return seeds_dir


def _copy_function_totals(indices: Path) -> None:
    """SSB's function hierarchy is a fact, not fixture data: the fixture projects use the real seed."""
    shutil.copy(
        DBT_PROJECT_DIR / "seeds" / "indices" / "function_totals.csv", indices / "function_totals.csv"
    )
