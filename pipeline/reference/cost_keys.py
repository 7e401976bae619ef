"""Write the real cost-key seed (``dbt_project/seeds/indices/cost_keys_gronthefte.csv``) from a recorded file.

The income system's sector cost indices (delkostnadsnøkler applied to the criterion indices of Grønt hefte's
tabell E-k) per municipality, as the public repository vegard1104/kommunebarometer derived them
(``data/dki-<year>.json``, format "v3-full-breakdown": per municipality one index per sector, the
inhabitant-weighted national average 1.00, plus their total "samlet"). The script is the record of how the
seed was made; it never fetches anything.

    python -m pipeline.reference.cost_keys --dki dki-2026.json --gronthefte-year 2026 --data-year 2026 \\
        --commit 2da857a53ebd6c266d69b7f2b8504ec8dfc51a06 --check-total dki-2026-a-k.json \\
        --check-total-commit dbab6ef7c82741e22ebbe2b06311f64e9ff054b5

``--check-total`` holds each municipality's total ("samlet" = Σ sector weight · sector index) against
KMD's own total index from tabell A-k (a second recorded file of the same repository, ``kommuner``:
code → total, or code → {samlet: …}); a municipality further off than ``--tolerance`` (0.001) stops the
build. This is what separates a consistent year (2026: every municipality within 0.0005) from one whose
sector weights belong to another Grønt hefte year (the repository's 2025 file: half the municipalities
more than 0.01 off), which must not be written as real.

Sector indices are per inhabitant of the whole population (``key_basis`` per_inhabitant); the models
convert them to the target group (int_indices__expenditure).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from pipeline.config import DBT_PROJECT_DIR

SEED = DBT_PROJECT_DIR / "seeds" / "indices" / "cost_keys_gronthefte.csv"
MUNICIPALITIES = DBT_PROJECT_DIR / "seeds" / "reference" / "municipalities.csv"
REPOSITORY = "vegard1104/kommunebarometer"
# The repository's sector names → the index sectors of seed sector_functions (administrasjon has none).
SECTORS = {
    "grunnskole": "grunnskole",
    "barnehage": "barnehage",
    "barnevern": "barnevern",
    "pleie": "pleie_omsorg",
    "kommunehelse": "kommunehelse",
    "sosial": "sosiale_tjenester",
}
HEADER = ["gronthefte_year", "data_year", "municipality_id", "sector", "cost_index", "key_basis", "source"]


class CostKeyError(Exception):
    """A recorded file that cannot become the seed; the message is one line for the user."""


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CostKeyError(f"{path}: not a readable JSON file ({exc.__class__.__name__})") from None


def _totals(path: Path) -> dict[str, float]:
    out = {}
    for code, value in _read_json(path).get("kommuner", {}).items():
        total = value.get("samlet") if isinstance(value, dict) else value
        if isinstance(total, int | float):
            out[code] = float(total)
    return out


def _known_municipalities() -> set[str]:
    with MUNICIPALITIES.open(encoding="utf-8", newline="") as handle:
        return {row["municipality_id"] for row in csv.DictReader(handle)}


def build_rows(
    dki: dict,
    skipped: list[str],
    *,
    gronthefte_year: int,
    data_year: int,
    source: str,
    totals: dict[str, float] | None = None,
    tolerance: float = 0.001,
    known: set[str] | None = None,
) -> list[dict]:
    """The seed rows of one recorded file: one per municipality and index sector, sorted.

    A municipality the --check-total file has no total for is left out (its code appended to ``skipped``):
    an unchecked index is not written as real."""
    if dki.get("år") != gronthefte_year:
        raise CostKeyError(f"the file is for Grønt hefte {dki.get('år')}, not {gronthefte_year}")
    municipalities = dki.get("kommuner") or {}
    rows: list[dict] = []
    for code in sorted(municipalities):
        entry = municipalities[code]
        if not isinstance(entry, dict) or not all(isinstance(entry.get(s), int | float) for s in SECTORS):
            raise CostKeyError(
                f"municipality {code}: not every sector has an index (is the file v3-full-breakdown?)"
            )
        if known is not None and code not in known:
            raise CostKeyError(f"municipality {code} is not a current municipality_id of seed municipalities")
        if totals is not None:
            if code not in totals:
                skipped.append(code)  # unchecked: not written as real
                continue
            if abs(float(entry["samlet"]) - totals[code]) > tolerance:
                raise CostKeyError(
                    f"municipality {code}: total {entry['samlet']} differs from tabell A-k's {totals[code]} by more "
                    f"than {tolerance}; the sector weights are not this year's"
                )
        for name, sector in SECTORS.items():
            rows.append(
                {
                    "gronthefte_year": gronthefte_year,
                    "data_year": data_year,
                    "municipality_id": code,
                    "sector": sector,
                    "cost_index": f"{float(entry[name]):.4f}",
                    "key_basis": "per_inhabitant",
                    "source": source,
                }
            )
    if not rows:
        raise CostKeyError("the file lists no municipality")
    return sorted(rows, key=lambda r: (r["data_year"], r["municipality_id"], r["sector"]))


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dki", type=Path, required=True, help="the repository's data/dki-<year>.json")
    parser.add_argument("--gronthefte-year", type=int, required=True, help="the Grønt hefte (income) year")
    parser.add_argument("--data-year", type=int, required=True, help="the KOSTRA data year the keys apply to")
    parser.add_argument("--commit", required=True, help=f"the {REPOSITORY} commit the file was read at")
    parser.add_argument(
        "--path", default=None, help="the file's path in the repository (default data/dki-<year>.json)"
    )
    parser.add_argument("--check-total", type=Path, help="a recorded tabell A-k total per municipality")
    parser.add_argument(
        "--check-total-commit", default=None, help="the commit the --check-total file was read at"
    )
    parser.add_argument("--tolerance", type=float, default=0.001)
    parser.add_argument(
        "--out", type=Path, default=SEED, help="the seed to write (other years' rows are kept)"
    )
    args = parser.parse_args(argv)
    path = args.path or f"data/dki-{args.gronthefte_year}.json"
    source = (
        f"Grønt hefte {args.gronthefte_year} (KMD/KDD): tabell E-k kriterieindekser × delkostnadsnøkler, "
        f"sektorindeks per innbygger; avledet i {REPOSITORY} {path} @ {args.commit}"
    )
    if args.check_total:
        source += (
            f"; kontrollert mot tabell A-k samlet indeks (±{args.tolerance}, {REPOSITORY} "
            f"@ {args.check_total_commit or 'ukjent commit'})"
        )
    skipped: list[str] = []
    try:
        rows = build_rows(
            _read_json(args.dki),
            skipped,
            gronthefte_year=args.gronthefte_year,
            data_year=args.data_year,
            source=source,
            totals=_totals(args.check_total) if args.check_total else None,
            tolerance=args.tolerance,
            known=_known_municipalities(),
        )
    except CostKeyError as exc:
        print(f"cost keys: {exc}", file=sys.stderr)
        return 2
    kept = []
    if args.out.exists():
        with args.out.open(encoding="utf-8", newline="") as handle:
            kept = [r for r in csv.DictReader(handle) if int(r["data_year"]) != args.data_year]
    all_rows = sorted([*kept, *rows], key=lambda r: (int(r["data_year"]), r["municipality_id"], r["sector"]))
    args.out.write_text(to_csv(all_rows), encoding="utf-8")
    print(
        f"{args.out}: {len(rows)} rows for data year {args.data_year} ({len(rows) // len(SECTORS)} municipalities)"
    )
    if skipped:
        print(f"left out (no tabell A-k total to check against): {', '.join(skipped)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
