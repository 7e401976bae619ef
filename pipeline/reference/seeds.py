"""Look-ups over the committed municipality reference seeds (codes, validity, successors, ASSS, KOSTRA groups).

Pure functions over ``dbt_project/seeds/reference/*.csv``; each file is read once and cached. Codes are
4-character strings ("0219"); years are ints. ``municipality_id`` is the 2024+ code whose harmonised series
a code belongs to (Bærum: 0219 → 3024 → 3201).
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from pipeline.config import SEEDS_DIR

REFERENCE_DIR = SEEDS_DIR / "reference"
# SSB's table labels show a code's start year only when it began in or after this year; earlier codes
# read "Bærum (-2019)". Checked against every label of table 13502 (tests/test_reference.py).
SSB_LABEL_FIRST_START_YEAR = 2013
# Labels StatBank shows without the usual validity suffix (table 13502 lists Rindal's pre-2019 Møre og
# Romsdal code 1567 as plain "Rindal").
SSB_LABEL_EXCEPTIONS = {"1567": "Rindal"}

_COLUMNS = {
    "municipalities": {
        "municipality_code": "str",
        "name": "str",
        "valid_from_year": "Int64",
        "valid_to_year": "Int64",
        "successor_code": "str",
        "municipality_id": "str",
        "change_note": "str",
        "source": "str",
    },
    "asss_membership": {
        "municipality_id": "str",
        "name": "str",
        "year": "Int64",
        "role": "str",
        "source": "str",
    },
    "kostra_groups": {
        "municipality_code": "str",
        "year_from": "Int64",
        "year_to": "Int64",
        "kostra_group": "str",
        "grouping": "str",
        "source": "str",
    },
    "aggregate_regions": {"region_code": "str", "name": "str", "kind": "str", "source": "str"},
    "region_successors": {
        "region_code": "str",
        "region_kind": "str",
        "successor_code": "str",
        "change_year": "Int64",
        "change_kind": "str",
        "share": "str",
        "is_on_series_borders": "str",
        "note": "str",
        "source": "str",
    },
}


class ReferenceError(ValueError):
    """A code, year or seed file the reference data cannot answer for."""


@cache
def _table(name: str) -> pd.DataFrame:
    path = REFERENCE_DIR / f"{name}.csv"
    if not path.is_file():
        raise ReferenceError(
            f"reference seed {path} is missing; run python -m pipeline.reference.klass.build_reference"
        )
    dtypes = _COLUMNS[name]
    df = pd.read_csv(path, dtype="str", keep_default_na=False)
    missing = set(dtypes) - set(df.columns)
    if missing:
        raise ReferenceError(f"{path}: missing columns {sorted(missing)}")
    for col, dtype in dtypes.items():
        if dtype == "Int64":
            df[col] = pd.to_numeric(df[col].replace("", None)).astype("Int64")
    return df


@cache
def _by_code() -> dict[str, dict]:
    return {r["municipality_code"]: r for r in _table("municipalities").to_dict("records")}


def _row(code: str) -> dict:
    try:
        return _by_code()[code]
    except KeyError:
        raise ReferenceError(f"municipality code {code!r} is not in municipalities.csv") from None


def _year(year: int, name: str = "year") -> int:
    if isinstance(year, bool) or not isinstance(year, int):
        raise ReferenceError(f"{name} must be an int, got {year!r}")
    return year


def _valid(row: dict, year: int) -> bool:
    to = row["valid_to_year"]
    return row["valid_from_year"] <= year and (pd.isna(to) or year <= to)


def municipalities() -> pd.DataFrame:
    """The municipalities seed (a copy; valid_to_year is <NA> for codes still valid)."""
    return _table("municipalities").copy()


def asss_membership() -> pd.DataFrame:
    return _table("asss_membership").copy()


def kostra_groups() -> pd.DataFrame:
    return _table("kostra_groups").copy()


def aggregate_regions() -> pd.DataFrame:
    return _table("aggregate_regions").copy()


def region_successors() -> pd.DataFrame:
    """Every successor of every municipality and county code that ended or gave up territory."""
    return _table("region_successors").copy()


def codes_valid_in(year: int) -> list[str]:
    """Municipality codes valid in ``year`` (2020: 356 codes), sorted."""
    _year(year)
    return sorted(c for c, r in _by_code().items() if _valid(r, year))


def all_codes(first_year: int, last_year: int) -> list[str]:
    """Codes valid in at least one year of ``first_year..last_year``, sorted."""
    _year(first_year, "first_year")
    _year(last_year, "last_year")
    if first_year > last_year:
        raise ReferenceError(f"first_year {first_year} is after last_year {last_year}")
    return sorted(
        c
        for c, r in _by_code().items()
        if r["valid_from_year"] <= last_year
        and (pd.isna(r["valid_to_year"]) or r["valid_to_year"] >= first_year)
    )


def name_in(code: str, year: int) -> str | None:
    """The code's name if it was valid in ``year``, else None."""
    row = _row(code)
    return row["name"] if _valid(row, _year(year)) else None


