"""`kostra quality --members GROUP`: the data-quality report of the comparison group's members only.

On the report fixture (tests/report_fixture.py): members Oslo, Bergen, Bærum; Asker is a comparator, not a
member; findings about Bærum, Asker, Trondheim (outside the group) and a whole table.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.quality.run import MembersError, group_members, members_only
from tests import report_fixture


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("quality-members-home")
    report_fixture.build(home / "kostra.duckdb")
    return home


def _findings(rows):
    return pd.DataFrame(rows, columns=["municipality_id", "year", "message"])


def test_members_by_year_from_the_marts(warehouse):
    members = group_members(warehouse / "kostra.duckdb", "asss")
    assert set(members["municipality_id"]) == set(report_fixture.MEMBERS)
    assert set(members["municipality_name"]) == {"Oslo", "Bergen", "Bærum"}
    assert sorted(members["year"].unique()) == report_fixture.YEARS


def test_a_finding_counts_only_in_a_year_its_municipality_was_a_member():
    members = pd.DataFrame(
        {
            "municipality_id": ["3201", "3201", "3203"],
            "municipality_name": ["Bærum", "Bærum", "Asker"],
            "year": [2021, 2022, 2022],  # Asker joins in 2022
        }
    )
    findings = _findings(
        [
            ("3201", 2021, "Bærum 2021"),
            ("3203", 2021, "Asker before it joined"),
            ("3203", 2022, "Asker 2022"),
            ("3203", None, "Asker, no year"),
            ("5001", 2022, "Trondheim"),
            (None, None, "a whole table"),
        ]
    )
    kept, scope = members_only(findings, members, "asss")
    assert kept["message"].tolist() == ["Bærum 2021", "Asker 2022", "Asker, no year"]
    assert scope.group == "ASSS" and scope.members == ["Asker", "Bærum"] and scope.left_out == 3


def test_cli_members_counts_and_report(warehouse, tmp_path, monkeypatch, capsys):
    from pipeline.cli import main

    monkeypatch.setenv("KOSTRA_HOME", str(warehouse))
    assert main(["quality"]) == 0
    assert "published warehouse: 0 FATAL, 0 ERROR, 4 WARNING, 0 INFO" in capsys.readouterr().out
    out = tmp_path / "q"
    assert main(["quality", "--members", "ASSS", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert (
        "the 3 ASSS members (3 findings about other municipalities, aggregates or whole tables left out): "
        "0 FATAL, 0 ERROR, 1 WARNING, 0 INFO"
    ) in said
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "medlemmene i ASSS-nettverket" in html and 'id="members-scope"' in html
    assert "(Bergen, Bærum, Oslo)" in html and "3 funn om andre kommuner" in html
    assert "KOSandelspes0000: fra 8 til 5,6" in html
    for left_out in ("Asker: KOSgrstr20000", "Trondheim: KOSgrstr20000", "Tabell 12255: en kode"):
        assert left_out not in html
    listed = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    assert [f["municipality_id"] for f in listed] == ["3201"]


def test_the_whole_report_has_no_scope_line(warehouse, tmp_path, monkeypatch):
    from pipeline.cli import main

    monkeypatch.setenv("KOSTRA_HOME", str(warehouse))
    assert main(["quality", "--out", str(tmp_path / "q")]) == 0
    html = (tmp_path / "q" / "index.html").read_text(encoding="utf-8")
    assert 'id="members-scope"' not in html and "Trondheim: KOSgrstr20000" in html


def test_another_group_than_the_built_one_is_one_line(warehouse, monkeypatch, capsys):
    from pipeline.cli import main

    with pytest.raises(MembersError, match=r"^--members EKG13: the published warehouse is built for ASSS"):
        group_members(warehouse / "kostra.duckdb", "EKG13")
    monkeypatch.setenv("KOSTRA_HOME", str(warehouse))
    assert main(["quality", "--members", "EKG13"]) == 2
    err = capsys.readouterr()
    assert "--members EKG13: the published warehouse is built for ASSS" in err.err + err.out
    assert "Traceback" not in err.err + err.out
