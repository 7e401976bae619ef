"""Decode one JSON-stat 2.0 ``dataset`` document (as SSB's statbank sends it) into an Arrow table of cells.

The cell table is built column by column with numpy and pyarrow, never with a Python loop per cell, so an
800,000-cell response (SSB's extract limit) decodes in well under a second. Everything that is not a
well-formed JSON-stat 2.0 dataset raises :class:`JsonStatError` with a message naming the table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Dataset", "Dimension", "JsonStatError", "decode"]

# Column names the cell table uses for its own purposes; a dimension may not take them.
_RESERVED_COLUMNS = ("value", "status")
# SSB caps an extract at 800,000 cells; far above that a 'size' is a mistake, and a sparse value object
# would otherwise make us allocate whatever the size claims. KOSTRA_MAX_CELLS raises or lowers the cap.
MAX_CELLS = 10_000_000


class JsonStatError(ValueError):
    """A document that is not a well-formed JSON-stat 2.0 dataset, or uses a form we do not support."""


@dataclass
class Dimension:
    """One dimension in ``id`` order: its category codes in index order and their labels."""

    id: str
    label: str
    codes: list[str]
    labels: list[str]
    role: str | None = None
    units: dict | None = None


@dataclass
class Dataset:
    """A decoded dataset: metadata plus one row per cell (row-major over the dimensions)."""

    label: str | None
    source: str | None
    updated: str | None
    dimensions: list[Dimension]
    extension: dict
    cells: pa.Table
    role: dict[str, list[str]] = field(default_factory=dict)

    @property
    def n_cells(self) -> int:
        return self.cells.num_rows

    @property
    def table_id(self) -> str | None:
        """SSB's table id from ``extension.px.tableid`` (or the ``"12367: …"`` label prefix), if any."""
        return _table_id(self.extension, self.label)

    def dimension(self, dimension_id: str) -> Dimension:
        for dim in self.dimensions:
            if dim.id == dimension_id:
                return dim
        raise KeyError(f"{_where_from(self.table_id, self.label)}: no dimension {dimension_id!r}")

    def labels(self) -> pa.Table:
        """Every category of every dimension: dimension_id, code, label."""
        dimension_ids = [dim.id for dim in self.dimensions for _ in dim.codes]
        codes = [code for dim in self.dimensions for code in dim.codes]
        labels = [label for dim in self.dimensions for label in dim.labels]
        return pa.table(
            {
                "dimension_id": pa.array(dimension_ids, pa.string()),
                "code": pa.array(codes, pa.string()),
                "label": pa.array(labels, pa.string()),
            }
        )

    def status_counts(self) -> dict[str, int]:
        """How many cells carry each status symbol (cells without a status are not counted)."""
        counts = pc.value_counts(self.cells["status"].drop_null())
        return {
            row["values"]: row["counts"]
            for row in counts.to_pylist()  # one row per distinct symbol, so a handful
        }


def max_cells() -> int:
    """The largest declared cell count decoded (``KOSTRA_MAX_CELLS``, default 10 million)."""
    import os

    raw = os.environ.get("KOSTRA_MAX_CELLS", "")
    try:
        return int(raw) if raw else MAX_CELLS
    except ValueError:
        raise JsonStatError(f"KOSTRA_MAX_CELLS must be a whole number, got {raw!r}") from None


