"""A build of a home whose reference data is unchanged leaves the seeds, the reference models and their tests as
they are (pipeline.transform.reference_state), reports them current to Dagster, and still rebuilds and
publishes everything that reads the cells. A build whose publish step was skipped is not a success."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.defs.dbt import assets as dbt_assets
from pipeline.cli import main
from pipeline.config import REPO_ROOT
from pipeline.transform.reference_state import STATE_SCHEMA
from tests.demo_build import TINY_COMPARISON_ENV, copy_home

pytestmark = pytest.mark.slow

SEED = dg.AssetKey(["reference", "municipalities"])


MARKER = "before the build"
RELATIONS = {
    # left as they are: the seeds, the reference views and the tables built from them alone
    "reference.municipalities": "table",
    "reference.indicator_catalogue": "table",
    "staging.stg_reference__municipalities": "view",
    "intermediate.int_regions__names": "table",
    # built again: it reads the cells
    "marts.service_profile": "table",
}


def _mark(db: Path) -> None:
    """A comment on each relation of RELATIONS: a relation dbt creates again comes without it."""
    con = duckdb.connect(str(db))
    try:
        for relation, kind in RELATIONS.items():
            con.execute(f"comment on {kind} {relation} is '{MARKER}'")
    finally:
        con.close()


def _marked(db: Path) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select schema_name || '.' || table_name, comment from duckdb_tables() "
            "union all select schema_name || '.' || view_name, comment from duckdb_views() where not internal"
        ).fetchall()
    finally:
        con.close()
    return {relation for relation, comment in rows if comment == MARKER}


@pytest.fixture()
def tiny_copy(tiny_built_home: Path, tmp_path: Path, monkeypatch) -> Path:
    home = copy_home(tiny_built_home, tmp_path / "home")
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_bytes((REPO_ROOT / "orchestration" / "dagster.yaml").read_bytes())
    monkeypatch.setenv("KOSTRA_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    for name, value in TINY_COMPARISON_ENV.items():  # the vars the home was built with
        monkeypatch.setenv(name, value)
    return home


def test_an_unchanged_reference_is_left_as_it_is_and_the_build_publishes(tiny_copy: Path, capsys):
    build_db = tiny_copy / "build" / "kostra_build.duckdb"
    _mark(build_db)
    assert _marked(build_db) == set(RELATIONS)
    assert main(["build"]) == 0, capsys.readouterr().err[-3000:]
    # The reference relations were not created again; what reads the cells was built again, and published.
    assert _marked(build_db) == set(RELATIONS) - {"marts.service_profile"}
    con = duckdb.connect(str(tiny_copy / "kostra.duckdb"), read_only=True)
    try:
        schemas = {s for (s,) in con.execute("select schema_name from duckdb_schemas()").fetchall()}
        (focus,) = con.execute(
            "select distinct municipality_id from marts.service_profile where is_focus"
        ).fetchone()
    finally:
        con.close()
    assert STATE_SCHEMA not in schemas and "reference" in schemas
    assert focus == "4601"

    # Dagster saw the seed current, with the fingerprint it was built from as its data version.
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(SEED)
    materialization = event.asset_materialization
    assert "kostra/left_as_is" in materialization.metadata
    assert materialization.tags["dagster/data_version"]


def test_a_build_that_skips_its_publish_is_one_line_and_leaves_the_warehouse(
    tiny_copy: Path, monkeypatch, capsys
):
    """A dbt step that yields no outputs (as the step did before it reported the nodes it left out) makes
    Dagster skip every step that reads them, the publish too, and call the run a success: the command must
    not. The step here yields nothing and runs no dbt, so the test costs one Dagster run, not a build."""
    published = tiny_copy / "kostra.duckdb"
    inode = published.stat().st_ino
    monkeypatch.setattr(dbt_assets, "_run_dbt", lambda context, dbt, home, config: iter(()))
    assert main(["build"]) == 1
    err = capsys.readouterr().err
    assert "build ended without publishing: steps skipped:" in err and "warehouse__published" in err
    assert "Traceback" not in err
    assert published.stat().st_ino == inode
