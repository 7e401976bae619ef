"""The relations every check reads, gathered in one in-memory DuckDB connection (the "workspace").

Checks never open the build file themselves: they query fixed relation names (``raw_cells``, ``cells``,
``indicator_cells``, ``revisions``, ``catalogue``,
``municipalities``, ``kostra_groups``, ``asss_membership``, ``aggregate_regions``), so a test can build the
same workspace from small DataFrames with :func:`from_frames` and a run builds it from the build DuckDB with
:func:`from_build_db`.

``cells`` is the newest publication of every cell: the dbt model ``int_cells__current`` where the build has
it (a view of the build file, never a copy in memory), else picked here from ``raw_cells``.
``indicator_cells`` holds one value per catalogue indicator, region and year (the newest release): the dbt
model ``int_cells__catalogue_matched`` where the build has it, else the same matching done here from
``raw_cells`` (ages and sexes of 07459, listed functions of 12367 summed). Checks that reason about an
indicator (IPLOS users and hours by age group, denominators) read it by indicator id, never by table codes.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from pipeline import config
from pipeline.reference import catalogue, seeds

# Columns of ``raw_cells`` the checks use (docs/architecture.md, "Raw schema"); other_dimensions as text.
RAW_COLUMNS = [
    "table_id",
    "release_updated",
    "vintage",
    "contents_code",
    "region_code",
    "period",
    "year",
    "funksjon",
    "art",
    "regnskapsomfang",
    "alder",
    "kjonn",
    "other_dimensions",
    "value",
    "status",
]


def dimension_key_sql(other_dimensions: str = "cast(other_dimensions as varchar)") -> str:
    """The dbt macro ``dimension_key`` rendered with Jinja2: the key has one definition, in dbt."""
    import jinja2

    macro = (config.DBT_PROJECT_DIR / "macros" / "dimension_key.sql").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=False)  # noqa: S701 - SQL, not HTML
    module = env.from_string(macro).module
    return str(module.dimension_key(other_dimensions=other_dimensions)).strip()


_DIMENSION_KEY = dimension_key_sql()

# The newest publication of every cell: what the statbank shows today (June figures where there are any).
# A build has it as the dbt model int_cells__current; this is for frames and a build whose dbt run stopped.
# Built one data year at a time (_create_by_year): the window partitions by period, so a year's cells never
# meet another year's, and the peak memory is one year's, not every raw cell's.
_CURRENT_CELLS = f"""
select table_id, region_code, period, year, vintage, release_updated, contents_code, funksjon, art,
       regnskapsomfang, alder, kjonn, {_DIMENSION_KEY} as dimension_key, value, status
from raw_cells
where {{year_filter}}
qualify row_number() over (
    partition by table_id, region_code, period, contents_code, funksjon, art, regnskapsomfang, alder, kjonn,
                 cast(other_dimensions as varchar)
    order by release_updated desc
) = 1
"""

# Without the dbt model (a build whose dbt run stopped early; a test's frames), the same matching is done
# here from raw_cells and the catalogue, by int_cells__catalogue_matched's rules: a catalogue row serves its
# own years; listed functions and ages, and unfiltered dimensions (07459's Kjonn), are summed; the sum is
# NULL when a listed code is missing or a cell carries a status other than '-' (SSB's zero).
_INDICATOR_CELLS_FROM_RAW = """
create or replace table indicator_cells_all as
with raw as (
    select * from raw_cells
    qualify row_number() over (
        partition by table_id, release_updated, region_code, period, contents_code, funksjon, art,
                     regnskapsomfang, alder, kjonn, cast(other_dimensions as varchar)
        order by value, status
    ) = 1
),
-- A table's catalogue rows all filter the same columns (the seed's rule), so a cell's join key holds exactly
-- those: one hash join, not every cell against every age of every population row.
keyed as (
    select c.*,
           case when t.by_funksjon then coalesce(c.funksjon, '') else '' end as k_funksjon,
           case when t.by_art then coalesce(c.art, '') else '' end as k_art,
           case when t.by_alder then coalesce(c.alder, '') else '' end as k_alder,
           case when t.by_regnskapsomfang then coalesce(c.regnskapsomfang, '') else '' end as k_regnskapsomfang
    from raw c join _catalogue_filters t using (table_id)
),
matched as (
    select k.indicator_id, k.functions_expected, k.ages_expected, c.table_id, c.contents_code, c.region_code,
           c.year, c.vintage, c.release_updated, c.funksjon, c.alder, c.status,
           case when c.value is null and c.status = '-' then 0 else c.value end as value
    from keyed c
    join _catalogue_cells k
      on c.table_id = k.table_id and c.contents_code = k.contents_code
     and c.k_funksjon = coalesce(k.funksjon, '') and c.k_art = coalesce(k.art, '')
     and c.k_alder = coalesce(k.alder, '') and c.k_regnskapsomfang = coalesce(k.regnskapsomfang, '')
     and c.year between coalesce(k.first_year, 0) and coalesce(k.last_year, 9999)
),
summed as (
    select indicator_id, table_id, contents_code, region_code, year, vintage, release_updated,
           count(*) as cells_matched,
           count(distinct funksjon) as functions_found, max(functions_expected) as functions_expected,
           count(distinct alder) as ages_found, max(ages_expected) as ages_expected,
           bool_and(value is not null) as all_cells_have_values,
           sum(value) as value_sum,
           list_sort(list_distinct(list(status) filter (where status != '-'))) as other_statuses,
           count(*) filter (where status = '-') as zero_cells
    from matched group by all
)
select indicator_id, table_id, contents_code, region_code, year, vintage, release_updated,
       case when not all_cells_have_values then null
            when functions_expected is not null and functions_found < functions_expected then null
            when ages_expected is not null and ages_found < ages_expected then null
            else value_sum end as value,
       case when len(other_statuses) > 0 then array_to_string(other_statuses, ' ')
            when zero_cells = cells_matched then '-' end as status
