"""`kostra query` can only read: one statement, reading kinds only, no files, URLs or extensions, and the
configuration locked. Every refusal is one line; the warehouse and the build file are untouched."""

from __future__ import annotations

import hashlib

import duckdb
import pytest

from pipeline.cli import main


@pytest.fixture()
def warehouse(home):
    con = duckdb.connect(str(home.published_db))
    con.execute("create schema marts; create table marts.t as select range as x from range(3)")
    con.close()
    home.build_db.write_bytes(b"private build")
    return home


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "sql",
    [
        "select count(*) from marts.t",
        "with a as (select x from marts.t) select max(x) from a",
        "describe marts.t",
        "show tables",
        "summarize marts.t",
        "explain select * from marts.t",
        "from marts.t",
    ],
)
def test_reading_statements_run(warehouse, sql, capsys):
    assert main(["query", "--csv", sql]) == 0
    assert capsys.readouterr().out


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("copy (select 1) to '{build}'", "copy statements are not allowed"),
        ("export database '/tmp/kostra-export-test'", "export statements are not allowed"),
        ("install httpfs", "load statements are not allowed"),
        ("load httpfs", "load statements are not allowed"),
        ("select 1; select 2", "one statement at a time, got 2"),
        ("attach '/tmp/x.duckdb' as x", "attach statements are not allowed"),
        ("set enable_external_access = true", "set statements are not allowed"),
        ("create table marts.u as select 1", "create statements are not allowed"),
        ("pragma version", "pragma statements are not allowed"),
        ("selec 1", "does not parse"),
    ],
)
def test_everything_else_is_refused_in_one_line(warehouse, sql, says, capsys):
    before = _digest(warehouse.published_db), _digest(warehouse.build_db)
    assert main(["query", sql.format(build=warehouse.build_db)]) == 2
    err = capsys.readouterr()
    text = (err.out + err.err).strip()
    assert says in text and "Traceback" not in text and len(text.splitlines()) == 1
    assert (_digest(warehouse.published_db), _digest(warehouse.build_db)) == before


@pytest.mark.parametrize(
    "sql",
    [
        "select * from read_text('/etc/passwd')",
        "select * from read_csv('/etc/passwd')",
        "select * from glob('/root/*')",
        "select * from read_parquet('https://example.invalid/x.parquet')",
        # DuckDB's own messages for these span several lines (a hint; the statement quoted with a caret).
        "select * from '/etc/passwd'",
        "explain analyze select * from read_text('/etc/passwd')",
    ],
)
def test_files_and_urls_cannot_be_read(warehouse, sql, capsys):
    assert main(["query", sql]) == 2
    err = capsys.readouterr()
    text = (err.out + err.err).strip()
    assert "query failed" in text
    assert len(text.splitlines()) == 1 and "Traceback" not in text  # one line saying why
    assert "root:" not in err.out  # nothing of /etc/passwd was shown


def test_a_published_file_that_is_not_duckdb_is_one_line(home, capsys):
    home.published_db.write_bytes(b"not a duckdb file")
    assert main(["query", "select 1"]) == 2
    err = capsys.readouterr()
    text = (err.out + err.err).strip()
    assert "does not open as a warehouse" in text
    assert "Traceback" not in text and len(text.splitlines()) == 1
