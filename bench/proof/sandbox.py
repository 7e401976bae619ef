"""The analyst sandbox: ``kostra query`` runs only reading SQL, ``kostra export`` never writes the pipeline's files.

Every statement of :data:`STATEMENTS` goes through ``kostra query`` (the CLI's ``main``, in-process) against a
home with a published warehouse and a private build file: COPY … TO and FROM files, EXPORT DATABASE,
INSTALL/LOAD, file readers (read_text('/etc/passwd'), read_csv, glob('/root/*') and their kin, also inside
WITH, DESCRIBE, SUMMARIZE and EXPLAIN ANALYZE), several statements in one call, ATTACH, configuration
changes and writes. Handled when it is refused: a non-zero exit, one line without a traceback, nothing of the
file shown, the warehouse and the build file byte for byte as before, and no file written anywhere.

Every target of :data:`EXPORTS` goes through ``kostra export --out``: the published warehouse, the build file
and every other file or folder the pipeline owns, the same through ``../``, through a symbolic link, an owned
directory and a directory standing where the named file would go. Handled when it is refused the same way.

Two controls must succeed (a reading query, an export to a free place), so a sandbox that refused everything
would not pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from pathlib import Path

import duckdb

from bench.proof import Clock, SuiteResult

STATEMENTS: list[tuple[str, str]] = [
    ("COPY … TO a file", "copy (select 1) to '{build}'"),
    ("COPY … TO a file", "copy marts.service_profile to '{out}/profile.csv'"),
    ("COPY … TO a file", "copy (select * from raw.cells) to '{published}' (format parquet)"),
    ("COPY … TO a file", "copy (select 1) to '{out}/one.csv'"),
    ("COPY … FROM a file", "copy marts.service_profile from '/etc/passwd'"),
    ("EXPORT DATABASE", "export database '{out}/dump'"),
    ("EXPORT DATABASE", "export database '{out}/dump-parquet' (format parquet)"),
    ("INSTALL/LOAD", "install httpfs"),
    ("INSTALL/LOAD", "load httpfs"),
    ("INSTALL/LOAD", "force install json"),
    ("INSTALL/LOAD", "install '{out}/evil.duckdb_extension'"),
    ("INSTALL/LOAD", "load '{out}/evil.duckdb_extension'"),
    ("INSTALL/LOAD", "select * from read_parquet('https://example.invalid/x.parquet')"),
    ("files", "select * from read_text('/etc/passwd')"),
    ("files", "select * from read_csv('/etc/passwd')"),
    ("files", "select * from read_csv_auto('/etc/passwd')"),
    ("files", "select * from read_json('/etc/passwd')"),
    ("files", "select * from read_blob('/etc/passwd')"),
    ("files", "select * from '/etc/passwd'"),
    ("files", "select * from glob('/root/*')"),
    ("files", "select * from glob('/etc/*')"),
    ("files", "select * from sniff_csv('/etc/passwd')"),
    ("files", "select * from read_text('{build}')"),
    ("files", "with p as (select * from read_text('/etc/passwd')) select content from p"),
    ("files", "describe select * from read_csv('/etc/passwd')"),
    ("files", "summarize select * from read_text('/etc/passwd')"),
    ("files", "explain analyze select * from read_text('/etc/passwd')"),
    ("several statements", "select 1; select 2"),
    ("several statements", "select 1; copy (select 1) to '{out}/two.csv'"),
    ("several statements", "select count(*) from marts.service_profile; attach '{build}' as b"),
    ("ATTACH", "attach '{build}' as b"),
    ("ATTACH", "attach ':memory:' as m"),
    ("ATTACH", "attach '{out}/new.duckdb' as n"),
    ("configuration", "set enable_external_access = true"),
    ("configuration", "set lock_configuration = false"),
    ("configuration", "reset enable_external_access"),
    ("configuration", "pragma enable_profiling"),
    ("writes", "create table marts.u as select 1"),
    ("writes", "insert into marts.service_profile select * from marts.service_profile"),
    ("writes", "update marts.service_profile set value = 0"),
    ("writes", "delete from marts.service_profile"),
    ("writes", "drop table marts.service_profile"),
    ("writes", "checkpoint"),
    ("writes", "create macro m(x) as x"),
]

# (kind, --out relative to the home unless it starts with '{', --format)
EXPORTS: list[tuple[str, str, str]] = [
    ("the published warehouse", "kostra.duckdb", "csv"),
    ("the published warehouse", "kostra.duckdb", "parquet"),
    ("the published warehouse", "kostra.duckdb", "xlsx"),
    ("the build file", "build/kostra_build.duckdb", "csv"),
    ("the build file", "build/kostra_build.duckdb", "parquet"),
    ("owned files", "landing/objects/x.csv", "csv"),
    ("owned files", "versions/v.csv", "csv"),
    ("owned files", "reports/q.csv", "csv"),
    ("owned files", "dagster/x.csv", "csv"),
    ("owned files", "dbt/x.csv", "csv"),
    ("owned files", "logs/x.csv", "csv"),
    ("owned files", ".publish.lock", "csv"),
    ("owned files", "demo/releases.json", "csv"),
    ("paths with ../", "exports/../kostra.duckdb", "csv"),
    ("paths with ../", "reports/../build/kostra_build.duckdb", "parquet"),
    ("paths with ../", "{out}/../{home_name}/kostra.duckdb", "csv"),
    ("paths with ../", "landing/../landing/../versions/../kostra.duckdb", "csv"),
    ("symbolic links", "{out}/link-to-warehouse.csv", "csv"),
    ("symbolic links", "{out}/link-to-build/x.csv", "csv"),
    ("a directory", "build", "csv"),
    ("a directory", "landing/", "csv"),
    ("a directory", "{out}/taken", "csv"),
]


@contextlib.contextmanager
def _home_env(root: Path):
    before = os.environ.get("KOSTRA_HOME")
    os.environ["KOSTRA_HOME"] = str(root)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("KOSTRA_HOME", None)
        else:
            os.environ["KOSTRA_HOME"] = before


def _cli(*args: str) -> tuple[int, str]:
    from pipeline.cli import main

    # A text stream over bytes: `kostra query --csv` writes to sys.stdout.buffer.
    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    out.flush()
    return code, out.buffer.getvalue().decode() + err.getvalue()


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, IsADirectoryError):
        return None


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _warehouse(root: Path):
    """A home with a published warehouse (raw and marts tables), a private build file and owned folders."""
    from pipeline.config import Home

    home = Home(root).ensure()
    con = duckdb.connect(str(home.published_db))
    con.execute("create schema raw; create table raw.cells as select 1 as x")
    con.execute("create table raw.releases as select 't' as source")
    con.execute(
        "create schema marts; create table marts.service_profile as "
        "select '3201' as municipality_id, 'gs_x' as indicator_id, 2024 as year, 1.5 as value"
    )
    con.close()
    home.build_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(home.build_db))
    con.execute("create schema private; create table private.secret as select 'build only' as s")
    con.close()
    for folder in ("landing/objects", "versions", "reports", "dagster", "dbt", "logs", "demo"):
        (home.root / folder).mkdir(parents=True, exist_ok=True)
    (home.root / ".publish.lock").write_text("")
    (home.root / "demo" / "releases.json").write_text("[]")
    return home


def run(size: str = "full", *, workdir: Path | None = None, **_: object) -> SuiteResult:
    result = SuiteResult("sandbox", size)
    clock = Clock()
    with tempfile.TemporaryDirectory(prefix="proof-sandbox-", dir=workdir) as tmp:
        home = _warehouse(Path(tmp) / "home")
        out = Path(tmp) / "analyst"
        out.mkdir()
        (out / "link-to-warehouse.csv").symlink_to(home.published_db)
        (out / "link-to-build").symlink_to(home.build_dir, target_is_directory=True)
        (out / "taken" / "service_profile.csv").mkdir(parents=True)
        names = {
            "build": home.build_db,
            "published": home.published_db,
            "out": out,
            "home_name": home.root.name,
        }
        owned = [home.published_db, home.build_db]

        def state():
            return [_digest(p) for p in owned], _tree(home.root), _tree(out)

        with _home_env(home.root):
            before = state()
            for kind, template in STATEMENTS:
                sql = template.format(**names)
                code, said = _cli("query", sql)
                problems = []
                if code == 0:
                    problems.append("it ran")
                if not said.strip() or "Traceback" in said:
                    problems.append(f"no clear refusal: {said.strip()[:200]!r}")
                elif len(said.strip().splitlines()) != 1:
                    problems.append(f"the refusal takes {len(said.strip().splitlines())} lines, not one")
                if "root:" in said or "/bin/" in said:
                    problems.append("the file's content was shown")
                now = state()
                if now[0] != before[0]:
                    problems.append("the warehouse or the build file changed")
                if now[2] != before[2] or now[1] - before[1] - {p for p in now[1] if p.startswith("logs")}:
                    problems.append(
                        f"a file was written: {sorted((now[1] | now[2]) - (before[1] | before[2]))[:3]}"
                    )
                before = now
                result.count(kind, not problems, f"{sql}: {'; '.join(problems)}")

            for kind, target, fmt in EXPORTS:
                where = target.format(**names) if target.startswith("{") else str(home.root / target)
                code, said = _cli("export", "--what", "service_profile", "--format", fmt, "--out", where)
                problems = []
                if code == 0:
                    problems.append(f"it wrote: {said.strip()[:200]}")
                if len(said.strip().splitlines()) != 1 or "Traceback" in said:
                    problems.append(f"not one line: {said.strip()[:200]!r}")
                now = state()
                if now[0] != before[0]:
                    problems.append("the warehouse or the build file changed")
                written = {p for p in (now[1] - before[1]) if not p.startswith("logs")} | (now[2] - before[2])
                if written:
                    problems.append(f"a file was written: {sorted(written)[:3]}")
                before = now
                result.count(f"export to {kind}", not problems, f"--out {where}: {'; '.join(problems)}")

            code, said = _cli("query", "--csv", "select count(*) as n from marts.service_profile")
            result.count(
                "allowed (control)", code == 0 and "n" in said, f"a reading query failed: {said[:200]}"
            )
            free = out / "profile.csv"
            code, said = _cli("export", "--what", "service_profile", "--format", "csv", "--out", str(free))
            result.count(
                "allowed (control)",
                code == 0 and free.is_file(),
                f"an export to a free place failed: {said[:200]}",
            )
    result.seconds = clock()
    return result
