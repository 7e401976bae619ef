"""Warehouse assets: the raw cells in the private build file, and the atomic publish for analysts."""

import dagster as dg

from orchestration.defs.dbt.assets import kostra_dbt_models, kostra_dbt_quality_models
from orchestration.defs.ssb.assets import ingest_assets
from orchestration.resources import HomeResource
from pipeline.landing.store import LandingStore
from pipeline.publish.warehouse import publish
from pipeline.raw.load import connect, load_pending

RAW_CELLS = dg.AssetKey(["raw", "cells"])
RAW_RELEASES = dg.AssetKey(["raw", "releases"])


def raw_tables_asset(ingest_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                RAW_CELLS,
                deps=ingest_keys,
                group_name="ingest",
                kinds={"duckdb", "python"},
                description=(
                    "raw.cells in the private build DuckDB: one row per published cell of every landed release, "
                    "with its vintage, release `updated` and landing sha256."
                ),
            ),
            dg.AssetSpec(
                RAW_RELEASES,
                deps=ingest_keys,
                group_name="ingest",
                kinds={"duckdb", "python"},
                description="raw.releases: one row per table release (table id + `updated`) loaded into the build file.",
            ),
        ],
        description=(
            "Load every landed fetch not loaded before into the build file. A landed object that cannot be "
            "loaded is quarantined in the landing store (recorded in raw.quarantined) and the others are loaded."
        ),
        name="raw_tables",
        pool="duckdb_build",
    )
    def raw_tables(context: dg.AssetExecutionContext, home: HomeResource):
        """Load every landed fetch not loaded before into the build file (idempotent); quarantine what cannot be."""
        h = home.home()
        con = connect(h.build_db)
        try:
            result = load_pending(
                con, LandingStore(h.landing), command=f"Dagster asset raw_tables, run {context.run.run_id}"
            )
            for q in result.quarantined:
                context.log.warning(
                    f"table {q.table_id}: landing object {q.sha256} quarantined, not loaded: {q.reason}"
                )
            in_quarantine = con.execute(
                "select count(*) from raw.quarantined where released_at is null"
            ).fetchone()[0]
            total, releases, tables = con.execute(
                "select count(*), count(distinct (table_id, release_updated)), count(distinct table_id) from raw.cells"
            ).fetchone()
            by_status = dict(
                con.execute(
                    "select coalesce(status, '(none)'), count(*) from raw.cells group by all order by 1"
                ).fetchall()
            )
            by_vintage = dict(con.execute("select vintage, count(*) from raw.cells group by all").fetchall())
            newest = con.execute("select max(release_updated) from raw.releases").fetchone()[0]
        finally:
            con.close()
        yield dg.MaterializeResult(
            asset_key=RAW_CELLS,
            metadata={
                "fetches_loaded_now": result.fetches_loaded,
                "cells_loaded_now": result.cells_loaded,
                "objects_quarantined_now": len(result.quarantined),
                "objects_in_quarantine": in_quarantine,
                "quarantined_now": dg.MetadataValue.md(
                    "\n".join(
                        f"- table {q.table_id}, `{q.sha256[:12]}`: {q.reason}" for q in result.quarantined
                    )
                    or "none"
                ),
                "dagster/row_count": total,
                "tables": tables,
                "cells_by_status": dg.MetadataValue.json(by_status),
                "cells_by_vintage": dg.MetadataValue.json(by_vintage),
            },
        )
        yield dg.MaterializeResult(
            asset_key=RAW_RELEASES,
            metadata={"dagster/row_count": releases, "newest_release_updated": str(newest or "")},
        )

    return raw_tables


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


# Module-level definitions, found by dg.load_defs: raw tables after every ingest asset; the publish after both
# dbt steps, so after the quality findings' blocking check (a FATAL finding stops everything after it).
raw_tables = raw_tables_asset([a.key for a in ingest_assets])
published = publish_asset([*kostra_dbt_models.keys, *kostra_dbt_quality_models.keys])
