"""Fuzzing the decoder and ``ingest-file`` with hypothesis: thousands of generated documents.

Four kinds of documents, each its own hypothesis run (generation only, a fixed seed, so a run is repeatable):

- *valid*: well-formed JSON-stat 2.0 datasets of every shape the format allows (1–4 dimensions, index as an
  object in any key order or as an array, a single category without index, dense or sparse values, status as
  a string, a list, a one-element list or a sparse object, optional role, labels, units and extension).
  Handled when :func:`pipeline.raw.jsonstat.decode` returns exactly the cells an independent, cell-by-cell
  reading of the document gives (:func:`oracle`), from the parsed object and from its bytes alike;
- *mutated*: a valid document with one to three random changes (a key dropped, any JSON in any place, sizes,
  ids, indices, values and statuses of the wrong kind or length, a huge declared size). Handled when decoding
  either raises :class:`JsonStatError` or returns a dataset whose cells fit its declared size and categories,
  and the parsed object and the bytes give the same verdict;
- *bytes*: random bytes, and valid documents cut short or with a byte changed. Handled when decoding raises
  :class:`JsonStatError` or returns a consistent dataset;
- *ingest-file*: valid and mutated documents written to files and given to ``kostra ingest-file``'s two steps
  (``ingest_files`` lands, ``load_pending`` loads). Handled when the file is refused with one line naming it and
  nothing lands, or it lands byte for byte and loads with exactly its cells, or the load quarantines it with
  its reason; never another exception.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import traceback
from collections.abc import Callable
from itertools import product
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from bench.proof import Clock, SuiteResult, cached_catalogue

SIZES = {
    "small": {"valid": 200, "mutated": 200, "bytes": 100, "ingest-file": 60},
    "full": {"valid": 2000, "mutated": 2000, "bytes": 1000, "ingest-file": 300},
}
SEED = 20261201

# --- valid documents ------------------------------------------------------------------------------------

DIM_IDS = ["KOKkommuneregion0000", "ContentsCode", "Tid", "KOKfunksjon0000", "Kjonn", "Alder", "dim", "Ω"]
code_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=6)
numbers = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-1000, max_value=100_000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda x: round(x, 3)),
)
symbols = st.sampled_from([".", "..", ":", "...", "-", "x", "ø"])
TABLE_IDS = ["13502", "99001", "12345", "07459"]
UPDATED = ["2025-03-17T07:00:00Z", "2024-06-17T06:00:00Z", "2026-03-16T07:00:00.000Z", "2021-06-13T22:00:00Z"]


@st.composite
def valid_docs(draw) -> dict:
    n_dims = draw(st.integers(1, 4))
    ids = draw(st.lists(st.sampled_from(DIM_IDS), min_size=n_dims, max_size=n_dims, unique=True))
    sizes = []
    dimension = {}
    for dim_id in ids:
        size = draw(st.integers(1, 5))
        if dim_id == "Tid":
            codes = draw(
                st.lists(st.integers(2000, 2026).map(str), min_size=size, max_size=size, unique=True)
            )
        else:
            codes = draw(st.lists(code_text, min_size=size, max_size=size, unique=True))
        sizes.append(size)
        category: dict[str, Any] = {}
        form = draw(st.sampled_from(["object", "array", "none"] if size == 1 else ["object", "array"]))
        if form == "object":
            order = draw(st.permutations(range(size)))
            category["index"] = {codes[i]: i for i in order}
        elif form == "array":
            category["index"] = list(codes)
        if form == "none" or draw(st.booleans()):
            labelled = codes if form == "none" else draw(st.lists(st.sampled_from(codes), unique=True))
            category["label"] = {c: draw(st.text(max_size=8)) for c in labelled}
        if dim_id == "ContentsCode" and draw(st.booleans()):
            category["unit"] = {c: {"base": "prosent", "decimals": 1} for c in codes}
        obj: dict[str, Any] = {"category": category}
        if draw(st.booleans()):
            obj["label"] = draw(st.text(max_size=10))
        dimension[dim_id] = obj
    n = math.prod(sizes)
    doc: dict[str, Any] = {
        "version": "2.0",
        "class": "dataset",
        "id": ids,
        "size": sizes,
        "dimension": dimension,
    }
    if draw(st.booleans()):
        doc["value"] = draw(st.lists(numbers, min_size=n, max_size=n))
    else:
        keys = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
        doc["value"] = {str(k): draw(numbers) for k in keys}
    status_form = draw(st.sampled_from(["absent", "string", "one", "list", "object"]))
    if status_form == "string":
        doc["status"] = draw(symbols)
    elif status_form == "one":
        doc["status"] = [draw(st.one_of(st.none(), symbols))]
    elif status_form == "list" and n != 1:
        doc["status"] = draw(st.lists(st.one_of(st.none(), symbols), min_size=n, max_size=n))
    elif status_form == "object":
        keys = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
        doc["status"] = {str(k): draw(symbols) for k in keys}
    roles = {}
    if "Tid" in ids and draw(st.booleans()):
        roles["time"] = ["Tid"]
    if "ContentsCode" in ids and draw(st.booleans()):
        roles["metric"] = ["ContentsCode"]
    if roles:
        doc["role"] = roles
    table_id = draw(st.sampled_from(TABLE_IDS))
    naming = draw(st.sampled_from(["extension", "label", "both", "none"]))
    if naming in ("extension", "both"):
        doc["extension"] = {"px": {"tableid": table_id, "decimals": draw(st.integers(0, 3))}}
    if naming in ("label", "both"):
        doc["label"] = f"{table_id}: {draw(st.text(max_size=20))}"
    elif draw(st.booleans()):
        doc["label"] = draw(st.text(max_size=20))
    if draw(st.integers(0, 9)) > 0:
        doc["updated"] = draw(st.sampled_from(UPDATED))
    if draw(st.booleans()):
        doc["source"] = "Statistisk sentralbyrå"
    return doc


def oracle(doc: dict) -> list[dict]:
    """The cells of a valid document, read cell by cell in plain Python: what :func:`decode` must give."""
    ids, sizes = doc["id"], doc["size"]
    codes = []
    for dim_id in ids:
        category = doc["dimension"][dim_id]["category"]
        index = category.get("index")
        if index is None:
            codes.append(list(category["label"]))
        elif isinstance(index, list):
            codes.append(list(index))
        else:
            codes.append(sorted(index, key=index.__getitem__))
    n = math.prod(sizes)
    raw = doc["value"]
    values = list(raw) if isinstance(raw, list) else [raw.get(str(i)) for i in range(n)]
    status = doc.get("status")
    if status is None:
        symbols_ = [None] * n
    elif isinstance(status, str):
        symbols_ = [status] * n
    elif isinstance(status, list):
        symbols_ = status * n if len(status) == 1 else list(status)
    else:
        symbols_ = [status.get(str(i)) for i in range(n)]
    cells = []
    for i, coords in enumerate(product(*(range(s) for s in sizes))):
        cell = {dim_id: codes[d][coords[d]] for d, dim_id in enumerate(ids)}
        cell["value"] = None if values[i] is None else float(values[i])
        cell["status"] = symbols_[i]
        cells.append(cell)
    return cells


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, allow_nan=False).encode()


# --- mutations ---------------------------------------------------------------------------------------------

any_json = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=5),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
TOP_KEYS = ["version", "class", "id", "size", "dimension", "value", "status", "role", "extension", "label",
            "updated", "source"]  # fmt: skip


@st.composite
def mutated_docs(draw) -> dict:
    doc = json.loads(_dumps(draw(valid_docs())))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(
                ["drop", "replace", "size", "id", "index", "label", "value", "value_key", "status", "huge"]
            )
        )
        ids = doc.get("id") if isinstance(doc.get("id"), list) else []
        dims = doc.get("dimension") if isinstance(doc.get("dimension"), dict) else {}
        if kind == "drop":
            doc.pop(draw(st.sampled_from(TOP_KEYS)), None)
        elif kind == "replace":
            doc[draw(st.sampled_from(TOP_KEYS))] = draw(any_json)
        elif kind == "size" and isinstance(doc.get("size"), list) and doc["size"]:
            at = draw(st.integers(0, len(doc["size"]) - 1))
            doc["size"][at] = draw(
                st.one_of(st.integers(-2, 7), st.sampled_from([True, 1.0, "2", None, [1]]))
            )
        elif kind == "id" and ids:
            change = draw(st.sampled_from(["duplicate", "drop", "unknown", "reserved"]))
            if change == "duplicate":
                ids.append(ids[0])
            elif change == "drop":
                ids.pop()
            else:
                ids[0] = "value" if change == "reserved" else "nowhere"
        elif (
            kind in ("index", "label")
            and ids
            and isinstance(ids[0], str)
            and isinstance(dims.get(ids[0]), dict)
        ):
            category = dims[ids[0]].setdefault("category", {})
            if isinstance(category, dict):
                category[kind] = draw(any_json)
        elif kind == "value":
            values = doc.get("value")
            if isinstance(values, list):
                change = draw(st.sampled_from(["short", "long", "odd"]))
                if change == "short" and values:
                    values.pop()
                elif change == "long":
                    values.append(1.0)
                elif values:
                    values[draw(st.integers(0, len(values) - 1))] = draw(any_json)
            else:
                doc["value"] = draw(any_json)
        elif kind == "value_key":
            doc["value"] = {draw(st.sampled_from(["01", "-1", "1e2", " 1", "1.0", "99999", "x"])): 1.0}
        elif kind == "status":
            doc["status"] = draw(st.one_of(any_json, st.lists(any_json, min_size=2, max_size=4)))
        elif kind == "huge":
            doc["size"] = [100_000, 100_000, 10]
            doc["id"] = ["a", "b", "c"]
            doc["dimension"] = {k: {"category": {"index": ["x"]}} for k in "abc"}
            doc["value"] = {"0": 1.0}
    return doc


# --- checks -----------------------------------------------------------------------------------------------


def _consistent(ds) -> str:
    """'' when a decoded dataset fits itself: cells = product of sizes, codes from each dimension's own."""
    n = math.prod(len(d.codes) for d in ds.dimensions)
    if ds.n_cells != n:
        return f"{ds.n_cells} cells for sizes giving {n}"
    expected = [d.id for d in ds.dimensions] + ["value", "status"]
    if ds.cells.column_names != expected:
        return f"columns {ds.cells.column_names}, expected {expected}"
    for d in ds.dimensions:
        column = ds.cells.column(d.id).combine_chunks()
        used = (
            set(column.dictionary.to_pylist()) if hasattr(column, "dictionary") else set(column.to_pylist())
        )
        if not used <= set(d.codes):
            return f"dimension {d.id} has cells outside its codes"
    return ""


