"""Idempotency: two builds of the same inputs publish the same marts, row for row.

Full size: the recorded SSB responses (``../shared/data/ssb-snapshots``, the KOSTRA tables of
tests/demo_build.py's ``REALDATA_KOSTRA``; the tiny release when they are absent) are landed with ``kostra
ingest-file`` into two fresh homes and each home is built with ``kostra build`` (both at the same time);
then the first home is built once more. Small size: a copy of the tiny home is built again and compared with the tiny home.

Every table of the published ``marts`` schema is hashed: md5 of its rows as text, sorted, so the order rows
happen to be stored in does not count, but any value in any row does. Columns that record *when* a build ran
(:data:`BUILD_TIME_COLUMNS`) are left out and named in the notes. A mart is handled when its hash is the same
in both builds; when it is not, the columns whose values moved between rows (an unstable rank or ordering)
or changed are named.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from bench.proof import Clock, SuiteResult, copy_home, env_for, kostra, tiny_home

# Columns that say when the build ran, not what it computed.
BUILD_TIME_COLUMNS = {"built_at", "checked_at", "loaded_at", "first_loaded_at", "published_at", "run_at"}
# Columns that name the build itself (the quality run's id), not what it computed.
BUILD_ID_COLUMNS = {"run_id"}


def _snapshots() -> list[Path]:
    from tests.conftest import SHARED_DATA
    from tests.demo_build import REALDATA_KOSTRA

    folder = Path(os.environ.get("KOSTRA_SHARED_DATA", SHARED_DATA)) / "ssb-snapshots"
    files = [folder / rel for rel in REALDATA_KOSTRA]
    return files if all(f.is_file() for f in files) else []


def mart_hashes(path: Path) -> dict[str, tuple[str, int, dict[str, str]]]:
    """{mart: (md5 of the sorted rows, rows, {column: md5 of its sorted values})} of a published warehouse."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        marts = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        out = {}
        for mart in marts:
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_schema = 'marts' "
                    "and table_name = ? order by ordinal_position",
                    [mart],
                ).fetchall()
                if c not in BUILD_TIME_COLUMNS | BUILD_ID_COLUMNS
            ]
            shown = ", ".join(f'"{c}"' for c in columns)
            row = " || chr(31) || ".join(f'coalesce("{c}"::varchar, chr(0))' for c in columns) or "''"
            digest, rows = con.execute(
                f"select md5(coalesce(string_agg(r, chr(10) order by r), '')), count(*) "
                f'from (select {row} as r from (select {shown} from marts."{mart}"))'
            ).fetchone()
            per_column = {}
            for c in columns:
                (per_column[c],) = con.execute(
                    f"select md5(coalesce(string_agg(v, chr(10) order by v), '')) from "
                    f'(select coalesce("{c}"::varchar, chr(0)) as v from marts."{mart}")'
                ).fetchone()
            out[mart] = (digest, rows, per_column)
        return out
    finally:
        con.close()


def how_far(path_a: Path, path_b: Path, mart: str, changed: list[str]) -> str:
    """How far the changed numeric columns of ``mart`` are apart, matching rows on every other column."""
    con = duckdb.connect(str(path_a), read_only=True)
    try:
        con.execute(f"attach '{path_b}' as other (read_only)")
        columns = [
            (c, t)
            for c, t in con.execute(
                "select column_name, data_type from information_schema.columns where table_catalog = ? "
                "and table_schema = 'marts' and table_name = ? order by ordinal_position",
                [path_a.stem, mart],
            ).fetchall()
            if c not in BUILD_TIME_COLUMNS | BUILD_ID_COLUMNS
        ]
        keys = [c for c, _ in columns if c not in changed]
        numeric = [
            c for c, t in columns if c in changed and t in ("DOUBLE", "FLOAT") or t.startswith("DECIMAL")
        ]
        if not keys or not numeric:
            return ""
        on = " and ".join(f'a."{k}" is not distinct from b."{k}"' for k in keys)
        parts = []
        for c in numeric:
            rows, worst, relative = con.execute(
                f'select count(*) filter (where a."{c}" is distinct from b."{c}"), max(abs(a."{c}" - b."{c}")), '
                f'max(abs(a."{c}" - b."{c}") / nullif(greatest(abs(a."{c}"), abs(b."{c}")), 0)) '
                f'from marts."{mart}" a join other.marts."{mart}" b on {on}'
            ).fetchone()
            parts.append(f"{c}: {rows} rows apart, at most {worst:.3g} ({relative:.2g} relative)")
        return "; ".join(parts)
    except duckdb.Error as exc:
        return f"(not compared: {str(exc).splitlines()[0]})"
    finally:
        con.close()


