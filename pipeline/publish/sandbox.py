"""The analyst sandbox behind `kostra query`: read-only SQL against the published warehouse, and nothing else.

The warehouse is opened read-only with external access disabled (no files, no URLs, no extension install or
load: DuckDB's ``enable_external_access = false``) and the configuration locked, so a statement cannot turn
these back on. Exactly one statement is run, and only a reading one: SELECT (WITH, FROM, VALUES, DESCRIBE,
SHOW and SUMMARIZE parse as SELECT) or EXPLAIN. Everything else is refused with one line saying why.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

READING = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}


class RefusedStatement(ValueError):
    """An analyst statement the sandbox does not run; the message says why."""


def check(sql: str) -> None:
    """Refuse anything but exactly one reading statement."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise RefusedStatement(f"the SQL does not parse: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise RefusedStatement(f"one statement at a time, got {len(statements)}")
    kind = statements[0].type
    if kind not in READING:
        name = kind.name.lower()
        raise RefusedStatement(
            f"{name} statements are not allowed: the warehouse is read-only for analysts "
            "(SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE and EXPLAIN are)"
        )


def one_line(exc: BaseException) -> str:
    """DuckDB's message for a statement it refused or failed, as one line.

    DuckDB spreads a message over several lines: a hint (``Did you mean "pg_class"?``) after the error, and
    the statement quoted with a caret under the offending part (``LINE 1: …``). The hint is kept on the same
    line; the quoted statement is left out (the analyst has just typed it)."""
    kept = []
    for line in str(exc).splitlines():
        if line.startswith("LINE ") and ":" in line:
            break  # the quoted statement and its caret follow
        if line.strip():
            kept.append(line.strip())
    return " ".join(kept) or type(exc).__name__


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """The published warehouse, read-only, with external access disabled and the configuration locked."""
    return duckdb.connect(str(path), read_only=True, config=dict(CONFIG))
