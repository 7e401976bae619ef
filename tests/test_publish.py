"""Publishing: atomic replace, readers never blocked, previous versions kept, a bad build never published."""

import multiprocessing as mp
import time

import duckdb
import pytest

from pipeline.publish.warehouse import PublishError, connect_published, publish


def _build(home, n: int) -> None:
    con = duckdb.connect(str(home.build_db))
    con.execute("create schema if not exists raw")
    con.execute("create or replace table raw.cells as select range as id, ? as build from range(?)", [n, n])
    con.close()


def _reader(path: str, stop, out) -> None:
    seen, errors = set(), []
    while not stop.is_set():
        try:
            con = duckdb.connect(path, read_only=True)
            n, build = con.execute("select count(*), min(build) from raw.cells").fetchone()
            con.close()
            # A complete build has exactly `build` rows; anything else is half a build.
            if n != build:
                errors.append(f"saw {n} rows of build {build}")
            seen.add(build)
        except Exception as exc:  # any reader error fails the test
            errors.append(repr(exc))
    out.put((sorted(seen), errors))


def test_publish_replaces_atomically_and_keeps_versions(home):
    _build(home, 10)
    first = publish(home)
    assert first.previous is None
    _build(home, 20)
    second = publish(home, keep=1)
    assert second.previous is not None and second.previous.exists()
    con = connect_published(home)
    assert con.execute("select count(*) from raw.cells").fetchone() == (20,)
    con.close()
    # The kept version is the previous build.
    old = duckdb.connect(str(second.previous), read_only=True)
    assert old.execute("select count(*) from raw.cells").fetchone() == (10,)
    old.close()
    _build(home, 30)
    publish(home, keep=1)
    assert len(list(home.versions_dir.glob("kostra-*.duckdb"))) == 1


def test_readers_holding_the_warehouse_open_never_block_or_see_half_a_build(home):
    _build(home, 1000)
    publish(home)
    ctx = mp.get_context("spawn")
    out, stop = ctx.Queue(), ctx.Event()
    # Readers read until every publish is done and a moment after (not a fixed deadline: a loaded machine
    # publishes slower, and each reader must still see the newest build).
    readers = [ctx.Process(target=_reader, args=(str(home.published_db), stop, out)) for _ in range(3)]
    for r in readers:
        r.start()
    # A reader that holds a connection open through every publish.
    holder = duckdb.connect(str(home.published_db), read_only=True)
    for n in (2000, 3000, 4000):
        time.sleep(0.5)
        _build(home, n)
        publish(home)  # must not wait for, or fail on, any reader
    time.sleep(1)
    stop.set()
    assert holder.execute("select count(*) from raw.cells").fetchone() == (1000,)  # its snapshot stays whole
    holder.close()
    results = [out.get(timeout=30) for _ in readers]
    for r in readers:
        r.join()
    for seen, errors in results:
        assert errors == []
        assert max(seen) == 4000  # every reader ends on the newest build


def test_a_missing_build_is_not_published_and_the_old_warehouse_stays(home):
    _build(home, 5)
    publish(home)
    home.build_db.unlink()
    with pytest.raises(PublishError, match="does not exist"):
        publish(home)
    con = connect_published(home)
    assert con.execute("select count(*) from raw.cells").fetchone() == (5,)
    con.close()


def test_a_broken_build_file_is_not_published(home):
    _build(home, 5)
    publish(home)
    home.build_db.write_bytes(b"not a duckdb file")
    with pytest.raises(PublishError, match="does not open"):
        publish(home)
    con = connect_published(home)
    assert con.execute("select count(*) from raw.cells").fetchone() == (5,)
    con.close()
    assert not list(home.root.glob(".kostra.*.tmp"))