def compare(
    a: dict, b: dict, result: SuiteResult, label: str, paths: tuple[Path, Path] | None = None
) -> None:
    for mart in sorted(set(a) | set(b)):
        if mart not in a or mart not in b:
            result.count(label, False, f"marts.{mart} is in one build only")
            continue
        (ha, na, ca), (hb, nb, cb) = a[mart], b[mart]
        if ha == hb:
            result.count(label, True)
            continue
        changed = [c for c in ca if ca[c] != cb.get(c)]
        if na != nb:
            why = f"{na} rows vs {nb}"
        elif changed:
            why = f"values differ in columns {changed}"
            if paths and (far := how_far(*paths, mart, changed)):
                why += f" ({far})"
        else:
            why = (
                "the same values in every column, paired differently across rows (an unstable rank or order)"
            )
        result.count(label, False, f"marts.{mart}: {why}")


def _build_home(root: Path, inputs: list[Path]) -> Path:
    env = env_for(root)
    for args in (["ingest-file", *map(str, inputs)], ["build"]):
        done = kostra(env, *args)
        if done.returncode != 0:
            raise RuntimeError(f"kostra {args[0]} failed: {done.stderr[-2000:]}")
    return root


def run(
    size: str = "full", *, workdir: Path | None = None, tiny: Path | None = None, **_: object
) -> SuiteResult:
    result = SuiteResult("idempotency", size)
    clock = Clock()
    with tempfile.TemporaryDirectory(
        prefix="proof-idempotency-", dir=workdir, ignore_cleanup_errors=True
    ) as tmp:
        work = Path(tmp)
        if size == "small":
            first = tiny or tiny_home(work)
            again = copy_home(first, work / "again")
            done = kostra(env_for(again), "build")
            if done.returncode != 0:
                result.count("rebuild", False, f"kostra build failed: {done.stderr[-1000:]}")
            else:
                compare(
                    mart_hashes(first / "kostra.duckdb"),
                    mart_hashes(again / "kostra.duckdb"),
                    result,
                    "rebuild",
                )
        else:
            inputs = _snapshots()
            if not inputs:
                from tests.demo_build import TINY_DIMS, TINY_RELEASE, TINY_TABLE
                from tests.jsonstat_factory import make_doc

                doc = work / "tiny.json"
                doc.write_bytes(make_doc(TINY_TABLE, TINY_DIMS, updated=TINY_RELEASE))
                inputs = [doc]
                result.notes.append("recorded SSB responses not found: built from the tiny release")
            # The two fresh homes are built at the same time (each build mostly waits on one process).
            with ThreadPoolExecutor(max_workers=2) as pool:
                a, b = pool.map(lambda name: _build_home(work / name, inputs), ["a", "b"])
            ha, hb = mart_hashes(a / "kostra.duckdb"), mart_hashes(b / "kostra.duckdb")
            compare(ha, hb, result, "two fresh homes", (a / "kostra.duckdb", b / "kostra.duckdb"))
            done = kostra(env_for(a), "build")
            if done.returncode != 0:
                result.count("rebuild", False, f"kostra build failed: {done.stderr[-1000:]}")
            else:
                compare(ha, mart_hashes(a / "kostra.duckdb"), result, "rebuild")
            shutil.rmtree(b, ignore_errors=True)
        result.notes.append(
            f"left out as the build's own time or id: {', '.join(sorted(BUILD_TIME_COLUMNS | BUILD_ID_COLUMNS))}"
        )
    result.seconds = clock()
    return result
