"""The proof suites of bench/proof that need neither dbt nor Dagster, at their small size: every trial handled
(``make proof`` runs every suite in full).

The suites that run whole builds (crashes, idempotency, interrupts) have one owner, their own command:
``make proof-small`` runs every suite at its small size and fails unless every trial was handled, and CI
(``.ci/run``) runs it after ``make test``. Run inside pytest they would cost ``make test`` about four minutes
of builds that tests/test_stop_run.py already covers in one run each.
"""

from __future__ import annotations

import pytest

from bench.proof import SuiteResult, faults, fuzz, record, sandbox


def _all_handled(result: SuiteResult) -> None:
    assert result.tried > 0, result.summary()
    assert result.handled == result.tried, "\n".join([result.summary(), *result.failures])


@pytest.mark.slow  # a whole suite's trials: `make test` runs it, `make test-fast` leaves it out
def test_faults_end_in_correct_data_or_a_clear_error(tmp_path):
    _all_handled(faults.run("small", workdir=tmp_path))


def test_the_fault_suite_sees_an_answer_that_is_not_checked(tmp_path, monkeypatch):
    """The suite is not blind: with the client's answer check switched off, another table's document and
    changed dimensions are taken as data, and the suite says so."""
    monkeypatch.setattr("pipeline.ssb.client.dataset_mismatch", lambda *args, **kwargs: "")
    result = faults.run("small", workdir=tmp_path, only=["another table's document", "changed dimensions"])
    assert result.tried == 2 and result.handled == 0, result.failures


@pytest.mark.slow  # a whole suite's trials: `make test` runs it, `make test-fast` leaves it out
def test_fuzzed_documents_decode_or_are_refused(tmp_path):
    _all_handled(fuzz.run("small", workdir=tmp_path))


@pytest.mark.slow  # a whole suite's trials: `make test` runs it, `make test-fast` leaves it out
def test_the_sandbox_refuses_every_listed_statement_and_owned_export(tmp_path):
    _all_handled(sandbox.run("small", workdir=tmp_path))


def test_results_keep_one_row_per_suite_and_size(tmp_path):
    path = tmp_path / "RESULTS.md"
    first = SuiteResult("faults", "full", tried=3, handled=3, seconds=1.0, kinds={"data": [3, 3]})
    record(first, path)
    record(SuiteResult("faults", "small", tried=1, handled=0, failures=["data: lost"]), path)
    record(SuiteResult("faults", "full", tried=5, handled=5, seconds=2.0), path)
    text = path.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| faults |")]
    assert len(rows) == 2 and "| small |" in rows[0] and "| full | 5 | 5 |" in rows[1]
    assert "- not handled: data: lost" in text and "nproc" in text


def test_a_publish_killed_while_stripping_leaves_no_wal_behind(home):
    """What the crash suite found: a kill while the copy's private schemas are dropped leaves the copy's
    DuckDB write-ahead log (``.kostra.*.duckdb.tmp.wal``); the next publish removes it with the copy."""
    import duckdb

    from pipeline.publish.warehouse import publish

    con = duckdb.connect(str(home.build_db))
    con.execute("create schema raw; create table raw.cells as select range as x from range(3)")
    con.close()
    killed = home.root / ".kostra.killed123.duckdb.tmp"
    killed.write_bytes(b"x" * 100)
    (home.root / (killed.name + ".wal")).write_bytes(b"y" * 100)
    publish(home)
    assert not list(home.root.glob(".kostra.*"))
