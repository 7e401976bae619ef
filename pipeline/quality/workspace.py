"""The relations every check reads, gathered in one in-memory DuckDB connection (the "workspace").

Checks never open the build file themselves: they query fixed relation names (``raw_cells``, ``cells``,
``indicator_cells``, ``revisions``, ``service_profile``, ``sector_indices``, ``catalogue``,
``municipalities``, ``kostra_groups``, ``asss_membership``, ``aggregate_regions``), so a test can build the
same workspace from small DataFrames with :func:`from_frames` and a run builds it from the build DuckDB with
:func:`from_build_db`.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from pipeline import catalogue, reference

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

_DIMENSION_KEY = (
    "concat_ws('|', contents_code, funksjon, art, regnskapsomfang, alder, kjonn, "
    "cast(other_dimensions as varchar))"
)

# The newest publication of every cell: what the statbank shows today (June figures where there are any).
_CURRENT_CELLS = f"""
create or replace table cells as
select table_id, region_code, period, year, vintage, release_updated, contents_code, funksjon, art,
       regnskapsomfang, alder, kjonn, {_DIMENSION_KEY} as dimension_key, value, status
from raw_cells
qualify row_number() over (
    partition by table_id, region_code, period, contents_code, funksjon, art, regnskapsomfang, alder, kjonn,
                 cast(other_dimensions as varchar)
    order by release_updated desc
) = 1
"""

_INDICATOR_CELLS = """
create or replace table indicator_cells as
select indicator_id, table_id, contents_code, region_code, year, vintage, release_updated, value, status
from indicator_cells_all
qualify row_number() over (partition by indicator_id, region_code, year order by release_updated desc) = 1
"""

OPTIONAL_MARTS = {
    "revisions": "marts.revisions",
    "service_profile": "marts.service_profile",
    "sector_indices": "marts.sector_indices",
    "indicator_cells_all": "intermediate.int_cells__catalogue_matched",
}


def _register_reference(con: duckdb.DuckDBPyConnection) -> None:
    frames = {
        "catalogue": catalogue.load_catalogue(),
        "municipalities": reference.municipalities(),
        "kostra_groups": reference.kostra_groups(),
        "asss_membership": reference.asss_membership(),
        "aggregate_regions": reference.aggregate_regions(),
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


def from_build_db(build_db: Path) -> duckdb.DuckDBPyConnection:
    """A workspace over the build file (attached read-only); the current cells are materialised once."""
    build_db = Path(build_db)
    if not build_db.exists():
        raise FileNotFoundError(
            f"data quality: build file {build_db} does not exist; run `kostra build` first"
        )
    con = duckdb.connect()
    con.execute(f"attach '{build_db}' as build (read_only)")
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
            con.execute(f"create view {name} as select * from build.{source}")
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


def _finish(con: duckdb.DuckDBPyConnection) -> None:
    _register_reference(con)
    con.execute(_CURRENT_CELLS)
    if has_relation(con, "indicator_cells_all"):
        con.execute(_INDICATOR_CELLS)


def close(con: duckdb.DuckDBPyConnection) -> None:
    """Detach the build file before closing, so a writer can open it right after in this process."""
    try:
        if con.execute("select count(*) from duckdb_databases() where database_name = 'build'").fetchall()[0][
            0
        ]:
            con.execute("detach build")
    finally:
        con.close()
