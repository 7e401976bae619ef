"""The reference nodes a build may leave as they are (pipeline.transform.reference_state): which nodes they are,
what their fingerprint covers, and when the build file's record lets a build leave them out."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import orjson
import pytest

from pipeline.config import DBT_PROJECT_DIR
from pipeline.transform import reference_state as rs

VARS = {"focus_municipality": "3201", "comparison_group": "ASSS", "extra_comparators": ["3203"]}


def _node(uid: str, parents: list[str] = (), folder: str = "staging", schema: str = "staging") -> tuple:
    kind, _, name = uid.split(".")
    return uid, {
        "resource_type": kind,
        "name": name,
        "schema": schema,
        "fqn": ["kostra", folder, name],
        "depends_on": {"nodes": list(parents)},
    }


# seed → reference view → reference table → mart; a source → cells model; tests on each and across.
MANIFEST = {
    "nodes": dict(
        [
            _node("seed.kostra.municipalities", folder="reference", schema="reference"),
            _node("model.kostra.stg_reference__municipalities", ["seed.kostra.municipalities"]),
            _node(
                "model.kostra.int_regions__names",
                ["model.kostra.stg_reference__municipalities"],
                folder="intermediate",
                schema="intermediate",
            ),
            _node(
                "model.kostra.comparison_group_members", ["model.kostra.int_regions__names"], "marts", "marts"
            ),
            _node("model.kostra.stg_ssb__cells", ["source.kostra.raw.cells"]),
            _node("test.kostra.unique_municipalities", ["seed.kostra.municipalities"]),
            _node("test.kostra.not_null_int_regions__names", ["model.kostra.int_regions__names"]),
            _node("test.kostra.not_null_comparison_group_members", ["model.kostra.comparison_group_members"]),
            _node(
                "test.kostra.relationships_cells_municipalities",
                ["model.kostra.stg_ssb__cells", "seed.kostra.municipalities"],
            ),
            _node("test.kostra.not_null_stg_ssb__cells", ["model.kostra.stg_ssb__cells"]),
        ]
    )
}


def test_the_reference_nodes_are_what_reads_no_source_outside_the_marts():
    nodes = rs.ReferenceNodes.of(MANIFEST)
    assert nodes.unique_ids == {
        "seed.kostra.municipalities",
        "model.kostra.stg_reference__municipalities",
        "model.kostra.int_regions__names",
        "test.kostra.unique_municipalities",
        "test.kostra.not_null_int_regions__names",
    }
    # Each after what it reads, as Dagster takes a multi-asset's outputs; tests are not outputs.
    assert nodes.in_order == (
        "seed.kostra.municipalities",
        "model.kostra.stg_reference__municipalities",
        "model.kostra.int_regions__names",
    )
    assert nodes.relations == (
        ("intermediate", "int_regions__names"),
        ("reference", "municipalities"),
        ("staging", "stg_reference__municipalities"),
    )
    assert "unique_municipalities" in nodes.names and "stg_ssb__cells" not in nodes.names


def test_a_node_whose_parent_is_unknown_is_never_left_out():
    manifest = {"nodes": dict([_node("model.kostra.stg_other", ["model.other_project.thing"])])}
    assert rs.ReferenceNodes.of(manifest).unique_ids == frozenset()


def test_the_project_s_reference_nodes_hold_every_seed_and_no_model_that_reads_cells():
    manifest = orjson.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_bytes())
    nodes = rs.ReferenceNodes.of(manifest)
    seeds = {uid for uid, n in manifest["nodes"].items() if n["resource_type"] == "seed"}
    assert seeds and seeds <= nodes.unique_ids
    assert "model.kostra.stg_reference__municipalities" in nodes.unique_ids
    for uid in ("model.kostra.stg_ssb__cells", "model.kostra.comparison_group_members"):
        assert uid not in nodes.unique_ids  # reads the cells; an analyst's mart
    assert not {uid for uid in nodes.unique_ids if uid.startswith("model.") and ".marts." in uid}


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "dbt_project"
    for part in rs.PROJECT_PARTS:
        source = DBT_PROJECT_DIR / part
        if source.is_dir():
            shutil.copytree(source, root / part)
        else:
            root.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, root / part)
    return root


def test_the_fingerprint_follows_the_project_files_and_the_vars(project: Path):
    first = rs.fingerprint(project, VARS)
    assert rs.fingerprint(project, dict(reversed(VARS.items()))) == first  # the order of the vars is not news
    assert rs.fingerprint(project, {**VARS, "focus_municipality": "4601"}) != first
    seed = project / "seeds" / "reference" / "municipalities.csv"
    seed.write_text(seed.read_text(encoding="utf-8") + "9999,Testby,2024,,,9999,,test\n", encoding="utf-8")
    assert rs.fingerprint(project, VARS) != first
    (project / "target").mkdir()
    edited = rs.fingerprint(project, VARS)
    (project / "target" / "manifest.json").write_text("{}")  # dbt's output is not the project
    assert rs.fingerprint(project, VARS) == edited
    (project / "macros" / "new_macro.sql").write_text("{% macro m() %}1{% endmacro %}")
    assert rs.fingerprint(project, VARS) != edited


def _build_file(path: Path) -> Path:
    con = duckdb.connect(str(path))
    for schema, table in rs.ReferenceNodes.of(MANIFEST).relations:
        con.execute(f"create schema if not exists {schema}")
        con.execute(f"create table {schema}.{table} (x integer)")
    con.close()
    return path


def test_a_build_file_leaves_the_reference_out_only_after_a_recorded_build_of_the_same_fingerprint(tmp_path):
    nodes = rs.ReferenceNodes.of(MANIFEST)
    db = _build_file(tmp_path / "build.duckdb")
    assert rs.recorded(tmp_path / "none.duckdb") is None
    assert not rs.plan(db, nodes, DBT_PROJECT_DIR, VARS).skip  # nothing recorded yet: built

    current = rs.fingerprint(DBT_PROJECT_DIR, VARS)
    rs.record(db, current)
    assert rs.recorded(db) == current
    assert rs.plan(db, nodes, DBT_PROJECT_DIR, VARS).skip
    assert rs.recorded(db) == current  # a step that leaves them out keeps the record

    # Other vars: rebuilt, and the record is gone until that build succeeds.
    changed = rs.plan(db, nodes, DBT_PROJECT_DIR, {**VARS, "comparison_group": "EKG13"})
    assert not changed.skip and rs.recorded(db) is None
    rs.record(db, changed.fingerprint)

    # A reference table dropped from the file: rebuilt, whatever the record says.
    con = duckdb.connect(str(db))
    con.execute("drop table intermediate.int_regions__names")
    con.close()
    assert rs.missing_relations(db, nodes.relations) == ["intermediate.int_regions__names"]
    assert not rs.plan(db, nodes, DBT_PROJECT_DIR, {**VARS, "comparison_group": "EKG13"}).skip
