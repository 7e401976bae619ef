"""User input that used to end in a traceback now gets one clear line: a home under a regular file, a quote
in the home's path, a table id that cannot be one."""

from __future__ import annotations

import duckdb

from pipeline.quality.workspace import from_build_db
from pipeline.raw.load import RAW_DDL
from tests.test_live_offline import kostra


def test_a_home_under_a_regular_file_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc, _ = kostra(["summary"], blocker / "home")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"error: [Errno 20] Not a directory: '{blocker / 'home'}'"]


def test_a_table_id_that_cannot_be_one_is_named(tmp_path):
    proc, _ = kostra(["fetch", "12367/../x"], tmp_path / "home")
    assert proc.returncode != 0 and "Traceback" not in proc.stdout + proc.stderr
    assert "not a statbank table id: '12367/../x'" in proc.stdout + proc.stderr


def test_a_quote_in_the_home_path_is_a_value_not_sql(tmp_path):
    build = tmp_path / "o'brien" / "kostra_build.duckdb"
    build.parent.mkdir()
    con = duckdb.connect(str(build))
    con.execute(RAW_DDL)
    con.close()
    ws = from_build_db(build)
    assert ws.execute("select count(*) from raw_cells").fetchone() == (0,)
    ws.close()


def test_every_module_s_user_error_is_recognised_once_it_is_loaded():
    import importlib

    from pipeline import errors

    for module, name in errors._USER_ERRORS.items():
        cls = getattr(importlib.import_module(module), name)
        assert errors.is_user_error(cls("x")), f"{module}.{name}"
    assert errors.is_user_error(errors.TablesFailed(["table 13502: x"]))
    assert not errors.is_user_error(KeyError("x"))


def test_a_one_line_landing_error_loads_neither_reports_nor_the_statbank_client(tmp_path):
    # Telling the error apart must not import what the command never used (it cost 2 s a call: 0.2 s now).
    import subprocess
    import sys

    code = (
        "import sys; from pipeline.cli import main; "
        "main(['landing', 'quarantine', 'abcd', '--reason', 'x']); "
        "print(sorted(m for m in ('pipeline.report.build', 'pipeline.ssb.client', 'requests', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**__import__("os").environ, "KOSTRA_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
    )
    assert "no landed object has sha256 abcd" in done.stderr
    assert done.stdout.strip() == "[]"