from summed
"""


def catalogue_cells() -> pd.DataFrame:
    """The cells each fetched catalogue row reads: one row per listed function and age (ranges expanded)."""
    rows = []
    for r in catalogue.fetched_rows().to_dict("records"):
        funksjon = catalogue.split_codes(r["funksjon"])
        alder = catalogue.split_codes(r["alder"])
        for f in funksjon or [None]:
            for a in alder or [None]:
                rows.append(
                    {
                        "indicator_id": r["indicator_id"],
                        "table_id": r["table_id"],
                        "contents_code": r["contents_code"],
                        "funksjon": f,
                        "art": r["art"] or None,
                        "alder": a,
                        "regnskapsomfang": r["regnskapsomfang"] or None,
                        "first_year": None if pd.isna(r["first_year"]) else int(r["first_year"]),
                        "last_year": None if pd.isna(r["last_year"]) else int(r["last_year"]),
                        "functions_expected": len(funksjon) or None,
                        "ages_expected": len(alder) or None,
                    }
                )
    df = pd.DataFrame(rows)
    for col in ("first_year", "last_year", "functions_expected", "ages_expected"):
        df[col] = df[col].astype("Int64")
    return df


def catalogue_filters(cells: pd.DataFrame) -> pd.DataFrame:
    """Per table, which filter columns its catalogue rows use (``by_<column>``)."""
    cols = ("funksjon", "art", "alder", "regnskapsomfang")
    return (
        cells.assign(**{f"by_{c}": cells[c].notna() for c in cols})
        .groupby("table_id", as_index=False)[[f"by_{c}" for c in cols]]
        .any()
    )


_INDICATOR_CELLS = """
select indicator_id, table_id, contents_code, region_code, year, vintage, release_updated, value, status
from indicator_cells_all
where {year_filter}
qualify row_number() over (partition by indicator_id, region_code, year order by release_updated desc) = 1
"""

# What the first dbt step built that the checks read; the flagged marts come after the checks.
OPTIONAL_MARTS = {
    "quarantined": "raw.quarantined",
    "revisions": "marts.revisions",
    "indicator_cells_all": "intermediate.int_cells__catalogue_matched",
    "cells": "intermediate.int_cells__current",
}
# The columns of ``cells``, as _CURRENT_CELLS selects them and int_cells__current holds them.
CELL_COLUMNS = [
    "table_id",
    "region_code",
    "period",
    "year",
    "vintage",
    "release_updated",
    "contents_code",
    "funksjon",
    "art",
    "regnskapsomfang",
    "alder",
    "kjonn",
    "dimension_key",
    "value",
    "status",
]


def _register_reference(con: duckdb.DuckDBPyConnection) -> None:
    frames = {
        "catalogue": catalogue.load_catalogue(),
        "municipalities": seeds.municipalities(),
        "kostra_groups": seeds.kostra_groups(),
        "asss_membership": seeds.asss_membership(),
        "aggregate_regions": seeds.aggregate_regions(),
        "region_successors": seeds.region_successors(),
    }
    for name, df in frames.items():
        con.register(f"_{name}_df", df)
        con.execute(f"create or replace table {name} as select * from _{name}_df")
        con.unregister(f"_{name}_df")


def has_relation(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the workspace itself (not an attached file) holds a table or view called ``name``."""
    sql = (
        "select count(*) from (select database_name d, table_name n from duckdb_tables() "
        "union all select database_name, view_name from duckdb_views() where not internal) "
        "where n = ? and d = current_database()"
    )
    return con.execute(sql, [name]).fetchall()[0][0] > 0


# DuckDB's memory in the workspace (KOSTRA_DUCKDB_MEMORY_LIMIT where that is smaller). The checks read the
# build file's tables through views; what DuckDB caches of them is not needed twice. On the whole demo the
# quality stage took the same 4.3 s within 300MB as with DuckDB's default (80 % of RAM), and its process grew
# by 0.36 GB instead of 0.46 GB (measured alone, 4 December 2026).
WORKSPACE_MEMORY_LIMIT = "300MB"


