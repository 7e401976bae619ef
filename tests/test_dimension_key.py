"""The cell key has one definition (dbt macro dimension_key), and no two different cells share a key."""

import duckdb

from pipeline.quality.workspace import dimension_key_sql


def test_cells_that_differ_only_in_which_dimension_is_empty_get_different_keys():
    con = duckdb.connect()
    con.execute(
        "create table c (contents_code varchar, funksjon varchar, art varchar, regnskapsomfang varchar, "
        "alder varchar, kjonn varchar, other_dimensions varchar)"
    )
    con.execute("insert into c values ('K', '202', null, 'A', null, null, null)")
    con.execute("insert into c values ('K', null, '202', 'A', null, null, null)")
    con.execute("insert into c values ('K', '202', null, null, 'A', null, null)")
    keys = [k for (k,) in con.execute(f"select {dimension_key_sql()} from c").fetchall()]
    assert len(set(keys)) == 3, keys
    assert keys[0] == "K|202||A|||"


def test_the_staging_model_and_the_checks_use_the_macro():
    from pipeline import config
    from pipeline.quality import checks, workspace

    model = (config.DBT_PROJECT_DIR / "models" / "staging" / "ssb" / "stg_ssb__cells.sql").read_text()
    assert "{{ dimension_key() }} as dimension_key" in model
    assert checks.DIMENSION_KEY == workspace.dimension_key_sql() == workspace._DIMENSION_KEY