def decode(doc: bytes | str | dict, *, limit: int | None = None) -> Dataset:
    """Decode a JSON-stat 2.0 dataset given as raw bytes, text or an already parsed dict.

    ``limit`` caps the declared number of cells (default :func:`max_cells`); a larger ``size`` is refused
    before anything is allocated for it."""
    if isinstance(doc, (bytes, bytearray, memoryview, str)):
        try:
            doc = orjson.loads(doc)
        except orjson.JSONDecodeError as exc:
            raise JsonStatError(f"not valid JSON: {exc}") from exc
    elif not isinstance(doc, dict):
        raise TypeError(f"decode() takes bytes, str or dict, not {type(doc).__name__}")
    if not isinstance(doc, dict):
        raise JsonStatError(f"expected a JSON object at the top level, got a JSON {_json_type(doc)}")

    where = _where(doc)
    _check_class_and_version(doc, where)

    ids, sizes = _ids_and_sizes(doc, where)
    cap = max_cells() if limit is None else limit
    if math.prod(sizes) > cap:
        raise JsonStatError(
            f"{where}: 'size' {sizes} gives {math.prod(sizes):,} cells, more than the {cap:,} accepted "
            "(KOSTRA_MAX_CELLS)"
        )
    extension = doc.get("extension")
    if extension is None:
        extension = {}
    elif not isinstance(extension, dict):
        raise JsonStatError(f"{where}: 'extension' must be an object, got a JSON {_json_type(extension)}")
    dimension_objs = doc.get("dimension")
    if not isinstance(dimension_objs, dict):
        raise JsonStatError(f"{where}: 'dimension' must be an object keyed by dimension id")
    unknown = [d for d in ids if d not in dimension_objs]
    if unknown:
        raise JsonStatError(f"{where}: 'id' names dimension(s) {unknown} that have no entry in 'dimension'")
    unlisted = [d for d in dimension_objs if d not in ids]
    if unlisted:
        raise JsonStatError(f"{where}: 'dimension' has entries {unlisted} that are not listed in 'id'")

    role = _role(doc, ids, where)
    role_of = {dim_id: name for name, dim_ids in role.items() for dim_id in dim_ids}
    dimensions = [
        _dimension(dim_id, dimension_objs[dim_id], size, role_of.get(dim_id), where)
        for dim_id, size in zip(ids, sizes, strict=True)
    ]

    n = math.prod(sizes)
    columns: dict[str, pa.Array] = {}
    # Row-major over id: the last dimension varies fastest, so dimension i repeats each category
    # `inner` times and the whole block `outer` times.
    for i, dim in enumerate(dimensions):
        inner = math.prod(sizes[i + 1 :])
        outer = math.prod(sizes[:i])
        indices = np.tile(np.repeat(np.arange(sizes[i], dtype=np.int32), inner), outer)
        columns[dim.id] = pa.DictionaryArray.from_arrays(
            pa.array(indices, pa.int32()), pa.array(dim.codes, pa.string())
        )
    columns["value"] = _values(doc.get("value"), n, where)
    columns["status"] = _status(doc.get("status"), n, where)

    return Dataset(
        label=_optional_str(doc, "label", where),
        source=_optional_str(doc, "source", where),
        updated=_optional_str(doc, "updated", where),
        dimensions=dimensions,
        extension=extension,
        cells=pa.table(columns),
        role=role,
    )


# --- document structure -------------------------------------------------------------------------


def _check_class_and_version(doc: dict, where: str) -> None:
    klass = doc.get("class")
    if klass is None:
        if doc and all(isinstance(v, dict) and "dimension" in v for v in doc.values()):
            raise JsonStatError(
                f"{where}: a JSON-stat 1.x bundle (datasets {sorted(doc)}), not a JSON-stat 2.0 dataset; "
                "only JSON-stat 2.0 documents with class 'dataset' are supported"
            )
        raise JsonStatError(f"{where}: no 'class'; a JSON-stat 2.0 dataset has class 'dataset'")
    if klass != "dataset":
        raise JsonStatError(
            f"{where}: class {klass!r} is not supported; only a JSON-stat 2.0 'dataset' has cells to decode"
        )
    version = doc.get("version")
    if version is None:
        # A dataset without version is the JSON-stat 1.x form (id/size/role inside 'dimension'). SSB always
        # sends "2.0", so we refuse rather than guess which layout a document uses.
        raise JsonStatError(
            f"{where}: no 'version'; this is a pre-2.0 (JSON-stat 1.x) dataset, only version '2.0' is supported"
        )
    if version != "2.0":
        raise JsonStatError(f"{where}: version {version!r} is not supported; expected '2.0'")


def _ids_and_sizes(doc: dict, where: str) -> tuple[list[str], list[int]]:
    ids, sizes = doc.get("id"), doc.get("size")
    if not isinstance(ids, list) or not all(isinstance(d, str) for d in ids):
        raise JsonStatError(f"{where}: 'id' must be a list of dimension ids, got {ids!r:.80}")
    if not isinstance(sizes, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in sizes):
        raise JsonStatError(f"{where}: 'size' must be a list of integers, got {sizes!r:.80}")
    if len(ids) != len(sizes):
        raise JsonStatError(f"{where}: 'id' has {len(ids)} dimensions but 'size' has {len(sizes)} entries")
    if not ids:
        raise JsonStatError(f"{where}: the dataset has no dimensions")
    duplicates = sorted({d for d in ids if ids.count(d) > 1})
    if duplicates:
        raise JsonStatError(f"{where}: 'id' lists dimension(s) {duplicates} more than once")
    clashing = [d for d in ids if d in _RESERVED_COLUMNS]
    if clashing:
        raise JsonStatError(f"{where}: dimension id(s) {clashing} clash with the cell columns value/status")
    bad = [f"{d}={s}" for d, s in zip(ids, sizes, strict=True) if s < 1]
    if bad:
        raise JsonStatError(f"{where}: every dimension needs at least one category, got size {bad}")
    return ids, sizes


