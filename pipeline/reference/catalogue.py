"""The indicator catalogue and the SSB tables it reads, each row with its evidence.

Two dbt seeds, read and validated here (the one place that knows their rules):

- ``dbt_project/seeds/ssb_tables.csv``: one row per SSB table: its title, its dimensions in SSB's order (and
  which catalogue column filters which dimension), the data years it serves, its successor, and the evidence
  (``status``, ``source``). A dimension listed without a column (``Kjonn`` in 07459) is fetched whole and
  summed.
- ``dbt_project/seeds/indicator_catalogue.csv``: one row per indicator and source. A row names a table, a
  ``ContentsCode`` and dimension filters (empty = not used). ``funksjon`` and ``alder`` may list several codes
  separated by ``;`` (``alder`` also ranges ``a..b`` of single years, ``080..105+``): the indicator is then
  the *sum* of those cells. Ratio rows name their ``numerator_id`` and ``denominator_id`` (base rows) and a
  ``scale``, so ``value = numerator / denominator * scale`` can be recomputed honestly for merged
  municipalities and groups.

Evidence: ``status`` is ``confirmed`` (a recorded response, a statbank page or working code shows the table and
code; ``source`` says which), ``confirmed_live`` (live metadata confirmed it on ``confirmed_on``),
``unverified`` (no evidence: ``kostra catalogue check`` checks it against metadata before anyone trusts it) or
``derived`` (SSB does not publish it; dbt computes it from base rows, formula in the ``note`` and the model's
YAML, and it is never fetched).

Table replacements: one indicator may have several rows with disjoint ``first_year``–``last_year`` ranges,
e.g. social-assistance recipients from 12210 until 2021 and cases from 13995 from 2022. A row whose
``series_break`` is set starts a new definition: the series is not comparable across its first year.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from pipeline import config

CATALOGUE_FILE = "indicator_catalogue.csv"
TABLES_FILE = "ssb_tables.csv"
COLUMNS = [
    "indicator_id",
    "sector",
    "label_nb",
    "label_en",
    "table_id",
    "contents_code",
    "funksjon",
    "art",
    "alder",
    "regnskapsomfang",
    "unit",
    "polarity",
    "kind",
    "numerator_id",
    "denominator_id",
    "scale",
    "first_year",
    "last_year",
    "status",
    "source",
    "confirmed_on",
    "series_break",
    "note",
    "weight_id",
]
TABLE_COLUMNS = [
    "table_id",
    "title_nb",
    "dimensions",
    "first_year",
    "last_year",
    "successor_table_id",
    "status",
    "source",
    "note",
]
FILTER_COLUMNS = ("regnskapsomfang", "funksjon", "art", "alder")
SUMMED_COLUMNS = ("funksjon", "alder")  # a filter that may list several codes, whose cells are summed
# Attributes of the indicator itself: the same on every source row of one indicator_id.
INDICATOR_COLUMNS = (
    "sector",
    "label_nb",
    "label_en",
    "unit",
    "polarity",
    "kind",
    "numerator_id",
    "denominator_id",
    "scale",
    "weight_id",
)
SECTORS = (
    "grunnskole",
    "barnehage",
    "barnevern",
    "pleie_omsorg_0_66",
    "pleie_omsorg_67_pluss",
    "kommunehelse",
    "sosiale_tjenester",
    "befolkning",
    "regnskap",
)
POLARITIES = ("higher_better", "lower_better", "neutral")
KINDS = ("expenditure", "coverage", "quality", "productivity", "need", "base")
STATUSES = ("confirmed", "confirmed_live", "unverified", "derived")
TABLE_STATUSES = ("confirmed", "confirmed_live", "unverified")
LIST_SEPARATOR = ";"
RANGE_SEPARATOR = ".."
REGION_DIMENSIONS = ("KOKkommuneregion0000", "Region")
STRUCTURAL_DIMENSIONS = ("ContentsCode", "Tid")

# Labels of the dimension codes the catalogue uses, as SSB writes them. Function and art labels follow
# SSB's KOSTRA code lists (12367 shows 'Netto/Brutto driftsutgifter på funksjon/tjenesteområde').
DIMENSION_LABELS: dict[str, dict[str, str]] = {
    "KOKregnskapsomfa0000": {
        "A": "Kommuner/fylkeskommuner",
        "B": "Kommuner/fylkeskommuner eksl. foretak, IKS, og samarbeid.",
    },
    "KOKart0000": {
        "AGD2": "Netto driftsutgifter på funksjon/tjenesteområde",
        "AGD10": "Brutto driftsutgifter på funksjon/tjenesteområde",
    },
    "KOKfunksjon0000": {
        "201": "Barnehage",
        "202": "Grunnskole",
        "211": "Styrket tilbud til førskolebarn",
        "213": "Voksenopplæring",
        "215": "Skolefritidstilbud",
        "221": "Førskolelokaler og skyss",
        "222": "Skolelokaler",
        "223": "Skoleskyss",
        "232": "Forebygging, helsestasjons- og skolehelsetjeneste",
        "233": "Annet forebyggende helsearbeid",
        "241": "Diagnose, behandling, re-/habilitering",
        "242": "Råd, veiledning og sosialt forebyggende arbeid",
        "243": "Tilbud til personer med rusproblemer",
        "244": "Barnevernstjeneste",
        "251": "Barnevernstiltak når barnet ikke er plassert av barnevernet",
        "252": "Barnevernstiltak når barnet er plassert av barnevernet",
        "253": "Helse- og omsorgstjenester i institusjon",
        "254": "Helse- og omsorgstjenester til hjemmeboende",
        "261": "Institusjonslokaler",
        "273": "Arbeidsrettede tiltak i kommunal regi",
        "276": "Kvalifiseringsordningen",
        "281": "Ytelse til livsopphold",
        "FGK7": "Barnehage",
        "FGK13": "Barnevern",
    },
    "KOKbvfunksjon0000": {
        "0": "Tiltak i alt",
        "1": "251 - Barnevernstiltak når barnet ikke er plassert av barnevernet",
        "2": "252 - Barnevernstiltak når barnet er plassert av barnevernet",
    },
    "KOKalder0000": {"F000-017": "0-17 år", "F000-022": "0-22 år"},
    # 07459: single years; SSB's top code is '105+'.
    "Alder": {**{f"{a:03d}": f"{a} år" for a in range(105)}, "105+": "105 år eller eldre"},
    # SSB's sex codes (07459 Kjonn): fetched whole and summed.
    "Kjonn": {"1": "Menn", "2": "Kvinner"},
}
DIMENSION_LABELS_NB = {
    "KOKkommuneregion0000": "region",
    "Region": "region",
    "KOKregnskapsomfa0000": "regnskapsomfang",
    "KOKfunksjon0000": "funksjon",
    "KOKbvfunksjon0000": "funksjon",
    "KOKart0000": "art",
    "KOKalder0000": "alder",
    "Alder": "alder",
    "Kjonn": "kjønn",
    "ContentsCode": "statistikkvariabel",
    "Tid": "år",
}
UNIT_DECIMALS = {
    "prosent": 1,
    "timer per uke": 1,
    "indeks": 2,
    "årsverk": 1,
    "elever": 0,
    "skalapoeng": 0,
    "poeng": 1,
    "årstimer": 0,
    "barn per årsverk": 1,
}


# The most codes one row may list in a summed dimension (ages 0-105 are 106).
MAX_SUMMED_CODES = 127


class CatalogueError(ValueError):
    """The indicator catalogue or the table seed is malformed; the message names the file and row."""


def _serves(first_year: int | None, last_year: int | None, year: int) -> bool:
    return (first_year is None or year >= first_year) and (last_year is None or year <= last_year)


@dataclass(frozen=True)
class TableLayout:
    """One SSB table as the seed describes it: dimensions in SSB order, years served, evidence."""

    table_id: str
    title_nb: str
    # (dimension id, catalogue column or None), in SSB's order.
    dimensions: tuple[tuple[str, str | None], ...]
    first_year: int | None = None
    last_year: int | None = None
    successor_table_id: str | None = None
    status: str = "unverified"
    source: str = ""
    note: str = ""

    @property
    def region_dimension(self) -> str:
        return next(d for d, _ in self.dimensions if d in REGION_DIMENSIONS)

    @property
    def filters(self) -> tuple[tuple[str, str], ...]:
        """(catalogue column, dimension id) of the filtered dimensions, in SSB order."""
        return tuple((col, dim) for dim, col in self.dimensions if col)

    @property
    def summed_dimensions(self) -> tuple[str, ...]:
        """Dimensions the catalogue does not filter: fetched whole, their cells summed."""
        return tuple(
            d
            for d, col in self.dimensions
            if col is None and d not in REGION_DIMENSIONS and d not in STRUCTURAL_DIMENSIONS
        )

    def serves(self, year: int) -> bool:
        """Whether the table publishes data ``year``."""
        return _serves(self.first_year, self.last_year, year)


@dataclass(frozen=True)
class TableSpec:
    """The SSB-shaped table the catalogue needs.

    ``dimensions`` is in SSB order: the region dimension and ``Tid`` carry no codes here (the generator or
    the statbank fills them); the other dimensions and ``ContentsCode`` carry exactly the codes used.
    """

    table_id: str
    title_nb: str
    dimensions: list[tuple[str, list[str], list[str]]]
    contents: list[tuple[str, str, str, int]]  # (code, label, unit, decimals)
    region_dimension: str = "KOKkommuneregion0000"
    filter_dimensions: dict[str, str] = field(default_factory=dict)  # catalogue column -> dimension id
    first_year: int | None = None
    last_year: int | None = None
    successor_table_id: str | None = None
    status: str = "unverified"
    source: str = ""
    # Dimensions the catalogue sums over (07459's Kjonn): a fetch eliminates them, so SSB sums.
    summed_dimensions: tuple[str, ...] = ()

    @property
    def dimension_ids(self) -> list[str]:
        return [d[0] for d in self.dimensions]

    def serves(self, year: int) -> bool:
        """Whether the table publishes data ``year``."""
        return _serves(self.first_year, self.last_year, year)


def split_codes(value: str) -> list[str]:
    """A filter cell as a list of codes: '' -> [], '202;213' -> ['202', '213'], '001..003' -> 3 codes."""
    if not value:
        return []
    out: list[str] = []
    for part in (c.strip() for c in str(value).split(LIST_SEPARATOR)):
        if not part:
            continue
        out.extend(_expand_range(part) if RANGE_SEPARATOR in part else [part])
    return out


def _expand_range(text: str) -> list[str]:
    """``080..105+`` -> ``080, 081, …, 104, 105+``: zero-padded single years, the open top code kept."""
    lo, hi = (p.strip() for p in text.split(RANGE_SEPARATOR, 1))
    top_open = hi.endswith("+")
    lo_n, hi_n = lo.rstrip("+"), hi.rstrip("+")
    if not (lo_n.isdigit() and hi_n.isdigit()) or lo.endswith("+"):
        raise CatalogueError(f"bad code range {text!r} (expected e.g. '001..005' or '080..105+')")
    width = len(lo_n)
    start, stop = int(lo_n), int(hi_n)
    if stop < start:
        raise CatalogueError(f"bad code range {text!r}: the end is before the start")
    codes = [f"{a:0{width}d}" for a in range(start, stop + 1)]
    if top_open:
        codes[-1] = f"{stop:0{width}d}+"
    return codes


def decimals_for(unit: str) -> int:
    return UNIT_DECIMALS.get(unit, 0)


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise CatalogueError(f"seed not found: {path}")
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    if list(df.columns) != columns:
        raise CatalogueError(f"{path}: columns must be exactly {columns}, got {list(df.columns)}")
    return df


def _year(value: str, where: str) -> int | None:
    if not value:
        return None
    if not value.isdigit() or not 1990 <= int(value) <= 2100:
        raise CatalogueError(f"{where}: not a data year: {value!r}")
    return int(value)


def _parse_layouts(df: pd.DataFrame, source: str) -> dict[str, TableLayout]:
    out: dict[str, TableLayout] = {}
    for i, row in enumerate(df.to_dict("records")):
        where = f"{source} line {i + 2} (table_id={row['table_id']!r})"
        tid = row["table_id"]
        if not tid.isdigit() or len(tid) != 5:
            raise CatalogueError(f"{where}: a statbank table id has five digits")
        if tid in out:
            raise CatalogueError(f"{where}: duplicate table_id")
        if row["status"] not in TABLE_STATUSES:
            raise CatalogueError(f"{where}: status must be one of {TABLE_STATUSES}, got {row['status']!r}")
        if not row["source"]:
            raise CatalogueError(f"{where}: source is empty (name the evidence, or the lead)")
        dims: list[tuple[str, str | None]] = []
        for part in (p.strip() for p in row["dimensions"].split(LIST_SEPARATOR)):
            dim, _, col = part.partition("=")
            if col and col not in FILTER_COLUMNS:
                raise CatalogueError(f"{where}: dimension {dim} maps to unknown column {col!r}")
            dims.append((dim, col or None))
        ids = [d for d, _ in dims]
        if len(set(ids)) != len(ids):
            raise CatalogueError(f"{where}: a dimension is listed twice")
        if not any(d in REGION_DIMENSIONS for d in ids) or not set(STRUCTURAL_DIMENSIONS) <= set(ids):
            raise CatalogueError(f"{where}: dimensions need a region dimension, ContentsCode and Tid")
        out[tid] = TableLayout(
            table_id=tid,
            title_nb=row["title_nb"],
            dimensions=tuple(dims),
            first_year=_year(row["first_year"], where),
            last_year=_year(row["last_year"], where),
            successor_table_id=row["successor_table_id"] or None,
            status=row["status"],
            source=row["source"],
            note=row["note"],
        )
    for layout in out.values():
        if layout.successor_table_id and layout.successor_table_id not in out:
            raise CatalogueError(
                f"{source}: table {layout.table_id} names successor {layout.successor_table_id}, "
                "which has no row"
            )
    return out


def validate(df: pd.DataFrame, layouts: dict[str, TableLayout], source: str = CATALOGUE_FILE) -> None:
    """Raise CatalogueError naming the first bad row (line numbers count the header as line 1)."""

    def fail(i: int, iid: str, msg: str) -> None:
        raise CatalogueError(f"{source} line {i + 2} (indicator_id={iid!r}): {msg}")

    records = df.to_dict("records")
    first_of: dict[str, dict] = {}
    kinds: dict[str, str] = {}
    for r in records:
        first_of.setdefault(r["indicator_id"], r)
        kinds.setdefault(r["indicator_id"], r["kind"])
    cells: dict[tuple, str] = {}
    ranges: dict[str, list[tuple[int, int, int]]] = {}
    for i, row in enumerate(records):
        iid = row["indicator_id"]
        if not iid:
            fail(i, iid, "empty indicator_id")
        for col in ("label_nb", "label_en", "unit", "source"):
            if not row[col]:
                fail(i, iid, f"{col} is empty")
        if row["sector"] not in SECTORS:
            fail(i, iid, f"unknown sector {row['sector']!r} (expected one of {SECTORS})")
        if row["polarity"] not in POLARITIES:
            fail(i, iid, f"bad polarity {row['polarity']!r} (expected one of {POLARITIES})")
        if row["kind"] not in KINDS:
            fail(i, iid, f"bad kind {row['kind']!r} (expected one of {KINDS})")
        if row["status"] not in STATUSES:
            fail(i, iid, f"status must be one of {STATUSES}, got {row['status']!r}")
        if (row["status"] == "confirmed_live") != bool(row["confirmed_on"]):
            fail(
                i,
                iid,
                "confirmed_on is the date live metadata confirmed the row: set it exactly for confirmed_live",
            )
        first = first_of[iid]
        for col in INDICATOR_COLUMNS:
            if row[col] != first[col]:
                fail(
                    i,
                    iid,
                    f"{col} differs between the rows of one indicator ({row[col]!r} vs {first[col]!r})",
                )
        try:
            lo = _year(row["first_year"], f"{source} line {i + 2}")
            hi = _year(row["last_year"], f"{source} line {i + 2}")
        except CatalogueError as exc:
            fail(i, iid, str(exc).split(": ", 1)[1])
        lo_n, hi_n = lo or 0, hi or 9999
        if hi_n < lo_n:
            fail(i, iid, "last_year is before first_year")
        for olo, ohi, line in ranges.get(iid, []):
            if lo_n <= ohi and olo <= hi_n:
                fail(i, iid, f"its years overlap the row on line {line + 2}; one source serves each year")
        ranges.setdefault(iid, []).append((lo_n, hi_n, i))
        if row["series_break"] and lo is None:
            fail(i, iid, "series_break needs the first_year from which the new definition applies")
        num, den = row["numerator_id"], row["denominator_id"]
        if bool(num) != bool(den):
            fail(i, iid, "numerator_id and denominator_id must both be set or both be empty")
        if row["kind"] == "base" and num:
            fail(i, iid, "a base row cannot have a numerator/denominator")
        if num:
            for ref in (num, den):
                if ref not in kinds:
                    fail(i, iid, f"unknown indicator {ref!r} as numerator/denominator")
                if kinds[ref] != "base":
                    fail(i, iid, f"numerator/denominator {ref!r} is not a base row")
            try:
                scale = float(row["scale"])
            except ValueError:
                fail(i, iid, f"a ratio needs a numeric scale, got {row['scale']!r}")
            if not (scale > 0 and math.isfinite(scale)):
                fail(i, iid, f"scale must be positive, got {row['scale']!r}")
        elif row["scale"]:
            fail(i, iid, "scale is only used by ratio rows")
        # weight_id: the rate's own denominator population (pupils, inhabitants 1-5, 67+, ...), which weights
        # the group's weighted mean (marts.asss_aggregates). A ratio row is weighted by its denominator_id.
        weight = row["weight_id"]
        if weight:
            if row["kind"] == "base":
                fail(i, iid, "a base row is a count or amount and has no weight_id")
            if num and weight != den:
                fail(i, iid, f"a ratio row is weighted by its denominator {den!r}, not {weight!r}")
            if weight not in kinds:
                fail(i, iid, f"unknown indicator {weight!r} as weight_id")
            elif kinds[weight] != "base":
                fail(i, iid, f"weight_id {weight!r} is not a base row")
        if row["status"] == "derived":
            if row["table_id"] or row["contents_code"] or any(row[c] for c in FILTER_COLUMNS):
                fail(i, iid, "a derived row is computed, not fetched: leave table, code and filters empty")
            if not num and not row["note"].startswith("derived:"):
                fail(
                    i, iid, "a derived row needs a numerator and denominator, or its formula as 'derived: …'"
                )
            continue
        if not row["table_id"] or not row["contents_code"]:
            fail(i, iid, "a fetched row needs table_id and contents_code (or status derived)")
        layout = layouts.get(row["table_id"])
        if layout is None:
            fail(i, iid, f"table_id {row['table_id']!r} has no row in {TABLES_FILE}")
        if lo is not None and layout.first_year and lo < layout.first_year:
            fail(i, iid, f"first_year {lo} is before table {layout.table_id} starts ({layout.first_year})")
        if layout.last_year and (hi is None or hi > layout.last_year):
            fail(
                i,
                iid,
                f"table {layout.table_id} ends in {layout.last_year}: set last_year, and a successor row",
            )
        if layout.status == "unverified" and row["status"] != "unverified":
            fail(i, iid, f"table {layout.table_id} is unverified, so its rows cannot be {row['status']}")
        allowed = {col for col, _ in layout.filters}
        for col in FILTER_COLUMNS:
            try:
                codes = split_codes(row[col])
            except CatalogueError as exc:
                fail(i, iid, str(exc))
            if codes and col not in allowed:
                fail(i, iid, f"table {row['table_id']} has no dimension for the {col} filter")
            if len(codes) > 1 and col not in SUMMED_COLUMNS:
                fail(
                    i, iid, f"only {' and '.join(SUMMED_COLUMNS)} may list several codes, {col}={row[col]!r}"
                )
            if len(set(codes)) != len(codes):
                fail(i, iid, f"{col} repeats a code: {row[col]!r}")
            if len(codes) > MAX_SUMMED_CODES:
                # int_cells__catalogue_matched counts the codes found in a 127-bit mask.
                fail(i, iid, f"{col} lists {len(codes)} codes; at most {MAX_SUMMED_CODES} can be summed")
        for col in allowed:
            if not split_codes(row[col]):
                fail(i, iid, f"table {row['table_id']} needs a {col} filter")
        if all(len(split_codes(row[c])) <= 1 for c in SUMMED_COLUMNS):
            key = (row["table_id"], row["contents_code"], *(row[c] for c in FILTER_COLUMNS), lo_n)
            if key in cells:
                fail(i, iid, f"same cell as {cells[key]!r}")
            cells[key] = iid


def _file_key(path: Path) -> tuple[str, int]:
    """A cache key that changes when the file does, so a long-lived process (``dagster dev``) sees edits."""
    p = path.resolve()
    try:
        return str(p), p.stat().st_mtime_ns
    except OSError:
        return str(p), -1  # reading it fails with the file's name, not here


@lru_cache(maxsize=4)
def _layouts_cached(path: str, _mtime: int) -> dict[str, TableLayout]:
    return _parse_layouts(_read_csv(Path(path), TABLE_COLUMNS), path)


def table_layouts(path: Path | None = None) -> dict[str, TableLayout]:
    """Every SSB table the catalogue may read, by table id (from ``ssb_tables.csv``)."""
    p = Path(path) if path else config.SEEDS_DIR / TABLES_FILE
    return dict(_layouts_cached(*_file_key(p)))


@lru_cache(maxsize=4)
def _load_cached(path: str, _mtime: int, tables_path: str, tables_mtime: int) -> pd.DataFrame:
    df = _read_csv(Path(path), COLUMNS)
    validate(df, _layouts_cached(tables_path, tables_mtime), source=path)
    df["scale"] = pd.to_numeric(df["scale"].replace("", None), errors="raise")
    for col in ("first_year", "last_year"):
        df[col] = pd.to_numeric(df[col].replace("", None), errors="raise").astype("Int64")
    return df


def load_catalogue(path: Path | None = None, tables_path: Path | None = None) -> pd.DataFrame:
    """The validated catalogue: one row per indicator and source (``scale`` float, years nullable ints)."""
    p = Path(path) if path else config.SEEDS_DIR / CATALOGUE_FILE
    t = Path(tables_path) if tables_path else config.SEEDS_DIR / TABLES_FILE
    return _load_cached(*_file_key(p), *_file_key(t)).copy()


def fetched_rows(path: Path | None = None) -> pd.DataFrame:
    """The rows read from SSB tables (every status but ``derived``)."""
    df = load_catalogue(path)
    return df[df["status"] != "derived"].reset_index(drop=True)


def indicators(sector: str | None = None, path: Path | None = None) -> pd.DataFrame:
    """One row per indicator (its newest source row), optionally of one sector."""
    df = load_catalogue(path)
    df = (
        df.assign(_from=df["first_year"].fillna(0))
        .sort_values(["indicator_id", "_from"], kind="stable")
        .drop_duplicates("indicator_id", keep="last")
        .drop(columns="_from")
        .sort_index()
        .reset_index(drop=True)
    )
    if sector is None:
        return df
    if sector not in SECTORS:
        raise CatalogueError(f"unknown sector {sector!r} (expected one of {SECTORS})")
    return df[df["sector"] == sector].reset_index(drop=True)


def _code_sort_key(code: str) -> tuple:
    # Numeric codes first in numeric order, then group codes (FGK7 before FGK13).
    digits = "".join(ch for ch in code if ch.isdigit())
    return (
        not code.isdigit() and not code.rstrip("+").isdigit(),
        code.rstrip("0123456789+"),
        int(digits or 0),
        code,
    )


def tables(path: Path | None = None) -> dict[str, TableSpec]:
    """The SSB-shaped tables the catalogue reads, with exactly the codes it uses, in SSB dimension order."""
    # Every fetch asks for its table's spec (labels, summed dimensions): read the seeds once per change, not
    # once per table and release (560 times in a backfill of the demo, 34 s).
    p = Path(path) if path else config.SEEDS_DIR / CATALOGUE_FILE
    return copy.deepcopy(_tables_cached(*_file_key(p), *_file_key(config.SEEDS_DIR / TABLES_FILE)))


@lru_cache(maxsize=4)
def _tables_cached(path: str, _mtime: int, _tables_path: str, _tables_mtime: int) -> dict[str, TableSpec]:
    df = fetched_rows(Path(path))
    layouts = table_layouts()
    out: dict[str, TableSpec] = {}
    for table_id, rows in df.groupby("table_id", sort=True):
        layout = layouts[table_id]
        dims: list[tuple[str, list[str], list[str]]] = []
        contents: list[tuple[str, str, str, int]] = []
        seen: set[str] = set()
        for r in rows.to_dict("records"):
            if r["contents_code"] in seen:
                continue
            seen.add(r["contents_code"])
            label = (
                r["label_nb"] if rows["contents_code"].eq(r["contents_code"]).sum() == 1 else _shared_label(r)
            )
            contents.append((r["contents_code"], label, r["unit"], decimals_for(r["unit"])))
        for dim_id, col in layout.dimensions:
            if dim_id == layout.region_dimension or dim_id == "Tid":
                dims.append((dim_id, [], []))
            elif dim_id == "ContentsCode":
                dims.append(("ContentsCode", [c[0] for c in contents], [c[1] for c in contents]))
            else:
                known = DIMENSION_LABELS.get(dim_id, {})
                if col:
                    codes = sorted({c for v in rows[col] for c in split_codes(v)}, key=_code_sort_key)
                else:
                    codes = list(known)
                dims.append((dim_id, codes, [known.get(c, c) for c in codes]))
        out[table_id] = TableSpec(
            table_id=table_id,
            title_nb=f"{table_id}: {layout.title_nb}",
            dimensions=dims,
            contents=contents,
            region_dimension=layout.region_dimension,
            filter_dimensions=dict(layout.filters),
            first_year=layout.first_year,
            last_year=layout.last_year,
            successor_table_id=layout.successor_table_id,
            status=layout.status,
            source=layout.source,
            summed_dimensions=layout.summed_dimensions,
        )
    return out


def _shared_label(row: dict) -> str:
    label = row["label_nb"]
    for suffix in (", 0-66 år", ", 67 år og over"):
        label = label.replace(suffix, "")
    if row["contents_code"] == "KOSbelop0000":
        return "Beløp (1000 kr)"
    if row["contents_code"] == "Personer1":
        return "Personer"
    if row["contents_code"].startswith("KOSbvbarntiltaka"):
        return (
            "Barn med barnevernstiltak i løpet av året"
            if row["unit"] != "prosent"
            else "Andel barn med barnevernstiltak i forhold til innbyggere"
        )
    return label


def cell_filters(row: dict | pd.Series) -> dict[str, list[str]]:
    """The dimension codes a catalogue row selects, keyed by SSB dimension id (ranges expanded)."""
    layout = table_layouts()[row["table_id"]]
    return {dim_id: split_codes(row[col]) for col, dim_id in layout.filters}
