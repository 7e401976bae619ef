"""Warehouse assets: the raw cells in the private build file, and the atomic publish for analysts."""

from __future__ import annotations

import dagster as dg

from orchestration.resources import HomeResource
from pipeline.landing import LandingStore
from pipeline.load import connect, load_pending
from pipeline.publish import publish

RAW_CELLS = dg.AssetKey(["raw", "cells"])


def raw_cells_asset(ingest_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=RAW_CELLS,
        deps=ingest_keys,
        group_name="ingest",
        kinds={"duckdb", "python"},
        pool="duckdb_build",
        description=(
            "raw.cells in the private build DuckDB: one row per published cell of every landed release, with "
            "its vintage, release `updated` and landing sha256. Loads only fetches not loaded before."
        ),
    )
    def raw_cells(context: dg.AssetExecutionContext, home: HomeResource) -> dg.MaterializeResult:
        h = home.home()
        con = connect(h.build_db)
        try:
            result = load_pending(con, LandingStore(h.landing))
            total, releases, tables = con.execute(
                "select count(*), count(distinct (table_id, release_updated)), count(distinct table_id) from raw.cells"
            ).fetchone()
            by_status = dict(
                con.execute(
                    "select coalesce(status, '(none)'), count(*) from raw.cells group by all order by 1"
                ).fetchall()
            )
            by_vintage = dict(con.execute("select vintage, count(*) from raw.cells group by all").fetchall())
        finally:
            con.close()
        return dg.MaterializeResult(
            metadata={
                "fetches_loaded_now": result.fetches_loaded,
                "cells_loaded_now": result.cells_loaded,
                "dagster/row_count": total,
                "releases": releases,
                "tables": tables,
                "cells_by_status": dg.MetadataValue.json(by_status),
                "cells_by_vintage": dg.MetadataValue.json(by_vintage),
            }
        )

    return raw_cells


def publish_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["warehouse", "published"]),
        deps=upstream,
        group_name="publish",
        kinds={"duckdb"},
        pool="duckdb_build",
        description=(
            "The analyst warehouse warehouse/kostra.duckdb: a copy of the build file renamed into place "
            "atomically, so readers are never blocked and never see half a build. Previous versions are kept."
        ),
    )
    def published(context: dg.AssetExecutionContext, home: HomeResource) -> dg.MaterializeResult:
        result = publish(home.home())
        return dg.MaterializeResult(
            metadata={
                "path": str(result.path),
                "bytes": result.bytes,
                "previous_version": str(result.previous) if result.previous else "",
            }
        )

    return published
