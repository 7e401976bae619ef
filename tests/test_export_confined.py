"""`kostra export` writes only where it may: never over the pipeline's own files, atomically, into a named file
when given a directory, and it says where it wrote."""

from __future__ import annotations

import hashlib

import duckdb
import pytest

from pipeline.cli import main


@pytest.fixture()
def warehouse(home):
    con = duckdb.connect(str(home.published_db))
    con.execute("create schema raw; create table raw.cells as select 1 as x")
    con.execute("create table raw.releases as select 't' as source")
    con.execute(
        "create schema marts; create table marts.service_profile as "
        "select '3201' as municipality_id, 'gs_x' as indicator_id, 2024 as year, 1.5 as value"
    )
    con.close()
    home.build_dir.mkdir(parents=True, exist_ok=True)
    home.build_db.write_bytes(b"private build")
    return home


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "target",
    ["kostra.duckdb", "build/kostra_build.duckdb", "landing/x.csv", "versions/v.csv", "reports/q.csv"],
)
def test_the_pipelines_own_files_are_refused(warehouse, target, capsys):
    before = _digest(warehouse.published_db), _digest(warehouse.build_db)
    out = warehouse.root / target
    assert main(["export", "--what", "service_profile", "--format", "csv", "--out", str(out)]) == 1
    text = capsys.readouterr()
    said = (text.out + text.err).strip()
    assert "the pipeline's own" in said and "Traceback" not in said and len(said.splitlines()) == 1
    assert (_digest(warehouse.published_db), _digest(warehouse.build_db)) == before
    # A relative path that climbs into the home is refused the same way.
    rel = f"{warehouse.root}/exports/../{target}"
    assert main(["export", "--what", "service_profile", "--format", "csv", "--out", rel]) == 1
    assert (_digest(warehouse.published_db), _digest(warehouse.build_db)) == before


def test_a_directory_gets_a_named_file_and_no_leftovers(warehouse, tmp_path, capsys):
    folder = tmp_path / "exports"
    folder.mkdir()
    assert (
        main(
            [
                "export",
                "--what",
                "service_profile",
                "--municipality",
                "3201",
                "--format",
                "csv",
                "--out",
                str(folder),
            ]
        )
        == 0
    )
    written = folder / "service_profile_3201.csv"
    assert written.read_text().startswith('"municipality_id"')
    said = capsys.readouterr()
    assert str(written) in (said.out + said.err).replace("\n", "")  # the console writes to stderr
    assert [p.name for p in folder.iterdir()] == ["service_profile_3201.csv"]


def test_an_unwritable_place_is_one_line(warehouse, capsys):
    assert (
        main(["export", "--what", "service_profile", "--format", "csv", "--out", "/proc/kostra/x.csv"]) == 1
    )
    text = capsys.readouterr()
    assert "cannot write there" in text.out + text.err and "Traceback" not in text.out + text.err
