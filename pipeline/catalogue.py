"""The indicator catalogue: which SSB cells make up each ASSS indicator, and which tables that needs.

The catalogue is the dbt seed ``dbt_project/seeds/indicator_catalogue.csv``, one row per indicator. A row
names an SSB table, a ``ContentsCode`` and optional dimension filters (empty = not used). A ``funksjon``
filter may list several codes separated by ``;``: the indicator is then the *sum* of those cells (e.g. the
grunnskole sector is 202;213;215;222;223). ``kind=base`` rows are counts and amounts; ratio rows name their
``numerator_id`` and ``denominator_id`` (both base rows) and a ``scale`` so that
``value = numerator / denominator * scale`` can be recomputed honestly for merged municipalities and groups.

Which SSB dimension a filter column selects depends on the table (``TABLE_LAYOUTS``): in 12275 the
``funksjon`` column selects ``KOKbvfunksjon0000`` (0 = tiltak i alt, 1 = 251, 2 = 252), elsewhere
``KOKfunksjon0000``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from pipeline import config

CATALOGUE_FILE = "indicator_catalogue.csv"
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
    "verified",
    "note",
]
FILTER_COLUMNS = ("regnskapsomfang", "funksjon", "art", "alder")
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
LIST_SEPARATOR = ";"


@dataclass(frozen=True)
class TableLayout:
    """How one SSB table is shaped: its region dimension, title, and which dimension each filter selects."""

    title_nb: str
    region_dimension: str = "KOKkommuneregion0000"
    # Ordered as SSB orders them, between the region and ContentsCode: (catalogue column, dimension id).
    filters: tuple[tuple[str, str], ...] = ()


TABLE_LAYOUTS: dict[str, TableLayout] = {
    "12367": TableLayout(
        "12367: Detaljerte regnskapstall driftsregnskapet, etter region, regnskapsomfang, funksjon, art, "
        "statistikkvariabel og år",
        filters=(
            ("regnskapsomfang", "KOKregnskapsomfa0000"),
            ("funksjon", "KOKfunksjon0000"),
            ("art", "KOKart0000"),
        ),
    ),
    "07459": TableLayout(
        "07459: Befolkning, etter region, alder, statistikkvariabel og år",
        region_dimension="Region",
        filters=(("alder", "Alder"),),
    ),
    "12235": TableLayout("12235: Utvalgte nøkkeltall for grunnskole, etter region, statistikkvariabel og år"),
    "13502": TableLayout("13502: Utvalgte nøkkeltall for barnehager, etter region, statistikkvariabel og år"),
    "12275": TableLayout(
        "12275: Barn med tiltak i løpet av året og per 31. desember, etter region, alder, funksjon, "
        "statistikkvariabel og år",
        filters=(("alder", "KOKalder0000"), ("funksjon", "KOKbvfunksjon0000")),
    ),
    "12286": TableLayout(
        "12286: Barn med undersøking og prosentdelen barn med undersøking frå barnevernet, etter region, "
        "statistikkvariabel og år"
    ),
    "12279": TableLayout("12279: Nøkkeltal utgifter barnevern, etter region, statistikkvariabel og år"),
    "12003": TableLayout(
        "12003: Omsorgstjenester - brukere, etter region, alder, statistikkvariabel og år",
        filters=(("alder", "KOKalder0000"),),
    ),
    "12209": TableLayout(
        "12209: Utvalgte nøkkeltall for pleie og omsorg, etter region, statistikkvariabel og år"
    ),
    "13533": TableLayout(
        "13533: Kommunehelse - supplerende grunnlagstall og nøkkeltall, etter region, statistikkvariabel og år"
    ),
    "12210": TableLayout(
        "12210: Utvalgte nøkkeltall for sosiale tjenester, etter region, statistikkvariabel og år"
    ),
}

# Norwegian labels of the dimension codes the catalogue uses. Function and art labels follow SSB's KOSTRA
# code lists (12367 shows 'Netto/Brutto driftsutgifter på funksjon/tjenesteområde').
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
}
AGE_LABELS = {
    "F000-120": "I alt",
    "F000-017": "0-17 år",
    "F000-020": "0-20 år",
    "F000-066": "0-66 år",
    "F001-002": "1-2 år",
    "F001-005": "1-5 år",
    "F003-005": "3-5 år",
    "F006-015": "6-15 år",
    "F018-024": "18-24 år",
    "F020-066": "20-66 år",
    "F025-066": "25-66 år",
    "F067-120": "67 år og over",
    "F080-120": "80 år og over",
}
DIMENSION_LABELS["KOKalder0000"] = AGE_LABELS
DIMENSION_LABELS["Alder"] = AGE_LABELS
DIMENSION_LABELS_NB = {
    "KOKkommuneregion0000": "region",
    "Region": "region",
    "KOKregnskapsomfa0000": "regnskapsomfang",
    "KOKfunksjon0000": "funksjon",
    "KOKbvfunksjon0000": "funksjon",
    "KOKart0000": "art",
    "KOKalder0000": "alder",
    "Alder": "alder",
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
}


class CatalogueError(ValueError):
    """The indicator catalogue is malformed; the message names the row."""


@dataclass(frozen=True)
class TableSpec:
    """The SSB-shaped table the catalogue needs.

    ``dimensions`` is in SSB order: the region dimension and ``Tid`` carry no codes here (the generator or
    the statbank fills them); the filter dimensions and ``ContentsCode`` carry exactly the codes used.
    """

    table_id: str
    title_nb: str
    dimensions: list[tuple[str, list[str], list[str]]]
    contents: list[tuple[str, str, str, int]]  # (code, label, unit, decimals)
    region_dimension: str = "KOKkommuneregion0000"
    filter_dimensions: dict[str, str] = field(default_factory=dict)  # catalogue column -> dimension id

    @property
    def dimension_ids(self) -> list[str]:
        return [d[0] for d in self.dimensions]


def split_codes(value: str) -> list[str]:
    """A filter cell as a list of codes: '' -> [], '202;213' -> ['202', '213']."""
    if not value:
        return []
    return [c.strip() for c in value.split(LIST_SEPARATOR) if c.strip()]


def decimals_for(unit: str) -> int:
    return UNIT_DECIMALS.get(unit, 0)


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise CatalogueError(f"indicator catalogue not found: {path}")
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    if list(df.columns) != COLUMNS:
        raise CatalogueError(f"{path}: columns must be exactly {COLUMNS}, got {list(df.columns)}")
    return df


def validate(df: pd.DataFrame, source: str = CATALOGUE_FILE) -> None:
    """Raise CatalogueError naming the first bad row (line numbers count the header as line 1)."""

    def fail(i: int, iid: str, msg: str) -> None:
        raise CatalogueError(f"{source} line {i + 2} (indicator_id={iid!r}): {msg}")

    ids = df["indicator_id"].tolist()
    seen: set[str] = set()
    cells: dict[tuple, str] = {}
    kinds = dict(zip(df["indicator_id"], df["kind"], strict=True))
    for i, row in enumerate(df.to_dict("records")):
        iid = row["indicator_id"]
        if not iid:
            fail(i, iid, "empty indicator_id")
        if iid in seen:
            fail(i, iid, "duplicate indicator_id")
        seen.add(iid)
        for col in ("label_nb", "label_en", "table_id", "contents_code", "unit"):
            if not row[col]:
                fail(i, iid, f"{col} is empty")
        if row["sector"] not in SECTORS:
            fail(i, iid, f"unknown sector {row['sector']!r} (expected one of {SECTORS})")
        if row["polarity"] not in POLARITIES:
            fail(i, iid, f"bad polarity {row['polarity']!r} (expected one of {POLARITIES})")
        if row["kind"] not in KINDS:
            fail(i, iid, f"bad kind {row['kind']!r} (expected one of {KINDS})")
        if row["verified"] not in ("true", "false"):
            fail(i, iid, f"verified must be true or false, got {row['verified']!r}")
        layout = TABLE_LAYOUTS.get(row["table_id"])
        if layout is None:
            fail(i, iid, f"table_id {row['table_id']!r} has no layout in pipeline.catalogue.TABLE_LAYOUTS")
        allowed = {col for col, _ in layout.filters}
        for col in FILTER_COLUMNS:
            codes = split_codes(row[col])
            if codes and col not in allowed:
                fail(i, iid, f"table {row['table_id']} has no dimension for the {col} filter")
            if len(codes) > 1 and col != "funksjon":
                fail(i, iid, f"only funksjon may list several codes, {col}={row[col]!r}")
            if len(set(codes)) != len(codes):
                fail(i, iid, f"{col} repeats a code: {row[col]!r}")
        for col in allowed:
            if not split_codes(row[col]):
                fail(i, iid, f"table {row['table_id']} needs a {col} filter")
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
            if not scale > 0:
                fail(i, iid, f"scale must be positive, got {row['scale']!r}")
        elif row["scale"]:
            fail(i, iid, "scale is only used by ratio rows")
        if len(split_codes(row["funksjon"])) == 1:
            key = (row["table_id"], row["contents_code"], *(row[c] for c in FILTER_COLUMNS))
            if key in cells:
                fail(i, iid, f"same cell as {cells[key]!r}")
            cells[key] = iid
    if len(ids) != len(set(ids)):
        raise CatalogueError(f"{source}: duplicate indicator ids")


@lru_cache(maxsize=4)
def _load_cached(path: str) -> pd.DataFrame:
    df = _read(Path(path))
    validate(df, source=path)
    df["scale"] = pd.to_numeric(df["scale"].replace("", None), errors="raise")
    df["verified"] = df["verified"] == "true"
    return df


def load_catalogue(path: Path | None = None) -> pd.DataFrame:
    """The validated catalogue (strings, ``scale`` as float or NaN, ``verified`` as bool)."""
    p = Path(path) if path else config.SEEDS_DIR / CATALOGUE_FILE
    return _load_cached(str(p.resolve())).copy()


def indicators(sector: str | None = None, path: Path | None = None) -> pd.DataFrame:
    """Catalogue rows, optionally of one sector."""
    df = load_catalogue(path)
    if sector is None:
        return df
    if sector not in SECTORS:
        raise CatalogueError(f"unknown sector {sector!r} (expected one of {SECTORS})")
    return df[df["sector"] == sector].reset_index(drop=True)


def _code_sort_key(code: str) -> tuple:
    # Numeric codes first in numeric order, then group codes (FGK7 before FGK13).
    digits = "".join(ch for ch in code if ch.isdigit())
    return (not code.isdigit(), code.rstrip("0123456789"), int(digits) if digits else 0, code)


def tables(path: Path | None = None) -> dict[str, TableSpec]:
    """The SSB-shaped tables the catalogue reads, with exactly the codes it uses, in SSB dimension order."""
    df = load_catalogue(path)
    out: dict[str, TableSpec] = {}
    for table_id, rows in df.groupby("table_id", sort=True):
        layout = TABLE_LAYOUTS[table_id]
        dims: list[tuple[str, list[str], list[str]]] = [(layout.region_dimension, [], [])]
        for col, dim_id in layout.filters:
            codes = sorted({c for v in rows[col] for c in split_codes(v)}, key=_code_sort_key)
            labels = [DIMENSION_LABELS.get(dim_id, {}).get(c, c) for c in codes]
            dims.append((dim_id, codes, labels))
        contents: list[tuple[str, str, str, int]] = []
        seen: set[str] = set()
        for r in rows.to_dict("records"):
            if r["contents_code"] in seen:
                continue
            seen.add(r["contents_code"])
            # Rows sharing a code differ only in filters (age group, function): label by the code's first row.
            label = (
                r["label_nb"] if rows["contents_code"].eq(r["contents_code"]).sum() == 1 else _shared_label(r)
            )
            contents.append((r["contents_code"], label, r["unit"], decimals_for(r["unit"])))
        dims.append(("ContentsCode", [c[0] for c in contents], [c[1] for c in contents]))
        dims.append(("Tid", [], []))
        out[table_id] = TableSpec(
            table_id=table_id,
            title_nb=layout.title_nb,
            dimensions=dims,
            contents=contents,
            region_dimension=layout.region_dimension,
            filter_dimensions=dict(layout.filters),
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
    """The dimension codes a catalogue row selects, keyed by SSB dimension id."""
    layout = TABLE_LAYOUTS[row["table_id"]]
    return {dim_id: split_codes(row[col]) for col, dim_id in layout.filters}
