"""Publish hygiene: a killed run's temporary copy is removed by the next publish, the warehouse is readable
by other accounts (0644 less the umask), and an empty build is not published over a good one."""

import os
import stat

import duckdb
import pytest

from pipeline.publish.warehouse import PublishError, connect_published, publish


def _build(home, rows: int) -> None:
    home.build_db.unlink(missing_ok=True)
    con = duckdb.connect(str(home.build_db))
    con.execute("create schema raw")
    con.execute(f"create table raw.cells as select range as x from range({rows})")
    con.close()


def test_a_killed_runs_copy_is_removed_by_the_next_publish(home):
    _build(home, 3)
    leftover = home.root / ".kostra.killed123.duckdb.tmp"
    leftover.write_bytes(b"x" * 1000)  # what a publish killed mid-copy leaves
    publish(home)
    assert not leftover.exists()
    assert not list(home.root.glob(".kostra.*.tmp"))


def test_the_warehouse_is_readable_by_other_accounts(home):
    _build(home, 3)
    old = os.umask(0o022)
    try:
        published = publish(home)
    finally:
        os.umask(old)
    assert stat.S_IMODE(published.path.stat().st_mode) == 0o644
    _build(home, 4)
    old = os.umask(0o077)  # a private umask is honoured
    try:
        published = publish(home)
    finally:
        os.umask(old)
    assert stat.S_IMODE(published.path.stat().st_mode) == 0o600


def test_an_empty_build_is_not_published(home):
    _build(home, 5)
    publish(home)
    _build(home, 0)
    with pytest.raises(PublishError, match="the build is empty"):
        publish(home)
    con = connect_published(home)
    assert con.execute("select count(*) from raw.cells").fetchone() == (5,)
    con.close()
    assert not list(home.root.glob(".kostra.*.tmp"))
