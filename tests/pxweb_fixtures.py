"""Helpers for tests that need a local PxWebApi server: realistic synthetic tables, tiny demo releases,
servers in a background thread and clients tuned for fast tests.

Import from other test files, e.g. ``from tests.pxweb_fixtures import synthetic_doc, fast_client, serve``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline.demo.server import DemoSource, PxWebServer, RecordedSource, serve
from pipeline.ssb.client import SsbClient

__all__ = [
    "REGIONS",
    "cells_of",
    "demo_release",
    "fast_client",
    "pxweb_server",
    "recorded_server",
    "serve",
    "synthetic_doc",
]

# Real KOSTRA region codes with their names (aggregates, ASSS members old and new codes).
REGIONS = {
    "EAK": "Landet",
    "EAKUO": "Landet uten Oslo",
    "EKG13": "KOSTRA-gruppe 13",
    "0301": "Oslo",
    "0219": "Bærum (-2019)",
    "3024": "Bærum (2020-2023)",
    "3201": "Bærum",
    "1201": "Bergen (-2019)",
    "4601": "Bergen",
    "1103": "Stavanger",
    "1601": "Trondheim (-2017)",
    "5001": "Trondheim - Tråante",
}
CONTENTS = {
    "KOSbelop0000": ("Beløp (1000 kr)", {"base": "1000 kr", "decimals": 0}),
    "KOSandel120000": ("Andel barn 1-2 år i barnehage (prosent)", {"base": "prosent", "decimals": 1}),
}


def synthetic_doc(
    table_id: str = "99001",
    title: str = "Detaljerte regnskapstall (testtabell), etter region, statistikkvariabel og år",
    *,
    updated: str = "2024-06-17T06:00:00Z",
    regions: Sequence[str] | dict[str, str] | None = None,
    years: Sequence[int] = range(2015, 2021),
    shift: float = 0.0,
) -> dict:
    """An SSB-shaped JSON-stat2 dataset: region × ContentsCode × Tid, with ``:`` and ``.`` statuses.

    Values are distinct per cell (so a misplaced cell shows) and moved by ``shift`` (a later release).
    """
    regions = regions if regions is not None else REGIONS
    region_labels = regions if isinstance(regions, dict) else {r: f"Region {r}" for r in regions}
    codes = list(region_labels)
    periods = [str(y) for y in years]
    sizes = [len(codes), len(CONTENTS), len(periods)]
    n = math.prod(sizes)
    values: list[float | int | None] = []
    status: dict[str, str] = {}
    for i in range(n):
        if i % 11 == 5:
            values.append(None)
            status[str(i)] = ":"
        elif i % 17 == 3:
            values.append(None)
            status[str(i)] = "."
        else:
            values.append(round(1000 + i * 7.5 + shift, 1))
    return {
        "version": "2.0",
        "class": "dataset",
        "label": f"{table_id}: {title}",
        "source": "Statistisk sentralbyrå",
        "updated": updated,
        "role": {"time": ["Tid"], "metric": ["ContentsCode"]},
        "id": ["KOKkommuneregion0000", "ContentsCode", "Tid"],
        "size": sizes,
        "dimension": {
            "KOKkommuneregion0000": {
                "label": "region",
                "category": {"index": {c: i for i, c in enumerate(codes)}, "label": region_labels},
            },
            "ContentsCode": {
                "label": "statistikkvariabel",
                "category": {
                    "index": {c: i for i, c in enumerate(CONTENTS)},
                    "label": {c: lbl for c, (lbl, _) in CONTENTS.items()},
                    "unit": {c: unit for c, (_, unit) in CONTENTS.items()},
                },
            },
            "Tid": {
                "label": "år",
                "category": {
                    "index": {p: i for i, p in enumerate(periods)},
                    "label": {p: p for p in periods},
                },
            },
        },
        "extension": {"px": {"tableid": table_id, "decimals": 1}},
        "value": values,
        "status": status,
    }


def cells_of(*bodies: bytes | dict) -> pa.Table:
    """The decoded cells of one or more JSON-stat2 documents, sorted, for comparing fetches."""
    from pipeline.raw.jsonstat import decode

    tables = []
    for body in bodies:
        ds = decode(body)
        t = ds.cells
        t = pa.table(
            {
                name: (t[name].cast(pa.string()) if name not in ("value",) else t[name])
                for name in t.column_names
            }
        )
        tables.append(t)
    combined = pa.concat_tables(tables)
    keys = [n for n in combined.column_names if n not in ("value", "status")]
    return combined.sort_by([(k, "ascending") for k in keys])


def demo_release(folder: Path, table_id: str = "99101") -> Path:
    """Write a tiny demo release in the documented format (architecture.md, "Demo release").

    Three releases: 2016-03 (data year 2015, unrevised), 2016-06 (2015 revised), 2017-03 (2016 unrevised).
    Unrevised values are revised + 1000 so the vintage of every cell can be read off its value.
    """
    folder = Path(folder)
    (folder / "tables").mkdir(parents=True, exist_ok=True)
    releases = [
        {"key": "2016-03", "updated": "2016-03-15T07:00:00Z", "data_year": 2015, "vintage": "unrevised"},
        {"key": "2016-06", "updated": "2016-06-15T06:00:00Z", "data_year": 2015, "vintage": "revised"},
        {"key": "2017-03", "updated": "2017-03-15T07:00:00Z", "data_year": 2016, "vintage": "unrevised"},
    ]
    (folder / "releases.json").write_bytes(orjson.dumps(releases))
    (folder / "README.md").write_text("DEMO DATA: synthetic values, real structure\n")
    regions = {"0301": "Oslo", "3024": "Bærum", "EAK": "Landet"}
    years = ["2014", "2015", "2016"]
    spec = {
        "table_id": table_id,
        "title": "Utvalgte nøkkeltall for barnehager (demo), etter region, statistikkvariabel og år",
        "dimensions": [
            {
                "id": "KOKkommuneregion0000",
                "label": "region",
                "codes": list(regions),
                "labels": list(regions.values()),
            },
            {
                "id": "ContentsCode",
                "label": "statistikkvariabel",
                "codes": ["KOSandel120000"],
                "labels": ["Andel barn 1-2 år i barnehage (prosent)"],
            },
            {"id": "Tid", "label": "år", "codes": years, "labels": years},
        ],
        "units": {"KOSandel120000": {"base": "prosent", "decimals": 1}},
    }
    (folder / "tables" / f"{table_id}.json").write_bytes(orjson.dumps(spec))
    rows = {"KOKkommuneregion0000": [], "ContentsCode": [], "Tid": []}
    revised, unrevised, status_rev, status_unrev = [], [], [], []
    for r_i, region in enumerate(regions):
        for y_i, year in enumerate(years):
            rows["KOKkommuneregion0000"].append(region)
            rows["ContentsCode"].append("KOSandel120000")
            rows["Tid"].append(year)
            value = 80.0 + r_i * 5 + y_i  # e.g. Oslo 2015 = 81.0 revised, 1081.0 unrevised
            suppressed = region == "EAK" and year == "2016"
            revised.append(None if suppressed else value)
            unrevised.append(None if suppressed else value + 1000)
            status_rev.append(":" if suppressed else None)
            status_unrev.append(":" if suppressed else None)
    frame = pa.table(
        {
            **{k: pa.array(v, pa.string()) for k, v in rows.items()},
            "value_unrevised": pa.array(unrevised, pa.float64()),
            "status_unrevised": pa.array(status_unrev, pa.string()),
            "value_revised": pa.array(revised, pa.float64()),
            "status_revised": pa.array(status_rev, pa.string()),
        }
    )
    pq.write_table(frame, folder / "tables" / f"{table_id}.parquet")
    return folder


def value_at(body: bytes | dict, **coords: str) -> float | None:
    """The value of one cell of a JSON-stat2 document, by dimension codes."""
    from pipeline.raw.jsonstat import decode

    cells = decode(body).cells
    mask = None
    for dim, code in coords.items():
        m = pc.equal(cells[dim].cast(pa.string()), code)
        mask = m if mask is None else pc.and_(mask, m)
    hit = cells.filter(mask)
    assert hit.num_rows == 1, f"{coords} matches {hit.num_rows} cells"
    return hit["value"][0].as_py()


def fast_client(server: PxWebServer, asof: str | None = None, **kwargs) -> SsbClient:
    """A client for ``server`` with test-sized timeouts and backoff (override any with kwargs)."""
    v0, v2 = server.roots(asof)
    options = {"timeout": 2.0, "retries": 3, "backoff_factor": 0.01, "progress": False}
    options.update(kwargs)
    return SsbClient(v0, v2, **options)


def recorded_server(*docs: dict | bytes | Path, **limits) -> PxWebServer:
    """A started server replaying ``docs`` (default: one synthetic table). Use it as a context manager."""
    return serve(RecordedSource(docs or [synthetic_doc()]), **limits)


def demo_server(folder: Path, **limits) -> PxWebServer:
    return serve(DemoSource(folder), **limits)


@pytest.fixture()
def pxweb_server() -> Iterator[PxWebServer]:
    """A local server with one synthetic table (99001, 144 cells) and SSB's default limits."""
    with recorded_server() as server:
        yield server