def _role(doc: dict, ids: list[str], where: str) -> dict[str, list[str]]:
    role = doc.get("role") or {}
    if not isinstance(role, dict) or not all(isinstance(v, list) for v in role.values()):
        raise JsonStatError(f"{where}: 'role' must map role names to lists of dimension ids")
    for name, dim_ids in role.items():
        unknown = [d for d in dim_ids if d not in ids]
        if unknown:
            raise JsonStatError(f"{where}: role {name!r} names unknown dimension(s) {unknown}")
    return role


def _dimension(dim_id: str, obj: Any, size: int, role: str | None, where: str) -> Dimension:
    if not isinstance(obj, dict) or not isinstance(obj.get("category"), dict):
        raise JsonStatError(f"{where}: dimension {dim_id!r} has no 'category' object")
    category = obj["category"]
    index, label_map = category.get("index"), category.get("label")
    if label_map is not None and not isinstance(label_map, dict):
        raise JsonStatError(f"{where}: dimension {dim_id!r}: category.label must be an object")

    if index is None:
        # The spec lets a constant (single-category) dimension omit index; the label names its one code.
        if not label_map or len(label_map) != 1:
            raise JsonStatError(
                f"{where}: dimension {dim_id!r} has no category.index, which is only allowed for a single "
                f"category, but category.label has {len(label_map or {})} entries"
            )
        codes = list(label_map)
    elif isinstance(index, list):
        codes = index
    elif isinstance(index, dict):
        positions = list(index.values())
        if not all(type(p) is int for p in positions) or sorted(positions) != list(range(len(positions))):
            raise JsonStatError(
                f"{where}: dimension {dim_id!r}: category.index positions must be 0..{len(positions) - 1} "
                f"once each, got {positions[:10]!r}"
            )
        codes = sorted(index, key=index.__getitem__)
    else:
        raise JsonStatError(f"{where}: dimension {dim_id!r}: category.index must be an object or an array")

    if not all(isinstance(c, str) for c in codes):
        raise JsonStatError(f"{where}: dimension {dim_id!r}: category codes must be strings")
    if len(set(codes)) != len(codes):
        raise JsonStatError(f"{where}: dimension {dim_id!r}: category.index repeats a code")
    if len(codes) != size:
        raise JsonStatError(
            f"{where}: dimension {dim_id!r} has size {size} in 'size' but {len(codes)} categories"
        )
    label_map = label_map or {}
    known = set(codes)
    stray = [c for c in label_map if c not in known]
    if stray:
        raise JsonStatError(
            f"{where}: dimension {dim_id!r}: category.label has codes {stray[:5]} not in the index"
        )

    units = category.get("unit")
    if units is not None and not isinstance(units, dict):
        raise JsonStatError(f"{where}: dimension {dim_id!r}: category.unit must be an object")
    label = obj.get("label")
    return Dimension(
        id=dim_id,
        label=label if isinstance(label, str) and label else dim_id,
        codes=codes,
        labels=[str(label_map.get(code, code)) for code in codes],
        role=role,
        units=units,
    )


# --- cells ----------------------------------------------------------------------------------------


def _flat_keys(keys: list[str], n: int, what: str, where: str) -> np.ndarray:
    """Convert the keys of a sparse value/status object (flat indices as strings) to checked ints."""
    if not keys:
        return np.empty(0, dtype=np.int64)
    texts = pa.array(keys, pa.string())
    # Only plain decimal indices: Arrow's cast would also read '0x1' or ' 1'.
    if not pc.all(pc.match_substring_regex(texts, r"^-?[0-9]+$")).as_py():
        bad = next(k for k in keys if not (k.removeprefix("-").isascii() and k.removeprefix("-").isdigit()))
        raise JsonStatError(
            f"{where}: {what} has keys that are not flat cell indices (e.g. {bad!r}; only decimal integers are)"
        )
    try:
        # Arrow parses the strings in C; numpy's str->int astype is ten times slower.
        positions = texts.cast(pa.int64()).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise JsonStatError(f"{where}: {what} has keys that are not flat cell indices: {exc}") from exc
    out_of_range = positions[(positions < 0) | (positions >= n)]
    if out_of_range.size:
        raise JsonStatError(
            f"{where}: {what} refers to cell index {int(out_of_range[0])}, outside 0..{n - 1} "
            f"({out_of_range.size} such keys)"
        )
    return positions