def municipality_id(code: str) -> str:
    """The current code whose harmonised series ``code`` belongs to."""
    return _row(code)["municipality_id"]


def successor_chain(code: str) -> list[str]:
    """``code`` followed by each successor in turn, ending with a code still valid (0219, 3024, 3201)."""
    chain = [code]
    while succ := _row(chain[-1])["successor_code"]:
        if succ in chain:
            raise ReferenceError(f"municipalities.csv: successor cycle {chain + [succ]}")
        chain.append(succ)
    return chain


def history(municipality_id: str) -> list[tuple[str, int, int | None]]:
    """Every code of one harmonised series as (code, valid_from_year, valid_to_year or None), oldest first."""
    rows = [r for r in _by_code().values() if r["municipality_id"] == municipality_id]
    if not rows:
        raise ReferenceError(f"{municipality_id!r} is not a municipality_id in municipalities.csv")
    out = [
        (
            r["municipality_code"],
            int(r["valid_from_year"]),
            None if pd.isna(r["valid_to_year"]) else int(r["valid_to_year"]),
        )
        for r in rows
    ]
    return sorted(out, key=lambda t: (t[1], t[2] if t[2] is not None else 10_000, t[0]))


def codes_for(municipality_id: str, year: int) -> list[str]:
    """Codes of one harmonised series valid in ``year`` (Trondheim 2019: 5001 and Klæbu 5030)."""
    _year(year)
    return sorted(c for c, y0, y1 in history(municipality_id) if y0 <= year and (y1 is None or year <= y1))


def asss_members(year: int, include_comparators: bool = False) -> list[str]:
    """ASSS municipality_ids in ``year``; with ``include_comparators`` also the extra comparators (Asker <2022)."""
    _year(year)
    df = _table("asss_membership")
    rows = df[df["year"] == year]
    if rows.empty:
        years = df["year"]
        raise ReferenceError(f"asss_membership.csv covers {years.min()}-{years.max()}, not {year}")
    roles = {"member", "comparator"} if include_comparators else {"member"}
    return sorted(rows.loc[rows["role"].isin(roles), "municipality_id"])


def kostra_group(code: str, year: int) -> str | None:
    """The KOSTRA group (``EKGnn``) of ``code`` in ``year``, or None where the seed does not record one.

    The pre-2020 and 2020 groupings number their groups differently; the seed's ``grouping`` column says
    which applies, and only one row covers a code in a given year.
    """
    _row(code)
    _year(year)
    df = _table("kostra_groups")
    hit = df[
        (df["municipality_code"] == code)
        & (df["year_from"] <= year)
        & (df["year_to"].isna() | (df["year_to"] >= year))
    ]
    if len(hit) > 1:
        raise ReferenceError(f"kostra_groups.csv: {len(hit)} rows cover {code} in {year}")
    return None if hit.empty else hit["kostra_group"].iloc[0]


def ssb_label(code: str, as_of: int | None = None, with_code: bool = True) -> str:
    """The label SSB's StatBank shows for ``code`` in a table whose newest year is ``as_of``.

    Codes that ended before ``as_of`` carry their validity: "0219 Bærum (-2019)", "5012 Snillfjord (2018-2019)",
    "3024 Bærum (2020-2023)" (as_of 2024). ``as_of`` defaults to the newest year in the seed.
    ``with_code=False`` gives the JSON-stat category label ("Bærum (-2019)").
    """
    row = _row(code)
    if as_of is None:
        as_of = int(_table("municipalities")["valid_from_year"].max())
    _year(as_of, "as_of")
    label = row["name"]
    to = row["valid_to_year"]
    if code in SSB_LABEL_EXCEPTIONS:
        label = SSB_LABEL_EXCEPTIONS[code]
    elif not pd.isna(to) and to < as_of:
        start = row["valid_from_year"]
        # A floored start (the source column says so) means "began before our sources reach".
        known = start >= SSB_LABEL_FIRST_START_YEAR and "floored" not in row["source"]
        label += f" ({start}-{to})" if known else f" (-{to})"
    return f"{code} {label}" if with_code else label


INDICES_DIR = SEEDS_DIR / "indices"


@cache
def function_totals() -> dict[str, tuple[str, ...]]:
    """The function groups 12367 publishes as totals of their functions (seed indices/function_totals.csv)."""
    df = pd.read_csv(INDICES_DIR / "function_totals.csv", dtype="str", keep_default_na=False)
    return {total: tuple(sorted(g["function"])) for total, g in df.groupby("total_function", sort=True)}


@cache
def function_sectors() -> dict[str, str]:
    """KOSTRA function (and function group) → ASSS sector, from seeds indices/sector_functions.csv and
    indices/function_totals.csv: the sectors the indices and the accounts findings use."""
    df = pd.read_csv(INDICES_DIR / "sector_functions.csv", dtype="str", keep_default_na=False)
    out = {f: r["sector"] for r in df.to_dict("records") for f in r["funksjoner"].split(";")}
    for total, parts in function_totals().items():
        sectors = {out[p] for p in parts if p in out}
        if len(sectors) == 1:
            out[total] = sectors.pop()
    return out
