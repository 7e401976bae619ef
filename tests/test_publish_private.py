"""The analyst's file holds raw, reference and marts: dbt's staging and intermediate layers stay private."""

import duckdb

from pipeline.publish.warehouse import publish


def test_staging_and_intermediate_are_not_published(home):
    con = duckdb.connect(str(home.build_db))
    con.execute("create schema raw; create table raw.cells as select 1 as x")
    con.execute("create schema staging; create view staging.stg as select * from raw.cells")
    con.execute("create schema intermediate; create table intermediate.int_x as select 2 as y")
    con.execute("create schema marts; create table marts.service_profile as select 3 as z")
    con.close()
    publish(home)
    pub = duckdb.connect(str(home.published_db), read_only=True)
    schemas = {
        s
        for (s,) in pub.execute(
            "select schema_name from duckdb_schemas() where database_name = current_database()"
        ).fetchall()
    }
    assert {"raw", "marts"} <= schemas and not schemas & {"staging", "intermediate"}
    assert pub.execute("select z from marts.service_profile").fetchone() == (3,)
    pub.close()
    # The private build keeps them for the quality checks and the next build.
    build = duckdb.connect(str(home.build_db), read_only=True)
    assert build.execute("select y from intermediate.int_x").fetchone() == (2,)
    build.close()