def _values(value: Any, n: int, where: str) -> pa.Array:
    if value is None:
        raise JsonStatError(f"{where}: no 'value'")
    given_values = value if isinstance(value, list) else value.values() if isinstance(value, dict) else ()
    # JSON true/false are not numbers, though Python (and Arrow) would read them as 1.0 and 0.0.
    if any(v is True or v is False for v in given_values):
        raise JsonStatError(f"{where}: 'value' holds a boolean (true/false), not a number or null")
    try:
        if isinstance(value, list):
            if len(value) != n:
                raise JsonStatError(f"{where}: 'value' has {len(value)} entries, but 'size' gives {n} cells")
            return _floats(value)
        if isinstance(value, dict):
            positions = _flat_keys(list(value), n, "'value'", where)
            given = _floats(list(value.values()))
            data = np.zeros(n, dtype=np.float64)
            present = np.zeros(n, dtype=bool)
            data[positions] = given.to_numpy(zero_copy_only=False)
            present[positions] = given.is_valid().to_numpy(zero_copy_only=False)
            return pa.array(data, type=pa.float64(), mask=~present)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as exc:
        raise JsonStatError(f"{where}: 'value' holds something that is not a number or null: {exc}") from exc
    raise JsonStatError(f"{where}: 'value' must be an array or an object, got a JSON {_json_type(value)}")


def _floats(values: list) -> pa.Array:
    """JSON numbers (or nulls) as float64. An integer beyond 2**53 is a JSON number too, but pyarrow refuses
    it (no double holds it exactly); it is read as the nearest double, as JSON readers do (orjson already
    does for integers beyond 64 bits). Only that rare case walks the values in Python."""
    try:
        return pa.array(values, type=pa.float64())
    except pa.ArrowInvalid:
        if not any(type(v) is int and abs(v) > 2**53 for v in values):
            raise
        return pa.array([float(v) if type(v) is int else v for v in values], type=pa.float64())


def _status(status: Any, n: int, where: str) -> pa.Array:
    if status is None:
        return pa.nulls(n, pa.string())
    if isinstance(status, str):
        return _broadcast(status, n)
    try:
        if isinstance(status, list):
            if len(status) == 1:
                return _broadcast(status[0], n) if status[0] is not None else pa.nulls(n, pa.string())
            if len(status) != n:
                raise JsonStatError(
                    f"{where}: 'status' has {len(status)} entries, but 'size' gives {n} cells"
                )
            return pa.array(status, type=pa.string())
        if isinstance(status, dict):
            positions = _flat_keys(list(status), n, "'status'", where)
            symbols = pa.array(list(status.values()), type=pa.string())
            # Scatter the few distinct symbols through a dictionary index: one numpy assignment.
            encoded = symbols.dictionary_encode()
            indices = np.full(n, -1, dtype=np.int32)
            indices[positions] = np.where(
                encoded.indices.is_valid().to_numpy(zero_copy_only=False),
                encoded.indices.fill_null(0).to_numpy(),
                -1,
            )
            return pc.take(encoded.dictionary, pa.array(indices, mask=indices < 0))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise JsonStatError(f"{where}: 'status' holds something that is not a string or null: {exc}") from exc
    raise JsonStatError(
        f"{where}: 'status' must be a string, array or object, got a JSON {_json_type(status)}"
    )


def _broadcast(symbol: Any, n: int) -> pa.Array:
    if not isinstance(symbol, str):
        raise TypeError(f"status {symbol!r} is not a string")
    return pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([symbol], pa.string())
    ).cast(pa.string())


# --- naming -----------------------------------------------------------------------------------------


def _table_id(extension: Any, label: Any) -> str | None:
    px = extension.get("px") if isinstance(extension, dict) else None
    if isinstance(px, dict) and px.get("tableid"):
        return str(px["tableid"])
    if isinstance(label, str) and ":" in label:
        prefix = label.split(":", 1)[0].strip()
        if prefix.isdigit():
            return prefix
    return None


def _where_from(table_id: str | None, label: Any, klass: Any = "dataset") -> str:
    if table_id:
        return f"JSON-stat table {table_id}"
    kind = klass if isinstance(klass, str) and klass else "document"
    if isinstance(label, str) and label:
        return f"JSON-stat {kind} {label[:80]!r}"
    return f"JSON-stat {kind}"


def _where(doc: dict) -> str:
    return _where_from(_table_id(doc.get("extension"), doc.get("label")), doc.get("label"), doc.get("class"))


def _optional_str(doc: dict, key: str, where: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise JsonStatError(f"{where}: {key!r} must be a string, got {value!r:.80}")
    return value


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )
