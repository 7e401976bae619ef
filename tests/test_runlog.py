"""Every command that does work writes its log to ``<home>/logs/`` as well as to the terminal: what the terminal
shows plus the Python logging records, named with the UTC start and the command; the terminal shows what it
showed without the log, and only the newest log files are kept."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.runlog import RunLog, _Tee, log_name, prune
from tests.conftest import REPO_ROOT
from tests.demo_build import TINY_DIMS, TINY_RELEASE, TINY_TABLE
from tests.jsonstat_factory import make_doc

NAME = re.compile(r"^\d{8}T\d{6}\.\d{3}Z-[a-z-]+\.log$")


def _kostra(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        env={**os.environ, "KOSTRA_HOME": str(home)},
    )


def _say(lines: list[str]) -> None:
    """What a command does on the terminal: console lines, a colour code, records of three kinds."""
    print("to stdout")
    sys.stderr.write("\x1b[31mred\x1b[0m to stderr\n")
    logging.getLogger("pipeline.runlog_test").info("an INFO record of the pipeline")
    logging.getLogger("pipeline.runlog_test").debug("a DEBUG record of the pipeline")
    logging.getLogger("kostra_runlog_test.lib").info("a library's INFO record")
    logging.getLogger("kostra_runlog_test.lib").warning("a library's WARNING record")
    lines.append("said")


def test_the_log_has_the_terminal_and_the_records_and_the_terminal_is_unchanged(
    tmp_path, capsys, monkeypatch
):
    # As in the `kostra` program: no handler on the root logger, so Python's last resort prints warnings.
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    _say([])
    without = capsys.readouterr()

    log = RunLog(tmp_path / "logs", "run", ["run", "--releases", "2025-06"]).start()
    assert log.path is not None and log.path.parent == tmp_path / "logs"
    assert NAME.match(log.path.name) and log.path.name.endswith("-run.log")
    _say([])
    log.close(0)
    with_log = capsys.readouterr()

    assert with_log.out == without.out == "to stdout\n"
    assert with_log.err == without.err == "\x1b[31mred\x1b[0m to stderr\na library's WARNING record\n"
    text = log.path.read_text(encoding="utf-8")
    assert text.startswith("# kostra run --releases 2025-06\n# started ")
    assert "to stdout\n" in text
    assert "red to stderr\n" in text and "\x1b" not in text  # colour codes removed
    assert re.search(r"Z INFO pipeline\.runlog_test: an INFO record of the pipeline\n", text)
    assert re.search(r"Z WARNING kostra_runlog_test\.lib: a library's WARNING record\n", text)
    assert "DEBUG record" not in text and "a library's INFO record" not in text
    assert text.rstrip().splitlines()[-1].startswith("# exit 0 after ")
    # Everything is put back: the streams, the root logger's handlers, the pipeline logger's level.
    assert not isinstance(sys.stdout, _Tee) and not isinstance(sys.stderr, _Tee)
    assert logging.getLogger().handlers == []
    assert logging.getLogger("pipeline").level == logging.NOTSET


def test_the_log_survives_dagster_reconfiguring_logging(tmp_path):
    # A run on an instance with a dagster.yaml calls logging.config.dictConfig, which closes every handler.
    import logging.config

    log = RunLog(tmp_path / "logs", "build", ["build"]).start()
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
    print("after the reconfiguration")
    logging.getLogger("pipeline.runlog_test").warning("a record after it")
    log.close(0)
    text = log.path.read_text(encoding="utf-8")
    assert "after the reconfiguration\n" in text and "a record after it" in text
    assert text.rstrip().splitlines()[-1].startswith("# exit 0 after ")


def test_a_display_that_redraws_itself_is_logged_as_its_last_frame(tmp_path, capsys):
    log = RunLog(tmp_path / "logs", "fetch", ["fetch"]).start()
    for n in range(1, 4):
        sys.stderr.write(f"\r\x1b[2Kfetched {n} of 3")
    sys.stderr.write("\n")
    print("done")
    log.close(0)
    text = log.path.read_text(encoding="utf-8")
    assert "fetched 3 of 3\n" in text and "fetched 1 of 3" not in text
    assert text.index("fetched 3 of 3") < text.index("done\n")
    assert capsys.readouterr().err.count("fetched") == 3  # the terminal saw every frame


def test_only_the_newest_log_files_are_kept(tmp_path, monkeypatch):
    logs = tmp_path / "logs"
    logs.mkdir()
    old = [logs / f"2020010{d}T000000.000Z-run.log" for d in range(1, 6)]
    for path in old:
        path.write_text("old\n")
    (logs / "notes.txt").write_text("not a log of ours\n")
    monkeypatch.setenv("KOSTRA_LOG_KEEP", "3")
    log = RunLog(logs, "build", ["build"]).start()
    log.close(0)
    kept = sorted(p.name for p in logs.iterdir())
    assert kept == [old[3].name, old[4].name, log.path.name, "notes.txt"]
    assert prune(logs, 1) == [old[3], old[4]]


def test_log_names_sort_by_time_and_say_the_command():
    from datetime import UTC, datetime

    at = datetime(2026, 12, 1, 12, 41, 3, 482000, tzinfo=UTC)
    assert log_name("catalogue check", at) == "20261201T124103.482Z-catalogue-check.log"
    assert log_name("ingest-file", at) < log_name("ingest-file", at.replace(second=4))


def test_a_home_that_cannot_hold_logs_runs_without_one(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    log = RunLog(blocker / "logs", "run").start()
    print("still runs")
    log.close(0)
    assert log.path is None
    assert capsys.readouterr().out == "still runs\n"


def test_kostra_ingest_file_writes_its_log_under_the_home(tmp_path):
    home = tmp_path / "home"
    doc = tmp_path / "tiny.json"
    doc.write_bytes(make_doc(TINY_TABLE, TINY_DIMS, updated=TINY_RELEASE))
    proc = _kostra(home, "ingest-file", str(doc))
    assert proc.returncode == 0, proc.stderr
    (log,) = (home / "logs").iterdir()
    assert NAME.match(log.name) and log.name.endswith("-ingest-file.log")
    text = log.read_text(encoding="utf-8")
    assert text.startswith(f"# kostra ingest-file {doc}\n")
    for line in (proc.stdout + proc.stderr).splitlines():  # everything the terminal showed
        assert line in text
    assert f"table {TINY_TABLE}, release {TINY_RELEASE}" in text
    assert text.rstrip().splitlines()[-1].startswith("# exit 0 after ")
    assert "log:" not in proc.stderr  # the path is printed on failure only


def test_a_failed_command_names_its_log(tmp_path):
    home = tmp_path / "home"
    proc = _kostra(home, "export", "--out", str(tmp_path / "x.csv"))
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    (log,) = (home / "logs").iterdir()
    assert line.startswith("error: no published warehouse at ")
    assert line.endswith(f"(log: {log})")
    text = log.read_text(encoding="utf-8")
    assert line in text and text.rstrip().splitlines()[-1].startswith("# exit 1 after ")


@pytest.mark.parametrize("command", [["summary"], ["query", "select 1"]])
def test_read_only_commands_write_no_log(tmp_path, command):
    _kostra(tmp_path / "home", *command)
    assert not (tmp_path / "home" / "logs").exists()
