"""Which reference nodes a dbt build may leave as they are: the seeds and what is built from the seeds alone.

About 140 of the first dbt step's 227 nodes read no source: the 18 seeds, the reference staging views, the
tables built from seeds only (KOSTRA groups by year, region names, cost keys, the comparison group's members)
and their tests. They are a function of the project's files and the build's vars and of nothing a release
brings. When a build has built and tested them from the same project files, vars and dbt versions, the next
build of that file may leave them out: they are still in the file, as they were, and their tests passed on
exactly those rows. A new release then rebuilds what depends on the cells only.

The fingerprint of what they were built from is recorded in the build file itself (``build_state.reference``,
a private schema, not published), after a dbt step that built them has succeeded and removed before one that
rebuilds them starts, so it can never describe tables a failed build left half-written. Any change to a file
of ``dbt_project/`` (a seed, a model, a macro, a test, the profile), to the vars (focus municipality,
comparison group, comparators) or to the versions of dbt, dbt-duckdb or DuckDB rebuilds them all.

Marts are never left out, even those built from seeds alone: their tests are the asset checks analysts see in
each run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from graphlib import TopologicalSorter
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb

STATE_SCHEMA = "build_state"
STATE_TABLE = f"{STATE_SCHEMA}.reference"
# The project's own files: what a reference node's rows can depend on (dbt's target and logs cannot).
PROJECT_PARTS = ("dbt_project.yml", "profiles.yml", "macros", "models", "seeds", "tests")
VERSIONED = ("dbt-core", "dbt-duckdb", "duckdb")
# Nodes under this folder are analysts' tables, rebuilt and checked in every run.
MARTS_FOLDER = "marts"


def fingerprint(project_dir: Path, dbt_vars: Mapping[str, Any]) -> str:
    """sha256 of the project's files (path and bytes), the vars and the versions of dbt and DuckDB."""
    digest = hashlib.sha256()
    for part in PROJECT_PARTS:
        root = project_dir / part
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            if not path.exists():
                continue
            digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(json.dumps(dict(dbt_vars), sort_keys=True).encode())
    for dist in VERSIONED:
        digest.update(f"{dist}=={metadata.version(dist)}\0".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class ReferenceNodes:
    """The seeds, models and tests of a manifest that read no source, outside the marts."""

    unique_ids: frozenset[str]
    relations: tuple[tuple[str, str], ...]  # (schema, name) of each seed and model, as built
    names: tuple[str, ...]  # dbt selection names, for --exclude
    in_order: tuple[str, ...]  # the seeds and models, each after what it reads (as Dagster takes them)

    @classmethod
    def of(cls, manifest: Mapping[str, Any]) -> ReferenceNodes:
        nodes = manifest["nodes"]
        reads_source: dict[str, bool] = {}

        def has_source(unique_id: str) -> bool:
            if unique_id.startswith("source."):
                return True
            if unique_id not in reads_source:
                node = nodes.get(unique_id)
                # An unknown parent (another project's node) counts as a source: never skip on a guess.
                reads_source[unique_id] = node is None or any(
                    has_source(parent) for parent in node.get("depends_on", {}).get("nodes", [])
                )
            return reads_source[unique_id]

        def in_marts(node: Mapping[str, Any]) -> bool:
            return MARTS_FOLDER in node.get("fqn", [])[1:-1]

        kept = {
            uid
            for uid, node in nodes.items()
            if node["resource_type"] in {"seed", "model"} and not in_marts(node) and not has_source(uid)
        }
        # A test is left out when everything it reads is left out (a relationships test from a cells model
        # to a seed still runs).
        tests = {
            uid
            for uid, node in nodes.items()
            if node["resource_type"] == "test"
            and (parents := node.get("depends_on", {}).get("nodes", []))
            and all(parent in kept for parent in parents)
        }
        relations = tuple(
            sorted((nodes[uid]["schema"], nodes[uid].get("alias") or nodes[uid]["name"]) for uid in kept)
        )
        chosen = kept | tests
        graph = {uid: set(nodes[uid].get("depends_on", {}).get("nodes", [])) & kept for uid in sorted(kept)}
        return cls(
            frozenset(chosen),
            relations,
            tuple(sorted(nodes[uid]["name"] for uid in chosen)),
            tuple(TopologicalSorter(graph).static_order()),
        )


def recorded(build_db: Path) -> str | None:
    """The fingerprint the build file's reference nodes were last built from, or None."""
    if not build_db.exists():
        return None
    try:
        con = duckdb.connect(str(build_db), read_only=True)
    except duckdb.Error:
        return None
    try:
        row = con.execute(f"select fingerprint from {STATE_TABLE} limit 1").fetchone()
    except duckdb.CatalogException:  # a file no build has recorded into yet
        return None
    finally:
        con.close()
    return row[0] if row else None


def missing_relations(build_db: Path, relations: tuple[tuple[str, str], ...]) -> list[str]:
    """Which of ``relations`` the build file does not hold (all of them when there is no file)."""
    if not build_db.exists():
        return [f"{s}.{n}" for s, n in relations]
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        present = set(
            con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        )
    finally:
        con.close()
    return [f"{s}.{n}" for s, n in relations if (s, n) not in present]


def skippable(build_db: Path, nodes: ReferenceNodes, current: str) -> bool:
    """Whether a build of ``build_db`` may leave ``nodes`` out: built from ``current`` and all still there."""
    return recorded(build_db) == current and not missing_relations(build_db, nodes.relations)


@dataclass(frozen=True)
class Plan:
    """What a dbt step that builds every node does with the reference nodes."""

    nodes: ReferenceNodes
    fingerprint: str
    skip: bool  # leave them out (else build them, and record the fingerprint once the step succeeded)


def plan(build_db: Path, nodes: ReferenceNodes, project_dir: Path, dbt_vars: Mapping[str, Any]) -> Plan:
    """Whether the step leaves ``nodes`` out; when it builds them, the recorded fingerprint is forgotten first,
    so that a step that fails half-way leaves none behind."""
    current = fingerprint(project_dir, dbt_vars)
    skip = skippable(build_db, nodes, current)
    if not skip:
        forget(build_db)
    return Plan(nodes, current, skip)


def _write(build_db: Path, current: str | None) -> None:
    con = duckdb.connect(str(build_db))
    try:
        con.execute(f"create schema if not exists {STATE_SCHEMA}")
        con.execute(
            f"create or replace table {STATE_TABLE} (fingerprint varchar not null, recorded_at timestamptz)"
        )
        if current is not None:
            con.execute(f"insert into {STATE_TABLE} values (?, now())", [current])
    finally:
        con.close()


def record(build_db: Path, current: str) -> None:
    """After a dbt step that built and tested the reference nodes succeeded: they are from ``current``."""
    _write(build_db, current)


def forget(build_db: Path) -> None:
    """Before a dbt step rebuilds the reference nodes: until it succeeds, nothing describes them."""
    if build_db.exists() and recorded(build_db) is not None:
        _write(build_db, None)
