"""Build small SSB-shaped JSON-stat2 documents for tests (row-major over ``id``, like PxWebApi v0)."""

from __future__ import annotations

from itertools import product

import orjson


def make_doc(
    table_id: str,
    dims: dict[str, list[str]],
    values: dict[tuple, float | None] | None = None,
    status: dict[tuple, str] | None = None,
    *,
    updated: str = "2024-06-17T06:00:00Z",
    title: str = "Testtabell",
    default=1.0,
) -> bytes:
    """``dims`` in id order, codes in index order; cells not in ``values`` get ``default``."""
    ids = list(dims)
    cells = list(product(*dims.values()))
    values = values or {}
    status = status or {}
    value_list, status_map = [], {}
    for i, key in enumerate(cells):
        if key in status:
            status_map[str(i)] = status[key]
            value_list.append(None)
        else:
            value_list.append(values.get(key, default))
    dimension = {
        d: {
            "label": d,
            "category": {
                "index": {c: j for j, c in enumerate(codes)},
                "label": {c: f"{c} label" for c in codes},
            },
        }
        for d, codes in dims.items()
    }
    if "ContentsCode" in dimension:
        dimension["ContentsCode"]["category"]["unit"] = {
            c: {"base": "prosent", "decimals": 1} for c in dims["ContentsCode"]
        }
    doc = {
        "version": "2.0",
        "class": "dataset",
        "label": f"{table_id}: {title}",
        "source": "Statistisk sentralbyrå",
        "updated": updated,
        "id": ids,
        "size": [len(v) for v in dims.values()],
        "dimension": dimension,
        "value": value_list,
        "status": status_map,
        "role": {"time": ["Tid"], "metric": ["ContentsCode"]},
        "extension": {"px": {"tableid": table_id, "decimals": 1}},
    }
    return orjson.dumps(doc)