def _verdict(doc_or_bytes) -> tuple[str, Any]:
    """('ok', dataset) or ('refused', message); any other exception propagates."""
    from pipeline.raw.jsonstat import JsonStatError, decode

    try:
        return "ok", decode(doc_or_bytes)
    except JsonStatError as exc:
        return "refused", str(exc)


def check_valid(doc: dict) -> str:
    expected = oracle(doc)
    for form in (doc, _dumps(doc)):
        kind, ds = _verdict(form)
        if kind != "ok":
            return f"a valid document was refused ({'dict' if form is doc else 'bytes'}): {ds}"
        if ds.cells.to_pylist() != expected:
            return f"cells differ from the document ({'dict' if form is doc else 'bytes'})"
    return ""


def check_mutated(doc: dict) -> str:
    try:
        body = _dumps(doc)
    except ValueError:
        body = None
    verdicts = []
    for form in (doc, body) if body is not None else (doc,):
        kind, ds = _verdict(form)
        if kind == "ok" and (problem := _consistent(ds)):
            return f"decoded into an inconsistent dataset: {problem}"
        verdicts.append(kind)
    if len(set(verdicts)) > 1:
        return f"the parsed document and its bytes disagree: {verdicts[0]} vs {verdicts[1]}"
    return ""


def check_bytes(body: bytes) -> str:
    kind, ds = _verdict(body)
    if kind == "ok" and (problem := _consistent(ds)):
        return f"decoded into an inconsistent dataset: {problem}"
    return ""


