"""Build statbank queries: resolve a selection against a table's variables, split it under the cell limit,
and render it as a PxWebApi v0 JSON body or v2 ``valueCodes`` parameters.

Everything here is pure (no I/O) so the splitting rules are unit-tested on their own.

Selection values: an explicit list of codes, ``"*"`` (every value), ``"top(n)"`` (the ``n`` newest periods
of the time variable; the first ``n`` values of any other variable), or a code pattern with ``*``/``?``
(``"03*"``). A variable left out of the selection gets every value, so a fetch never silently aggregates.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Mapping, Sequence
from typing import Protocol

__all__ = [
    "METRIC_DIMENSION",
    "cell_count",
    "resolve_selection",
    "split_selection",
    "v0_query",
    "v2_body",
    "v2_params",
]

METRIC_DIMENSION = "ContentsCode"
_TOP = re.compile(r"^\s*top\(\s*(\d+)\s*\)\s*$", re.IGNORECASE)

Selection = dict[str, list[str]]


class _VariableLike(Protocol):
    code: str
    values: list[str]
    time: bool


def cell_count(selection: Mapping[str, Sequence[str]]) -> int:
    """Cells in the extract: the product of the number of values per variable (empty cells count)."""
    return math.prod(len(v) for v in selection.values())


def resolve_selection(
    table_id: str,
    variables: Sequence[_VariableLike],
    selection: Mapping[str, Sequence[str] | str] | None,
    eliminate: Sequence[str] = (),
) -> Selection:
    """Explicit code lists for every variable, in the table's variable order and value order.

    Variables in ``eliminate`` are left out of the query, so SSB sums over them; the metadata must say
    they may be (``elimination``). Any other variable left out gets every value: a fetch never
    aggregates by accident. Raises ``ValueError`` naming the table and variable for unknown variables,
    unknown codes, a pattern that matches nothing, a variable that cannot be eliminated, or a malformed
    ``top(n)``.
    """
    selection = dict(selection or {})
    known = {v.code for v in variables}
    unknown = [code for code in [*selection, *eliminate] if code not in known]
    if unknown:
        raise ValueError(f"table {table_id}: no variable(s) {unknown}; the table has {sorted(known)}")
    both = set(selection) & set(eliminate)
    if both:
        raise ValueError(f"table {table_id}: variable(s) {sorted(both)} both selected and eliminated")
    resolved: Selection = {}
    for var in variables:
        if var.code in eliminate:
            if not getattr(var, "elimination", False):
                raise ValueError(
                    f"table {table_id}: variable {var.code} cannot be eliminated (SSB's metadata)"
                )
            continue
        wanted = selection.get(var.code, "*")
        resolved[var.code] = _resolve_one(table_id, var, wanted)
    return resolved


def _resolve_one(table_id: str, var: _VariableLike, wanted: Sequence[str] | str) -> list[str]:
    values = list(var.values)
    if isinstance(wanted, str):
        wanted = [wanted]
    wanted = [str(w) for w in wanted]
    if not wanted:
        raise ValueError(f"table {table_id}: variable {var.code}: the selection is empty")
    chosen: set[str] = set()
    for item in wanted:
        top = _TOP.match(item)
        if item == "*":
            chosen.update(values)
        elif top:
            n = int(top.group(1))
            if n < 1:
                raise ValueError(
                    f"table {table_id}: variable {var.code}: {item!r} must select at least one value"
                )
            chosen.update(values[-n:] if var.time else values[:n])
        elif "*" in item or "?" in item:
            matched = fnmatch.filter(values, item)
            if not matched:
                raise ValueError(f"table {table_id}: variable {var.code}: pattern {item!r} matches no value")
            chosen.update(matched)
        elif item in values:
            chosen.add(item)
        else:
            raise ValueError(
                f"table {table_id}: variable {var.code} has no value {item!r} "
                f"(it has {len(values)} values, e.g. {values[:5]})"
            )
    return [v for v in values if v in chosen]


def split_selection(
    selection: Mapping[str, Sequence[str]], max_cells: int, *, metric: str = METRIC_DIMENSION
) -> list[Selection]:
    """Split a resolved selection into extracts of at most ``max_cells`` cells each.

    While an extract is too large, the variable with the most values is cut into the fewest near-equal
    chunks that could fit, and each chunk is split again if needed. ``metric`` (ContentsCode) is cut only
    when no other variable has more than one value, because one query per statistics variable keeps
    each extract's units and decimals uniform. The parts, together, cover every cell exactly once.
    """
    if max_cells < 1:
        raise ValueError(f"max_cells must be at least 1, got {max_cells!r}")
    selection = {k: list(v) for k, v in selection.items()}
    empty = [k for k, v in selection.items() if not v]
    if empty:
        raise ValueError(f"variables {empty} select no values")
    return _split(selection, max_cells, metric)


def _split(selection: Selection, max_cells: int, metric: str) -> list[Selection]:
    cells = cell_count(selection)
    if cells <= max_cells:
        return [selection]
    splittable = [k for k, v in selection.items() if len(v) > 1]
    # Each dimension has >1 value here (otherwise cells would be 1 <= max_cells).
    preferred = [k for k in splittable if k != metric] or splittable
    dim = max(preferred, key=lambda k: len(selection[k]))  # first in table order on ties
    values = selection[dim]
    others = cells // len(values)
    per_chunk = max(1, max_cells // others)
    n_chunks = math.ceil(len(values) / per_chunk)
    # Near-equal chunks: same number of parts as greedy filling, but no tiny remainder part.
    base, extra = divmod(len(values), n_chunks)
    parts: list[Selection] = []
    start = 0
    for i in range(n_chunks):
        size = base + (1 if i < extra else 0)
        piece = {**selection, dim: values[start : start + size]}
        start += size
        parts.extend(_split(piece, max_cells, metric))
    return parts


def v0_query(selection: Mapping[str, Sequence[str]]) -> dict:
    """The PxWebApi v0 POST body for an explicit selection, asking for JSON-stat2."""
    return {
        "query": [
            {"code": code, "selection": {"filter": "item", "values": list(values)}}
            for code, values in selection.items()
        ],
        "response": {"format": "json-stat2"},
    }


def v2_params(selection: Mapping[str, Sequence[str]], *, language: str = "no") -> dict[str, str]:
    """The PxWebApi v2 GET parameters for an explicit selection (``valueCodes[Var]=a,b``)."""
    params = {"lang": language, "outputFormat": "json-stat2"}
    for code, values in selection.items():
        params[f"valueCodes[{code}]"] = ",".join(values)
    return params


def v2_body(selection: Mapping[str, Sequence[str]]) -> dict:
    """The PxWebApi v2 POST body for an explicit selection."""
    return {
        "selection": [
            {"variableCode": code, "valueCodes": list(values)} for code, values in selection.items()
        ]
    }
