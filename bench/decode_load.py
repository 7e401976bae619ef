"""Benchmark: one SSB-sized JSON-stat2 response (800,000 cells) from bytes to a DuckDB table.

Compares, on the same bytes: ``orjson.loads`` alone (the floor: parsing only), ``pipeline.raw.jsonstat.decode``
plus a DuckDB load from Arrow (ours), and pyjstat → pandas → DuckDB (what a Python user would reach for).
Each approach runs in its own subprocess so that memory peaks and warm caches do not mix.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

from bench import Row

BENCHMARK = "decode_load"
YEARS = [str(y) for y in range(2015, 2025)]
AGGREGATES = ["EAK", "EAKUO", *(f"EKG{k:02d}" for k in range(1, 18))]
FUNKSJON = [
    "100",
    "110",
    "120",
    "121",
    "130",
    "170",
    "171",
    "172",
    "173",
    "180",
    "190",
    "201",
    "202",
    "211",
    "213",
    "215",
    "221",
    "222",
    "223",
    "231",
    "232",
    "233",
    "234",
    "241",
    "242",
    "243",
    "244",
    "251",
    "252",
    "253",
    "254",
    "256",
    "261",
    "265",
    "273",
    "275",
    "276",
    "281",
    "283",
    "285",
]
ART = ["AGD1", "AGD2", "AGD3", "AGD4", "AGD9", "AGD10", "AGD28", "AGD56", "AGI1", "AGI2"]

# (label, module-level worker function name, what the row says about it)
APPROACHES = [
    ("orjson.loads only (floor)", "orjson", "parse only, no table"),
    ("pipeline.raw.jsonstat.decode → DuckDB", "ours", "keeps status symbols"),
    ("pyjstat → pandas → DuckDB", "pyjstat", "drops status symbols"),
]


def build_document(regions: int = 100, seed: int = 12367) -> bytes:
    """An SSB-shaped 12367 response: region × regnskapsomfang × funksjon × art × ContentsCode × Tid.

    With the default 100 regions that is 100 × 2 × 40 × 10 × 1 × 10 = 800,000 cells, SSB's extract limit.
    Municipality codes come in three validity groups (before 2020, 2020–2023, always), so '.' marks cells
    outside a code's validity as in real responses; ':' (suppressed) and '..' (missing) are scattered.
    """
    n_municipalities = regions - len(AGGREGATES)
    if n_municipalities < 3:
        raise ValueError(f"regions must be at least {len(AGGREGATES) + 3}, got {regions}")
    municipalities = [f"{3000 + k:04d}" for k in range(n_municipalities)]
    region_codes = AGGREGATES + municipalities
    sizes = [len(region_codes), 2, len(FUNKSJON), len(ART), 1, len(YEARS)]
    n = math.prod(sizes)
    rng = np.random.default_rng(seed)

    # Validity per region and year: third 0 ends in 2019, third 1 starts in 2020, the rest always valid.
    years = np.array([int(y) for y in YEARS])
    group = np.full(len(region_codes), 2)
    group[len(AGGREGATES) :] = np.arange(n_municipalities) % 3
    invalid_region_year = ((group[:, None] == 0) & (years[None, :] >= 2020)) | (
        (group[:, None] == 1) & (years[None, :] < 2020)
    )
    region_index = np.arange(n) // math.prod(sizes[1:])
    year_index = np.arange(n) % sizes[-1]
    not_applicable = invalid_region_year[region_index, year_index]
    draw = rng.random(n)
    suppressed = ~not_applicable & (draw < 0.02)
    missing = ~not_applicable & (draw >= 0.02) & (draw < 0.03)

    values = rng.integers(-50_000, 5_000_000, n).astype(object)
    values[not_applicable | suppressed | missing] = None
    status = {}
    for symbol, mask in ((".", not_applicable), (":", suppressed), ("..", missing)):
        status.update(dict.fromkeys(np.flatnonzero(mask).astype(str).tolist(), symbol))

    ids = [
        "KOKkommuneregion0000",
        "KOKregnskapsomfa0000",
        "KOKfunksjon0000",
        "KOKart0000",
        "ContentsCode",
        "Tid",
    ]
    categories = [region_codes, ["A", "B"], FUNKSJON, ART, ["KOSbelop0000"], YEARS]
    dimension = {
        dim_id: {
            "label": dim_id,
            "category": {"index": {c: i for i, c in enumerate(codes)}, "label": {c: c for c in codes}},
        }
        for dim_id, codes in zip(ids, categories, strict=True)
    }
    dimension["ContentsCode"]["category"]["unit"] = {"KOSbelop0000": {"base": "1000 kr", "decimals": 0}}
    doc = {
        "class": "dataset",
        "label": "12367: Detaljerte regnskapstall driftsregnskapet (syntetisk benchmark)",
        "source": "Statistisk sentralbyrå",
        "updated": "2025-06-16T06:00:00Z",
        "id": ids,
        "size": sizes,
        "dimension": dimension,
        "value": values.tolist(),
        "status": dict(sorted(status.items(), key=lambda kv: int(kv[0]))),
        "role": {"time": ["Tid"], "metric": ["ContentsCode"]},
        "version": "2.0",
        "extension": {"px": {"infofile": "al", "tableid": "12367", "decimals": 0}},
    }
    return orjson.dumps(doc)


# --- the measured work, one function per approach; the check after the clock stops is separate ------


def _orjson(data: bytes) -> tuple[dict, dict[str, float]]:
    return orjson.loads(data), {}


def _ours(data: bytes):
    import duckdb

    from pipeline.raw.jsonstat import decode

    started = time.perf_counter()
    cells = decode(data).cells
    decoded = time.perf_counter()
    con = duckdb.connect()
    con.register("cells", cells)
    con.execute("create table t as select * from cells")
    return con, {"decode": decoded - started, "load": time.perf_counter() - decoded}


def _pyjstat(data: bytes):
    import warnings

    import duckdb
    from pyjstat import pyjstat

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        df = pyjstat.Dataset.read(data.decode("utf-8")).write("dataframe", naming="id")
    decoded = time.perf_counter()
    con = duckdb.connect()
    con.register("cells", df)
    con.execute("create table t as select * from cells")
    return con, {"decode": decoded - started, "load": time.perf_counter() - decoded}


def _count_doc(doc: dict) -> tuple[int, int]:
    return len(doc["value"]), sum(v is not None for v in doc["value"])


def _count_table(con) -> tuple[int, int]:
    return con.execute("select count(*), count(value) from t").fetchone()


WORK = {"orjson": _orjson, "ours": _ours, "pyjstat": _pyjstat}
COUNT = {"orjson": _count_doc, "ours": _count_table, "pyjstat": _count_table}
# Imports happen before the clock starts. pyarrow imports pandas (when installed) on its first pa.array()
# call; a pipeline process pays that once, not per response, so it is preloaded here too.
IMPORTS = {
    "orjson": [],
    "ours": ["duckdb", "pyarrow", "pandas", "pipeline.raw.jsonstat"],
    "pyjstat": ["duckdb", "pandas", "pyjstat.pyjstat"],
}


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset this process's peak-RSS mark (Linux), so the work's peak is seen apart from the imports."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def worker(approach: str, path: str) -> dict:
    """Runs inside the subprocess: import, read the bytes, then time only the work."""
    import importlib

    for module in IMPORTS[approach]:
        importlib.import_module(module)
    data = Path(path).read_bytes()
    peak_before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    reset = _reset_peak()
    base_kb = _status_kb("VmRSS")
    started = time.perf_counter()
    result, phases = WORK[approach](data)
    seconds = time.perf_counter() - started
    work_peak_kb = _status_kb("VmHWM") if reset else None
    rows, non_null = COUNT[approach](result)
    peak_kb = max(peak_before_kb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, work_peak_kb or 0)
    return {
        "seconds": seconds,
        "phases": phases,
        "rows": int(rows),
        "non_null": int(non_null),
        "peak_kb": peak_kb,
        "work_kb": (work_peak_kb - base_kb) if work_peak_kb is not None and base_kb is not None else None,
    }


def _run_subprocess(approach: str, path: Path) -> dict:
    repo_root = Path(__file__).resolve().parent.parent
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(repo_root), os.environ.get("PYTHONPATH")]))
    )
    result = subprocess.run(
        [sys.executable, "-m", "bench.decode_load", "--worker", approach, str(path)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=repo_root,
        env=env,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{BENCHMARK}: approach {approach!r} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(options: argparse.Namespace) -> list[Row]:
    regions = 25 if getattr(options, "quick", False) else 100
    repeat = getattr(options, "repeat", 3)
    data = build_document(regions=regions)
    expected = orjson.loads(data)
    expected_rows = len(expected["value"])
    expected_non_null = sum(v is not None for v in expected["value"])
    del expected

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="kostra-bench-") as tmp:
        path = Path(tmp) / "response.json"
        path.write_bytes(data)
        for label, approach, note in APPROACHES:
            runs = [_run_subprocess(approach, path) for _ in range(repeat)]
            best = min(runs, key=lambda r: r["seconds"])
            checks = {(r["rows"], r["non_null"]) for r in runs}
            if checks != {(expected_rows, expected_non_null)}:
                raise RuntimeError(
                    f"{BENCHMARK}: {approach} produced (rows, non-null) {checks}, "
                    f"expected {(expected_rows, expected_non_null)}"
                )
            work = [r["work_kb"] for r in runs if r["work_kb"] is not None]
            rows.append(
                Row(
                    benchmark=f"{BENCHMARK}: {expected_rows:,} cells, {len(data) / 1e6:.1f} MB",
                    approach=label,
                    seconds=best["seconds"],
                    peak_rss_mb=max(r["peak_kb"] for r in runs) / 1024,
                    work_rss_mb=max(work) / 1024 if work else None,
                    rows=expected_rows,
                    note="; ".join(
                        [note, *(f"{k} {v:.3f} s" for k, v in best["phases"].items()), f"best of {repeat}"]
                    ),
                    reference=approach == "ours",
                )
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", choices=sorted(WORK), required=True)
    parser.add_argument("path")
    options = parser.parse_args(argv)
    print(json.dumps(worker(options.worker, options.path)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