@st.composite
def byte_docs(draw) -> bytes:
    form = draw(st.sampled_from(["random", "cut", "flip"]))
    if form == "random":
        return draw(st.binary(max_size=200))
    body = _dumps(draw(valid_docs()))
    at = draw(st.integers(0, len(body) - 1))
    if form == "cut":
        return body[:at]
    return body[:at] + bytes([draw(st.integers(0, 255))]) + body[at + 1 :]


class IngestBench:
    """``kostra ingest-file``'s two steps on each example, each in a home of its own (a refused or quarantined
    file must not weigh on the next one)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0

    def check(self, doc: dict) -> str:
        from pipeline.config import Home
        from pipeline.errors import is_user_error
        from pipeline.landing.ingest import IngestError, ingest_files
        from pipeline.landing.store import LandingStore
        from pipeline.raw.jsonstat import decode
        from pipeline.raw.load import connect, load_pending

        self.n += 1
        try:
            body = _dumps(doc)
        except ValueError:
            return ""  # not expressible as JSON: nothing to ingest
        folder = self.root / f"example{self.n}"
        home = Home(folder / "home").ensure()
        store = LandingStore(home.landing)
        path = folder / "saved-from-ssb.json"
        path.write_bytes(body)
        try:
            try:
                done = ingest_files(store, [path])
            except IngestError as exc:
                text = str(exc)
                if "\n" in text or str(path) not in text:
                    return f"the refusal is not one line naming the file: {text[:200]!r}"
                if store.objects():
                    return "a refused file landed something"
                return ""
            (item,) = done
            sha = item.record.objects[0]
            if store.read_object(sha) != body:
                return "the landed object is not the file's bytes"
            con = connect(home.build_db)
            try:
                try:
                    load_pending(con, store)
                except Exception as exc:  # noqa: BLE001 - a clear refusal of the load is handled too
                    if not is_user_error(exc) or "\n" in str(exc):
                        raise
                (loaded,) = con.execute(
                    "select count(*) from raw.cells where landing_sha256 = ?", [sha]
                ).fetchone()
            finally:
                con.close()
            held = getattr(store, "quarantined", dict)()
            if sha in held:
                return "" if loaded == 0 else "a quarantined object has cells in raw.cells"
            if loaded == 0:
                return ""  # refused by the load with one line (no quarantine in this version)
            if loaded != decode(body).n_cells:
                return f"{loaded} cells loaded of {decode(body).n_cells}"
            return ""
        finally:
            shutil.rmtree(folder, ignore_errors=True)


# --- running ------------------------------------------------------------------------------------------


def _drive(strategy, examples: int, check: Callable[[Any], str], result: SuiteResult, kind: str) -> None:
    """Let hypothesis generate ``examples`` documents; count each as handled when ``check`` finds nothing."""

    @seed(SEED)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def prop(example):
        try:
            why = check(example)
        except Exception as exc:  # noqa: BLE001 - an unexpected exception is what fuzzing looks for
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            why = f"{type(exc).__name__}: {str(exc)[:150]} (at {Path(frame.filename).name}:{frame.lineno})"
        shown = repr(example)[:300]
        result.count(kind, not why, f"{why}; document {shown}")

    prop()


def run(size: str = "full", *, workdir: Path | None = None, **_: object) -> SuiteResult:
    result = SuiteResult("fuzz", size)
    clock = Clock()
    counts = SIZES[size]
    _drive(valid_docs(), counts["valid"], check_valid, result, "valid")
    _drive(mutated_docs(), counts["mutated"], check_mutated, result, "mutated")
    _drive(byte_docs(), counts["bytes"], check_bytes, result, "bytes")
    with cached_catalogue(), tempfile.TemporaryDirectory(prefix="proof-fuzz-", dir=workdir) as tmp:
        files = st.one_of(valid_docs(), mutated_docs())
        _drive(files, counts["ingest-file"], IngestBench(Path(tmp)).check, result, "ingest-file")
    result.seconds = clock()
    # Several failures of one kind usually share a cause: keep the first few of each.
    seen: dict[str, int] = {}
    kept = []
    for line in result.failures:
        kind = line.split(":", 1)[0]
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] <= 5:
            kept.append(line)
    result.failures = kept
    return result
