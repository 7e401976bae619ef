"""The asset graph, snapshotted: every asset's key, group, kinds, description presence and upstream keys.

A change to the graph (a new asset, a moved group, a lost dependency) shows up as a diff of
tests/snapshots/asset_graph.json; after checking it is intended, rewrite the snapshot with
``KOSTRA_UPDATE_SNAPSHOTS=1 pytest tests/test_asset_graph.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # loads the Dagster definitions (and dagster-dbt's manifest)

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def graph() -> list[dict]:
    from orchestration.definitions import defs

    rows = []
    for spec in defs.resolve_all_asset_specs():
        rows.append(
            {
                "key": spec.key.to_user_string(),
                "group": spec.group_name,
                "kinds": sorted(spec.kinds),
                "has_description": bool(spec.description and spec.description.strip()),
                "deps": sorted(d.asset_key.to_user_string() for d in spec.deps),
            }
        )
    return sorted(rows, key=lambda r: r["key"])


def test_the_asset_graph_matches_its_snapshot():
    current = graph()
    if os.environ.get("KOSTRA_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert current == json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def test_every_asset_has_a_group_kinds_and_a_description():
    for row in graph():
        assert row["group"], row["key"]
        assert row["kinds"], row["key"]
        assert row["has_description"], row["key"]


def test_the_quality_stage_sits_between_the_two_dbt_steps():
    by_key = {r["key"]: r for r in graph()}
    assert "quality/findings" in by_key["staging/stg_quality__findings"]["deps"]
    assert "marts/indicator_values" in by_key["quality/findings"]["deps"]
    assert "marts/service_profile" in by_key["warehouse/published"]["deps"]
    assert "marts/dq_findings" in by_key["reports/quality_report"]["deps"]
