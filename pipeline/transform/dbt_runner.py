"""Run the dbt project against one build DuckDB.

The pure helpers (:func:`dbt_args`, :func:`dbt_env`) turn a :class:`pipeline.config.Comparison` and a build
file into dbt's command line and environment, so the orchestration layer and the tests share one recipe;
:func:`vars_args` is the one place the comparison parameters become dbt's ``--vars``.
:func:`run_dbt` invokes dbt in-process (``dbtRunner``) exactly once per call.

The profile sets dbt-duckdb's ``keep_open: false``: the adapter closes the build file when its last
connection is released, so the caller (checks, publish, a read-only reader) may open it right after dbt.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import COMPARISON_GROUP_ENV, DBT_PROJECT_DIR, Comparison, Home

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult

BUILD_DB_ENV = "KOSTRA_BUILD_DB"
KEEP_OPEN_ENV = "KOSTRA_DBT_KEEP_OPEN"
DBT_COMMANDS = frozenset(
    {"build", "run", "test", "seed", "parse", "compile", "show", "list", "ls", "debug", "docs"}
)
_MUNICIPALITY_CODE = re.compile(r"^\d{4}$")


class DbtRunError(RuntimeError):
    """dbt did not finish successfully; the message names the failed nodes."""


def dbt_vars(comparison: Comparison) -> dict:
    """The project vars for ``comparison``, validated so a bad code fails here and not deep in SQL."""
    if not _MUNICIPALITY_CODE.match(comparison.focus_municipality):
        raise ValueError(
            f"Comparison.focus_municipality must be a 4-digit municipality code, got {comparison.focus_municipality!r}"
        )
    for code in comparison.extra_comparators:
        if not _MUNICIPALITY_CODE.match(code):
            raise ValueError(
                f"Comparison.extra_comparators must hold 4-digit municipality codes, got {code!r}"
            )
    try:
        comparison.canonical_group  # noqa: B018 (validates)
    except ValueError as exc:
        raise ValueError(f"Comparison.comparison_group: {exc} (${COMPARISON_GROUP_ENV})") from None
    return comparison.dbt_vars()


def vars_args(comparison: Comparison) -> list[str]:
    """``["--vars", <json>]`` for ``comparison``: every dbt invocation of the pipeline passes its vars so."""
    return ["--vars", json.dumps(dbt_vars(comparison), sort_keys=True)]


def dbt_args(
    command: str,
    comparison: Comparison | None = None,
    *,
    project_dir: Path = DBT_PROJECT_DIR,
    target_path: Path | None = None,
    log_path: Path | None = None,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> list[str]:
    """The argument list for ``dbtRunner().invoke`` (without the leading ``dbt``).

    ``command`` may be two words for dbt's sub-subcommands (``"docs generate"``). profiles.yml lives in the
    project folder. ``target_path``/``log_path`` keep artefacts out of the project, e.g. per home or per test.
    """
    words = command.split()
    if not words or words[0] not in DBT_COMMANDS:
        raise ValueError(f"dbt command must be one of {sorted(DBT_COMMANDS)}, got {command!r}")
    project = Path(project_dir)
    args = [*words, "--project-dir", str(project), "--profiles-dir", str(project)]
    if words[0] not in {"debug"}:
        args += vars_args(comparison or Comparison())
    if target_path is not None:
        args += ["--target-path", str(target_path)]
    if log_path is not None:
        args += ["--log-path", str(log_path)]
    if select:
        args += ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    return [*args, *extra]


def dbt_env(build_db: Path, *, own_process: bool = False) -> dict[str, str]:
    """Environment variables that point the project's profile at ``build_db``.

    ``own_process``: dbt runs as a process of its own (dagster-dbt's ``dbt build``), so the adapter may keep
    the file open for its whole life (``keep_open: true``): the process's exit releases it. Opening and
    closing the file between nodes, which ``keep_open: false`` does whenever no node holds a connection,
    costs most of the build's time on this project's many small tests (measured: 44 s against 25 s for the
    first dbt step of a one-table build on two busy cores). In-process runs keep the documented ``false``
    so that the file is free once :func:`run_dbt` returns.
    """
    return {
        BUILD_DB_ENV: str(Path(build_db).expanduser().resolve()),
        KEEP_OPEN_ENV: "true" if own_process else "false",
        **(_file_log_level() if own_process else {}),
    }


# dbt's own variable for the level of dbt.log; dbt's default is debug.
LOG_LEVEL_FILE_ENV = "DBT_LOG_LEVEL_FILE"


def _file_log_level() -> dict[str, str]:
    """dbt.log at info unless ``DBT_LOG_LEVEL_FILE`` says otherwise. At debug, dbt formats and writes every
    query and connection event of every node: the first dbt step of a one-table home took 14.2–14.5 s at debug
    and 12.1–13.3 s at info (the step's own command, JSON logs, twice each, 4 December 2026).
    ``DBT_LOG_LEVEL_FILE=debug`` brings the SQL back."""
    return {LOG_LEVEL_FILE_ENV: os.environ.get(LOG_LEVEL_FILE_ENV, "").strip() or "info"}


# The build file as the profile sees it from a home's project folder (Home.dbt_project_dir): one string for
# every home. dbt keys its partial-parse state on the rendered profile, so with an absolute path every new
# home parsed the whole project again; with this one the state of `make dbt-parse` (pipeline.transform.parse)
# serves every home's first dbt step. Measured on a one-table home: 8.3 s to parse from scratch, 3.8 s.
_LAYOUT = Home(Path("/"))
HOME_BUILD_DB = os.path.relpath(_LAYOUT.build_db, _LAYOUT.dbt_project_dir)
# dbt's own output in the repository's project folder, which a home does not share.
_NOT_LINKED = frozenset({"logs", "dbt_packages"})


def home_dbt_env() -> dict[str, str]:
    """The environment of a dbt step that runs as a process of its own in a home's project folder
    (:func:`link_project`): the profile's relative path to the home's build file, ``keep_open`` and the level
    of dbt.log (see :func:`dbt_env`)."""
    return {BUILD_DB_ENV: HOME_BUILD_DB, KEEP_OPEN_ENV: "true", **_file_log_level()}


def link_project(home: Home) -> Path:
    """``home``'s project folder, one link per entry of the repository's ``dbt_project/`` (``target`` too:
    dagster-dbt copies the parse state it finds there into a step's new target folder). Refreshed on every
    call, so a home follows the checkout that runs it."""
    folder = home.dbt_project_dir
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {entry.name: entry for entry in DBT_PROJECT_DIR.iterdir() if entry.name not in _NOT_LINKED}
    for entry in folder.iterdir():
        if entry.name not in wanted:
            _remove(entry)
    for name, target in wanted.items():
        link = folder / name
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        if not link.is_symlink() and link.exists():
            _remove(link)  # a copy where the link was: the home was copied without keeping its links
        # A new link renamed into place: a dbt step of another process never sees the name missing.
        fresh = folder / f".{name}.{os.getpid()}.tmp"
        fresh.unlink(missing_ok=True)
        fresh.symlink_to(target)
        os.replace(fresh, link)
    return folder


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    # dbt reads env_var() from os.environ during the invocation, so set it for exactly that long.
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _failed_nodes(result: dbtRunnerResult) -> list[str]:
    failed = []
    for node_result in getattr(result.result, "results", None) or []:
        status = str(getattr(node_result, "status", "")).lower()
        if status in {"error", "fail", "runtime error"}:
            node = getattr(node_result, "node", None)
            name = getattr(node, "unique_id", None) or str(node)
            message = getattr(node_result, "message", "") or ""
            failed.append(f"{name}: {message}".strip())
    return failed


def run_dbt(
    command: str,
    build_db: Path,
    comparison: Comparison | None = None,
    *,
    project_dir: Path = DBT_PROJECT_DIR,
    target_path: Path | None = None,
    log_path: Path | None = None,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    extra: Sequence[str] = (),
    raise_on_failure: bool = True,
) -> dbtRunnerResult:
    """Invoke dbt once, in-process, against ``build_db``; raise :class:`DbtRunError` if it fails.

    ``target_path`` and ``log_path`` default to the home's ``dbt/target`` and ``dbt/logs`` (``$KOSTRA_HOME``),
    never the repository. The build file is closed again afterwards (the profile's ``keep_open: false``),
    so the caller may open it (read-only too) right away.
    """
    from dbt.cli.main import dbtRunner

    if target_path is None or log_path is None:
        home = Home.from_env()
        target_path = target_path or home.dbt_target_dir / "run_dbt"
        log_path = log_path or home.dbt_log_dir
    args = dbt_args(
        command,
        comparison,
        project_dir=project_dir,
        target_path=target_path,
        log_path=log_path,
        select=select,
        exclude=exclude,
        extra=extra,
    )
    Path(build_db).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    with _environment(dbt_env(build_db)):
        result = dbtRunner().invoke(args)
    if raise_on_failure and not result.success:
        details = _failed_nodes(result)
        if result.exception is not None:
            details.append(f"{type(result.exception).__name__}: {result.exception}")
        raise DbtRunError(
            f"dbt {command} failed on {build_db}:\n  " + "\n  ".join(details or ["(no details from dbt)"])
        )
    return result


def run_dbt_process(
    command: str,
    build_db: Path,
    comparison: Comparison | None = None,
    *,
    target_path: Path,
    log_path: Path,
    project_dir: Path = DBT_PROJECT_DIR,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    extra: Sequence[str] = (),
    timeout: float = 1800,
) -> subprocess.CompletedProcess:
    """Invoke dbt once as a process of its own (as the Dagster assets do), against ``build_db``; raise
    :class:`DbtRunError` with the end of its output if it fails.

    For builds outside Dagster (tests, benchmarks): the process may keep the file open for its life
    (:func:`dbt_env`), where :func:`run_dbt` in-process must reopen it between nodes (a build of a small
    fixture: 22 s in-process, 19 s as a process).
    """
    args = dbt_args(
        command,
        comparison,
        project_dir=project_dir,
        target_path=target_path,
        log_path=log_path,
        select=select,
        exclude=exclude,
        extra=extra,
    )
    Path(build_db).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **dbt_env(build_db, own_process=True), "DBT_USE_COLORS": "false"}
    dbt = Path(sys.executable).with_name("dbt")
    done = subprocess.run([str(dbt), *args], env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        tail = "\n  ".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise DbtRunError(f"dbt {command} failed on {build_db}:\n  {tail}")
    return done