def from_build_db(build_db: Path) -> duckdb.DuckDBPyConnection:
    """A workspace over the build file (attached read-only): the dbt models it has are views, what it lacks is
    materialised once."""
    build_db = Path(build_db)
    if not build_db.exists():
        raise FileNotFoundError(
            f"data quality: build file {build_db} does not exist; run `kostra build` first"
        )
    # In memory, within WORKSPACE_MEMORY_LIMIT (or a smaller KOSTRA_DUCKDB_MEMORY_LIMIT): DuckDB spills what
    # does not fit beside the build file (its default for an in-memory database is .tmp in the working directory).
    con = duckdb.connect(
        config={
            "temp_directory": str(build_db.resolve().parent / "quality_workspace.tmp"),
            "memory_limit": config.memory_limit_at_most(WORKSPACE_MEMORY_LIMIT),
        }
    )
    con.execute("attach ? as build (read_only)", [str(build_db)])  # a path is a value, never SQL text
    present = {
        f"{s}.{t}"
        for s, t in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'build' "
            "union all select schema_name, view_name from duckdb_views() where database_name = 'build'"
        ).fetchall()
    }
    if "raw.cells" not in present:
        raise ValueError(f"data quality: {build_db} has no raw.cells table; nothing has been loaded")
    cols = ", ".join(RAW_COLUMNS)
    con.execute(f"create view raw_cells as select {cols} from build.raw.cells")
    for name, source in OPTIONAL_MARTS.items():
        if source in present:
            # A view: the checks read the build file's table where it lies, not a copy in memory.
            cols = ", ".join(CELL_COLUMNS) if name == "cells" else "*"
            con.execute(f"create view {name} as select {cols} from build.{source}")
    _finish(con)
    return con


def from_frames(raw_cells: pd.DataFrame, **optional: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    """A workspace from DataFrames (tests, notebooks). ``optional`` takes any name of ``OPTIONAL_MARTS``."""
    unknown = set(optional) - set(OPTIONAL_MARTS)
    if unknown:
        raise ValueError(f"from_frames: unknown relations {sorted(unknown)}; known: {sorted(OPTIONAL_MARTS)}")
    missing = [
        c for c in RAW_COLUMNS if c not in raw_cells.columns and c not in ("other_dimensions", "period")
    ]
    if missing:
        raise ValueError(f"from_frames: raw_cells lacks columns {missing}")
    con = duckdb.connect()
    raw = raw_cells.copy()
    for col in RAW_COLUMNS:
        if col not in raw.columns:
            raw[col] = raw["year"].astype(str) if col == "period" else None
    con.register("_raw_df", raw[RAW_COLUMNS])
    con.execute(
        "create table raw_cells as select * replace (cast(other_dimensions as varchar) as other_dimensions, "
        "cast(value as double) as value, cast(year as integer) as year, cast(status as varchar) as status, "
        "cast(release_updated as timestamp) as release_updated) from _raw_df"
    )
    con.unregister("_raw_df")
    for name, df in optional.items():
        con.register(f"_{name}_df", df)
        con.execute(f"create table {name} as select * from _{name}_df")
        con.unregister(f"_{name}_df")
    _finish(con)
    return con


def _create_by_year(
    con: duckdb.DuckDBPyConnection, table: str, select: str, source: str, only: list[int] | None = None
) -> None:
    """``create table <table> as <select>``, run once per data year of ``source`` (``{year_filter}`` in
    ``select`` is where the year goes). The same rows as one statement when every window of ``select``
    partitions by year (or by period, which lies in one year), with a year's memory at a time."""
    con.execute(f"create or replace table {table} as {select.replace('{year_filter}', 'false')}")
    years = [y for (y,) in con.execute(f"select distinct year from {source} order by 1").fetchall()]
    years = years if only is None else [y for y in years if y in only]
    for year in years:
        con.execute(
            f"insert into {table} {select.replace('{year_filter}', 'year is not distinct from ?')}", [year]
        )


def current_cells_from_raw(
    con: duckdb.DuckDBPyConnection, table: str, years: list[int] | None = None
) -> None:
    """Table ``table``: the newest publication of every cell (of ``years``, default all), picked here from
    ``raw_cells`` (what int_cells__current holds in a build)."""
    _create_by_year(con, table, _CURRENT_CELLS, "raw_cells", years)


def _finish(con: duckdb.DuckDBPyConnection) -> None:
    _register_reference(con)
    if not has_relation(con, "cells"):
        current_cells_from_raw(con, "cells")
    if not has_relation(con, "indicator_cells_all"):
        cells = catalogue_cells()
        con.register("_catalogue_cells", cells)
        con.register("_catalogue_filters", catalogue_filters(cells))
        try:
            con.execute(_INDICATOR_CELLS_FROM_RAW)
        finally:
            con.unregister("_catalogue_cells")
            con.unregister("_catalogue_filters")
    _create_by_year(con, "indicator_cells", _INDICATOR_CELLS, "indicator_cells_all")


def close(con: duckdb.DuckDBPyConnection) -> None:
    """Detach the build file before closing, so a writer can open it right after in this process."""
    try:
        if con.execute("select count(*) from duckdb_databases() where database_name = 'build'").fetchall()[0][
            0
        ]:
            con.execute("detach build")
    finally:
        con.close()
