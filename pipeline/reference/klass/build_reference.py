"""Derive the committed reference seeds (municipalities, KOSTRA groups, ASSS membership, aggregate regions).

The script is the reproducible record of how every fact in ``dbt_project/seeds/reference/*.csv`` was
obtained. Offline it reads the shared SSB snapshots (``--snapshots DIR``, default
``../shared/data/ssb-snapshots``); online (``--online``) it asks KLASS classification 131 for the code
lists and changes instead. ``--check`` compares the result with the committed files and exits non-zero on
any difference, so CI can prove the seeds are reproducible.

    python -m pipeline.reference.klass.build_reference            # rewrite the seeds from the snapshots
    python -m pipeline.reference.klass.build_reference --check    # verify the committed seeds
    python -m pipeline.reference.klass.build_reference --online   # derive from KLASS (needs internet)
    python -m pipeline.reference.klass.build_reference --check --klass-list 2025-01-01=codesAt-2025.json

Inputs of the offline build (all under ``--snapshots``):

- ``gardenberg__barnevernmonitor``: the KLASS-derived change tables 2013→2017, 2017→2018, 2018→2019,
  2019→2020 (codes, names, changes) and KLASS 131 code lists of January 2018, 2019 and 2020;
- ``lauriejh__regtools``: SSB's 2024 grouping of historical codes (the 2024 codes, the 2023→2024 changes,
  validity years in the labels, and the series each code is filed under);
- ``vegard1104__kommunebarometer``: a live KLASS answer ``codesAt?date=2026-01-01`` (358 codes, 9999
  included), read through the client's parser;
- ``NFG-J__is114-tema05`` (table 13502 labels: StatBank names, start years) and
  ``statisticsnorway__ssb-kostra`` (2015 population, pre-2020 KOSTRA groups).

Every recorded KLASS list (``RECORDED_KLASS_LISTS``, plus ``--klass-list DATE=FILE``) must list exactly the
codes the change tables give for its year, or the build stops; a list dated after LAST_YEAR must list
the LAST_YEAR codes. ``--check`` also holds the committed ``municipalities.csv`` against what the
recorded data states directly (``compare_with_recorded``): code lists per year, names, validity ends,
successors.

What recorded KLASS data cannot reproduce, and where the seed gets it instead:

- years without a recorded code list: 2015 and 2016 repeat the 2013 side of the 2013→2017 table (KLASS
  131 has no changes 2014-2016); 2021-2023 repeat the 2020 list (SSB's 2024 grouping labels them
  "(2020-2023)"); there is no 2025 list, only 2026-01-01, which shows the 2024 codes unchanged;
- ``name``: StatBank's spelling (table 13502 labels; SSB's 2024 grouping for codes new in 2024), not
  KLASS's. They differ by county qualifiers ("Våler (Østfold)" / "Våler"), order and spacing of parallel
  names, spelling, and Sami or Kven names one side adds ("Trondheim - Tråante" / "Trondheim";
  2026: "Oslo - Oslove" / "Oslo"). ``classify_name`` names each kind; nothing else may differ;
- ``valid_from_year`` before 2015: from labels (13502, SSB's 2024 grouping); the recorded KLASS answers
  carry no validFrom. Otherwise floored at 2015, and ``source`` says so;
- ``successor_code`` of a split code: KLASS lists every part; the seed picks the part keeping the name,
  else the largest by 2015 population (ssb-kostra rateData);
- ``municipality_id``: SSB's 2024 grouping and the successor chains, not a KLASS field;
- ``change_note`` and ``source``: written by this script from the above.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from pipeline.config import KLASS_ROOT, REPO_ROOT, SEEDS_DIR
from pipeline.files import readable_mode, replacing
from pipeline.reference.klass.client import (
    KOSTRA_GROUPS,
    KlassClient,
    KlassCode,
    KlassCorrespondence,
    KlassError,
    parse_codes,
    parse_correspondence,
)
from pipeline.reference.klass.client import MUNICIPALITIES as MUNICIPALITIES_CLASSIFICATION

FIRST_YEAR = 2015
LAST_YEAR = 2024

REFERENCE_DIR = SEEDS_DIR / "reference"
DEFAULT_SNAPSHOTS = REPO_ROOT.parent / "shared" / "data" / "ssb-snapshots"

MUNICIPALITY_COLUMNS = [
    "municipality_code",
    "name",
    "valid_from_year",
    "valid_to_year",
    "successor_code",
    "municipality_id",
    "change_note",
    "source",
]
ASSS_COLUMNS = ["municipality_id", "name", "year", "role", "source"]
KOSTRA_COLUMNS = ["municipality_code", "year_from", "year_to", "kostra_group", "grouping", "source"]
AGGREGATE_COLUMNS = ["region_code", "name", "kind", "source"]
GROUPING_COLUMNS = ["kostra_grouping", "klass_112_versions", "first_year", "last_year", "numbering", "source"]
SUCCESSOR_COLUMNS = [
    "region_code",
    "region_kind",
    "successor_code",
    "change_year",
    "change_kind",
    "share",
    "is_on_series_borders",
    "note",
    "source",
]

# Short source tags used in the `source` columns; _reference.yml spells them out.
SRC_GARDENBERG = "klass131-changes (gardenberg/barnevernmonitor)"
SRC_KLASS_ONLINE = "klass131 (data.ssb.no/api/klass)"
SRC_13502 = "ssb-13502 labels"
SRC_REGTOOLS = "ssb-grouping-2024 (lauriejh/regtools)"
SRC_12209 = "ssb-12209 labels (Alksalt/omsorgsradar, March 2026 response)"
SRC_COUNTY = "county = first two digits of the municipality code (KLASS 131 numbering)"
COUNTY_LABELS = "Alksalt__omsorgsradar/ssb_12209_g2_fixture.json"
SRC_FLOOR = f"valid_from_year floored at {FIRST_YEAR} (start not in sources)"

# Recorded KLASS 131 code lists, by the date they are valid on, relative to --snapshots. The gardenberg
# files are KLASS CSV exports (version ids 833, 1102, 1160: the versions from January 2018, 2019, 2020);
# the vegard1104 file is a live `codesAt?date=2026-01-01&language=nb` answer, byte for byte. --klass-list
# adds or replaces entries.
RECORDED_KLASS_LISTS = {
    dt.date(2018, 1, 1): "gardenberg__barnevernmonitor/derived_utf8_ssb_kommune_jan18_jan19_833.csv",
    dt.date(2019, 1, 1): "gardenberg__barnevernmonitor/derived_utf8_ssb_kommune_jan19_jan20_1102.csv",
    dt.date(2020, 1, 1): "gardenberg__barnevernmonitor/derived_utf8_ssb_kommune_jan20_1160.csv",
    dt.date(2026, 1, 1): "vegard1104__kommunebarometer/derived_klass_131_codesAt_2026-01-01.json",
}
UNKNOWN_MUNICIPALITY = "9999"  # "Uoppgitt": a KLASS 131 code, not a municipality

_VALIDITY_SUFFIX = re.compile(r"^(?P<name>.*?) \((?P<start>\d{4})?-(?P<end>\d{4})\)$")

# ASSS (KS' network of the largest municipalities), identified by their 2024 codes. Source: domain notes
# (docs in /work/shared/docs/domain-notes.md): the ten members throughout; Asker a common extra comparator
# until it and Lillestrøm joined in autumn 2022.
ASSS_FIRST_YEAR, ASSS_LAST_YEAR = 2015, 2026
ASSS_CORE = ["0301", "4601", "5001", "1103", "3201", "4204", "3301", "3107", "1108", "5501"]
ASSS_JOINED_2022 = {"3203": "comparator", "3205": None}  # role before 2022 (None = not in the network)
ASSS_SOURCE = "domain notes: ASSS (KS) members; Asker and Lillestrøm joined autumn 2022"

# The 2020 KOSTRA grouping (new numbering, 17 groups). Only the assignments stated in SSB's own text are
# recorded; the full list was not available offline.
KOSTRA_2020_SOURCE = "ssb.no/offentlig-sektor/kostra/.../kostra-gruppene (grouping per 2020)"
KOSTRA_2020_FACTS = [
    # code, year_from, year_to, group
    ("0301", 2020, None, "EKG13"),  # "13: Oslo kommune", the only member
    ("1507", 2020, 2023, "EKG11"),  # "Ålesund forblir i gruppe 11"
    ("1508", 2024, None, "EKG11"),
    ("1580", 2024, None, "EKG01"),  # "Haram kommune [er] plassert i KOSTRA-gruppe 1"
]
# The pre-2020 grouping in force for 2015: the "Ny.kostragruppe" column of SSB's ssb-kostra rateData
# (2015 figures). Its "Gammel" column matches the 2008 grouping (Kommunal Rapport's G-codes for 2008-2010),
# so "Ny" is the 2013 grouping, which SSB applied to KOSTRA data from 2013 until the 2018 grouping
# (2019 figures).
KOSTRA_PRE2020_LAST_YEAR = 2018
KOSTRA_PRE2020_SOURCE = (
    "ssb-kostra rateData Ny.kostragruppe (2015 figures; the 2013 grouping, used for data 2013-2018)"
)

# The KOSTRA groupings (KLASS classification 112) by data year. SSB reused the codes EKG01-EKG17 with new
# meanings from 2020 (EKG13: large municipalities up to 2019, Oslo alone from 2020), so a group is
# (grouping, code), and no group series compares across 2019/2020. Versions: 423 (2004-2019) and 1288
# (2019) use the old numbering, 1450 is the 2020 grouping (janbrus/pxwebapi-skills
# references/klass-vardok.md); SSB's note on table 12134: "Det er brudd i tidsserien for KOSTRA-gruppene
# mellom 2019 og 2020".
KOSTRA_GROUPINGS_SOURCE = (
    "KLASS 112 versions (janbrus/pxwebapi-skills references/klass-vardok.md); SSB table 12134 note: "
    "brudd i tidsserien for KOSTRA-gruppene mellom 2019 og 2020"
)
KOSTRA_GROUPINGS = [
    # grouping, KLASS 112 versions, first data year, last data year, numbering
    ("pre-2020", "423; 1288", FIRST_YEAR, 2019, "EKG01-EKG16 (old meanings)"),
    ("2020", "1450", 2020, None, "EKG01-EKG17 (new meanings; EKG13 = Oslo)"),
]

AGGREGATE_SOURCE = "ssb table 12367 labels (EAK, EAKUO, EKG16, EKG17); KOSTRA groups 1-17 named alike"


class ReferenceBuildError(RuntimeError):
    """The sources disagree with each other or miss a fact the seeds need."""


@dataclass
class CodeHistory:
    """Everything the derivation needs, whichever way it was obtained."""

    codes_by_year: dict[int, dict[str, str]]  # year -> code -> name (the name valid that year)
    changes: list[tuple[int, str, str]]  # (first year of the new code, old code, new code)
    preferred_names: dict[str, str] = field(default_factory=dict)  # SSB's statbank names
    start_years: dict[str, int] = field(default_factory=dict)  # known start years (< FIRST_YEAR too)
    population: dict[str, float] = field(default_factory=dict)  # 2015 population by 2015 code
    code_sources: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    kostra_pre2020: dict[str, int] = field(default_factory=dict)  # 2015 code -> group number
    harmonised: dict[str, str] = field(default_factory=dict)  # code -> 2024 code, SSB's 2024 grouping
    # What the recorded sources say directly, kept so the seed can be compared with them
    # (compare_with_recorded). Empty when the history comes from the live service.
    klass_lists: dict[dt.date, dict[str, KlassCode]] = field(default_factory=dict)  # recorded codesAt
    table_names: dict[int, dict[str, str]] = field(default_factory=dict)  # change-table list year -> names
    table_steps: list[tuple[int, int, dict[str, set[str]]]] = field(default_factory=list)  # old -> new codes
    regtools_validity: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)  # label years
    # Codes SSB's 2024 grouping files under "K.Rest Delte kommuner og uoppgitt": the parts of a split and
    # the municipalities that received them, which SSB does not harmonise onto any 2024 code.
    ssb_split_codes: set[str] = field(default_factory=set)
    county_names: dict[str, str] = field(default_factory=dict)  # EKAnn -> name (table 12209 labels)


# --------------------------------------------------------------------------- offline sources


def _read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    if not path.is_file():
        raise ReferenceBuildError(f"source file missing: {path}")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def _split_label(label: str) -> tuple[str, int | None, int | None]:
    """'Bærum (-2019)' -> ('Bærum', None, 2019); 'Våler (Viken)' -> ('Våler (Viken)', None, None)."""
    m = _VALIDITY_SUFFIX.match(label.strip())
    if not m:
        return label.strip(), None, None
    start = int(m["start"]) if m["start"] else None
    return m["name"], start, int(m["end"])


def read_klass_list(path: Path) -> dict[str, KlassCode]:
    """A recorded KLASS code list: a ``codesAt``/``codes`` JSON body, or KLASS's ``;``-separated CSV export.

    Both go through the client's own parser, so a recorded answer is read exactly as a live one.
    """
    if not path.is_file():
        raise ReferenceBuildError(f"recorded KLASS list missing: {path}")
    try:
        if path.suffix == ".json":
            codes = parse_codes(orjson.loads(path.read_bytes()), path.name)
        else:
            codes = parse_codes({"codes": _read_csv(path, delimiter=";")}, path.name)
    except (KlassError, orjson.JSONDecodeError) as exc:
        raise ReferenceBuildError(f"{path}: not a KLASS code list: {exc}") from exc
    listed = {c.code: c for c in codes}
    if len(listed) != len(codes):
        raise ReferenceBuildError(f"{path}: a code is listed twice")
    return listed


def load_snapshots(snapshots: Path, klass_lists: dict[dt.date, Path] | None = None) -> CodeHistory:
    """Collect code lists per year and the changes between them from the shared SSB snapshots.

    ``klass_lists`` (date -> file) adds recorded KLASS code lists to ``RECORDED_KLASS_LISTS`` or replaces
    them; every recorded list must name exactly the codes the change tables give for its year (a list
    dated after LAST_YEAR: the LAST_YEAR codes, i.e. nothing changed since).
    """
    garden = snapshots / "gardenberg__barnevernmonitor"
    steps = [(2013, 2017), (2017, 2018), (2018, 2019), (2019, 2020)]
    codes_by_year: dict[int, dict[str, str]] = {}
    changes: list[tuple[int, str, str]] = []
    hist = CodeHistory(codes_by_year=codes_by_year, changes=changes)
    for old_y, new_y in steps:
        path = garden / f"derived_utf8_fra_{old_y}kommuner_til_{new_y}kommuner.csv"
        # 9999 "Uoppgitt" (unknown municipality) is a KLASS code but not a municipality.
        rows = [
            r for r in _read_csv(path, delimiter=";") if r[f"kommunenummer_{old_y}"] != UNKNOWN_MUNICIPALITY
        ]
        old_codes = {r[f"kommunenummer_{old_y}"]: r[f"kommunenavn_{old_y}"] for r in rows}
        new_codes = {r[f"kommunenummer_{new_y}"]: r[f"kommunenavn_{new_y}"] for r in rows}
        hist.table_names.setdefault(old_y, dict(old_codes))
        hist.table_names[new_y] = dict(new_codes)
        targets: dict[str, set[str]] = defaultdict(set)
        for r in rows:
            targets[r[f"kommunenummer_{old_y}"]].add(r[f"kommunenummer_{new_y}"])
        hist.table_steps.append((old_y, new_y, dict(targets)))
        # The 2013 list stands for 2015 and 2016: KLASS 131 has no changes between 2014 and 2016.
        first = FIRST_YEAR if old_y == 2013 else old_y
        for y in range(first, new_y):
            codes_by_year[y] = dict(old_codes)
        codes_by_year[new_y] = dict(new_codes)
        for r in rows:
            old, new = r[f"kommunenummer_{old_y}"], r[f"kommunenummer_{new_y}"]
            if old != new:
                changes.append((new_y, old, new))
        for code in old_codes.keys() | new_codes.keys():
            hist.code_sources[code].add(SRC_GARDENBERG)
    for y in range(2021, LAST_YEAR):
        codes_by_year[y] = dict(codes_by_year[2020])

    lists = {d: snapshots / f for d, f in RECORDED_KLASS_LISTS.items()}
    lists.update(klass_lists or {})
    for date, path in sorted(lists.items()):
        hist.klass_lists[date] = read_klass_list(path)

    _add_2024(hist, snapshots / "lauriejh__regtools" / "derived_kommuner-1994-2024.csv")

    # The recorded KLASS code lists must agree with the change tables (and with the 2024 grouping).
    for date, listed in sorted(hist.klass_lists.items()):
        year = min(date.year, LAST_YEAR)
        if year not in codes_by_year:
            raise ReferenceBuildError(f"recorded KLASS list of {date} is before {FIRST_YEAR}")
        got = set(listed) - {UNKNOWN_MUNICIPALITY}
        if got != set(codes_by_year[year]):
            diff = sorted(got ^ set(codes_by_year[year]))
            raise ReferenceBuildError(
                f"{lists[date].name}: KLASS list of {date} differs from the {year} codes of the change "
                f"tables and SSB's {LAST_YEAR} grouping: {diff}"
            )

    labels = _read_csv(snapshots / "NFG-J__is114-tema05" / "derived_13502_KOSandel120000_long.csv")
    for r in labels:
        code = r["region_code"]
        label = r["region_name"] + (f" ({r['region_validity_label']})" if r["region_validity_label"] else "")
        name, start, _end = _split_label(label)
        hist.preferred_names[code] = name
        hist.code_sources[code].add(SRC_13502)
        if start is not None:
            hist.start_years.setdefault(code, start)

    rate = _read_csv(snapshots / "statisticsnorway__ssb-kostra" / "derived_rateData_data.csv")
    for r in rate:
        first_col = next(iter(r.values()))
        code = first_col[:4]
        if code not in codes_by_year[FIRST_YEAR]:
            continue  # Longyearbyen (2111) is not a municipality in KLASS 131
        hist.population[code] = float(r["Folkemengde.i.alt"])
        hist.kostra_pre2020[code] = int(r["Ny.kostragruppe"])

    # County names and codes: the region labels of a real table 12209 response (March 2026), which lists
    # every county code 2015-2026 with its validity ("Viken (2020-2023)").
    doc = orjson.loads((snapshots / COUNTY_LABELS).read_bytes())
    for code, label in doc["dimension"]["KOKkommuneregion0000"]["category"]["label"].items():
        if re.fullmatch(r"EKA\d{2}", code):
            hist.county_names[code] = _split_label(label)[0]
    return hist


def _add_2024(hist: CodeHistory, path: Path) -> None:
    """Add the 2024 codes and the 2023→2024 changes from SSB's 2024 grouping of historical codes."""
    all_rows = _read_csv(path)
    for r in all_rows:
        if r["GRUPPEKODE"] != "K.Rest" or r["KODE"] == "9999":
            continue
        # "Delte kommuner": codes of split municipalities, kept out of the harmonised groups. Their labels
        # still carry validity (Snillfjord 1613 "(1924-2017)", Ballangen 1854 "(1925-2019)").
        _name, start, end = _split_label(r["TEKST"])
        hist.code_sources[r["KODE"]].add(SRC_REGTOOLS)
        hist.regtools_validity[r["KODE"]] = (start, end)
        hist.ssb_split_codes.add(r["KODE"])
        if start is not None:
            hist.start_years.setdefault(r["KODE"], start)
    rows = [r for r in all_rows if re.fullmatch(r"K\.\d{4}", r["GRUPPEKODE"])]
    codes_2023 = hist.codes_by_year[2023]
    current: dict[str, str] = {}
    members: dict[str, list[tuple[str, int | None, int | None]]] = defaultdict(list)
    for r in rows:
        group, code = r["GRUPPEKODE"][2:], r["KODE"]
        name, start, end = _split_label(r["TEKST"])
        hist.code_sources[code].add(SRC_REGTOOLS)
        hist.harmonised[code] = group
        hist.regtools_validity[code] = (start, end)
        if end is None:
            current[code] = name
            if code != group:
                raise ReferenceBuildError(f"{path.name}: current code {code} filed under group {group}")
        else:
            members[group].append((code, start, end))
            if start is not None:
                hist.start_years.setdefault(code, start)
            if code in codes_2023 and end != 2023:
                raise ReferenceBuildError(f"{path.name}: {code} valid in 2023 but labelled as ending {end}")
    hist.codes_by_year[LAST_YEAR] = current
    hist.preferred_names.update({c: n for c, n in current.items() if c not in hist.preferred_names})

    successors_2020 = defaultdict(set)
    for year, old, new in hist.changes:
        if year == 2020:
            successors_2020[old].add(new)
    for group in sorted(current):
        ended_2023 = [c for c, _s, e in members[group] if e == 2023]
        for code in ended_2023:
            hist.changes.append((LAST_YEAR, code, group))
        if ended_2023 or group in codes_2023:
            continue
        # A new 2024 code with no 2020-2023 predecessor was split off: find the 2020 code that absorbed
        # its pre-2020 territory (Haram 1534 → Ålesund 1507 in 2020 → Haram 1580 in 2024).
        parents = set()
        for code, _s, _end in members[group]:
            chain = {code}
            while chain and not chain & set(codes_2023):
                chain = set().union(*(successors_2020.get(c, set()) for c in chain))
            parents |= chain & set(codes_2023)
        if not parents:
            raise ReferenceBuildError(f"{path.name}: cannot tell where 2024 code {group} came from")
        for parent in sorted(parents):
            hist.changes.append((LAST_YEAR, parent, group))


# --------------------------------------------------------------------------- comparison with the records

# How a seed name (SSB StatBank's spelling) may differ from the name KLASS lists for the same code and year
# and still name the same municipality. Anything else is a difference.
NAME_EXACT = "exact"
NAME_QUALIFIER = "county qualifier"  # StatBank: "Våler (Østfold)"; KLASS 2018: "Våler"
NAME_ORDER = "order or spacing"  # "Hamarøy - Hábmer" / "Hábmer - Hamarøy"; "Deatnu-Tana" / "Deatnu - Tana"
NAME_SPELLING = "spelling"  # diacritics ("Evenássi"/"Evenášši"), or a letter lost in a Latin-1 export ("?")
NAME_PARALLEL = "parallel name on one side"  # "Trondheim" / "Trondheim - Tråante"; SSB adds Sami names

_QUALIFIER = re.compile(r" \([^()]+\)$")


def _fold(part: str) -> str:
    decomposed = unicodedata.normalize("NFKD", part.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _parts(name: str) -> list[str]:
    return [p for p in re.split(r"\s*-\s*", name.strip()) if p]


def _same_part(a: str, b: str) -> bool:
    """Equal after folding case and diacritics; '?' (a character lost in a Latin-1 export) matches any."""
    a, b = _fold(a), _fold(b)
    return any(re.fullmatch(re.escape(x).replace(r"\?", "."), y) for x, y in ((a, b), (b, a)))


def classify_name(seed: str, klass: str) -> str | None:
    """Which of the NAME_* kinds relates a seed name to a KLASS name; None if they name different things."""
    if seed == klass:
        return NAME_EXACT
    if _QUALIFIER.sub("", seed) == _QUALIFIER.sub("", klass):
        return NAME_QUALIFIER
    ps, pk = _parts(_QUALIFIER.sub("", seed)), _parts(_QUALIFIER.sub("", klass))
    if sorted(ps) == sorted(pk):
        return NAME_ORDER

    def covered(xs: list[str], ys: list[str]) -> bool:
        return all(any(_same_part(x, y) for y in ys) for x in xs)

    if covered(ps, pk) and covered(pk, ps):
        return NAME_SPELLING
    if covered(ps, pk) or covered(pk, ps):
        return NAME_PARALLEL
    return None


@dataclass
class RecordedComparison:
    """The committed seed held against what the recorded sources state directly (not the derivation)."""

    # seed year -> the recorded code lists that name the codes valid that year
    coverage: dict[int, list[str]] = field(default_factory=dict)
    # seed years FIRST_YEAR..LAST_YEAR no recorded list covers, with what the seed relies on instead
    not_covered: dict[int, str] = field(default_factory=dict)
    # (year, code, seed name, recorded name, NAME_* kind) for every checked name that is not exact
    name_variants: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    names_checked: int = 0
    codes_checked: int = 0  # (code, year) pairs checked for validity
    successors_checked: int = 0
    differences: list[str] = field(default_factory=list)  # empty when the seed agrees

    def report(self) -> str:
        lines = [
            f"checked {self.codes_checked} code-years, {self.names_checked} names, "
            f"{self.successors_checked} successors against the recorded KLASS/SSB data",
            "covered: " + "; ".join(f"{y}: {', '.join(src)}" for y, src in sorted(self.coverage.items())),
            "not covered: " + "; ".join(f"{y}: {why}" for y, why in sorted(self.not_covered.items())),
        ]
        kinds: dict[str, int] = defaultdict(int)
        for *_rest, kind in self.name_variants:
            kinds[kind] += 1
        lines.append("name variants: " + ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items())))
        lines += [f"DIFFERS: {d}" for d in self.differences]
        return "\n".join(lines)


def compare_with_recorded(rows: list[dict[str, str]], hist: CodeHistory) -> RecordedComparison:
    """Hold municipality rows (the committed seed, or a fresh build) against the recorded sources.

    Per recorded code list (KLASS 2018, 2019, 2020 and 2026-01-01; the KLASS-derived change tables' 2013
    and 2017 sides; the 2024 codes of SSB's grouping): the codes the rows make valid that year are exactly
    the listed ones, and each row's name is the listed name up to the NAME_* variants. Per change table
    (2013→2017 … 2019→2020) and the 2024 grouping: every code that ended has valid_to_year = the year
    before and a successor among the codes it went to (the only one, where there is one). The validity
    years in the 2024 grouping's labels ("Bærum (2020-2023)") must match valid_from/valid_to.
    """
    out = RecordedComparison()
    by_code = {r["municipality_code"]: r for r in rows}

    def valid(code: str, year: int) -> bool:
        r = by_code[code]
        return int(r["valid_from_year"]) <= year and (
            r["valid_to_year"] == "" or int(r["valid_to_year"]) >= year
        )

    # name lists per year: (source, year the list is for, seed year it is compared with, code -> name)
    lists: list[tuple[str, int, int, dict[str, str]]] = []
    for date, listed in sorted(hist.klass_lists.items()):
        names = {c: k.name for c, k in listed.items() if c != UNKNOWN_MUNICIPALITY}
        lists.append((f"KLASS 131 codesAt {date}", date.year, min(date.year, LAST_YEAR), names))
    for year, names in sorted(hist.table_names.items()):
        # The 2013 side stands for 2015 (no KLASS changes 2014-2016) and is compared with it.
        lists.append((f"KLASS change table ({year} side)", year, max(year, FIRST_YEAR), names))
    if LAST_YEAR in hist.codes_by_year and hist.harmonised:
        current = dict(hist.codes_by_year[LAST_YEAR])
        lists.append((f"SSB {LAST_YEAR} grouping (current codes)", LAST_YEAR, LAST_YEAR, current))

    for source, year, seed_year, names in lists:
        if year <= LAST_YEAR:
            out.coverage.setdefault(year, []).append(source)
        else:
            out.coverage.setdefault(year, []).append(f"{source} (rows open after {LAST_YEAR})")
        expected = set(names)
        if year > LAST_YEAR:
            got = {c for c, r in by_code.items() if r["valid_to_year"] == ""}
        else:
            got = {c for c in by_code if valid(c, seed_year)}
        for code in sorted(expected - got):
            out.differences.append(
                f"{source}: {code} {names[code]} is listed, not valid in {seed_year} in the seed"
            )
        for code in sorted(got - expected):
            out.differences.append(
                f"{source}: {code} {by_code[code]['name']} valid in {seed_year} but not listed"
            )
        out.codes_checked += len(expected | got)
        if year < FIRST_YEAR:
            continue  # the 2013 names are compared via the rows valid in 2015
        for code in sorted(expected & got):
            seed_name = by_code[code]["name"]
            kind = classify_name(seed_name, names[code])
            out.names_checked += 1
            if kind is None:
                out.differences.append(f"{source}: {code} is {names[code]!r}, the seed says {seed_name!r}")
            elif kind != NAME_EXACT:
                out.name_variants.append((year, code, seed_name, names[code], kind))

    steps = [(o, n, t) for o, n, t in hist.table_steps]
    if hist.harmonised:
        # 2023 → 2024 from SSB's grouping: each code labelled as ending in 2023 goes to its group's code.
        targets: dict[str, set[str]] = defaultdict(set)
        for code, (_start, end) in hist.regtools_validity.items():
            if end == LAST_YEAR - 1 and code in hist.harmonised:
                targets[code].add(hist.harmonised[code])
        steps.append((LAST_YEAR - 1, LAST_YEAR, dict(targets)))
    for old_y, new_y, targets in steps:
        for old, new in sorted(targets.items()):
            if old == UNKNOWN_MUNICIPALITY or new == {old}:
                continue
            r = by_code.get(old)
            out.successors_checked += 1
            where = f"change {old_y}→{new_y}: {old} → {', '.join(sorted(new))}"
            if r is None:
                out.differences.append(f"{where}: {old} is not in the seed")
                continue
            if r["valid_to_year"] != str(new_y - 1):
                out.differences.append(f"{where}: the seed ends {old} in {r['valid_to_year'] or 'never'}")
            if r["successor_code"] not in new:
                out.differences.append(f"{where}: the seed's successor is {r['successor_code'] or 'none'}")

    for code, (start, end) in sorted(hist.regtools_validity.items()):
        r = by_code.get(code)
        if r is None:
            if end is None or end >= FIRST_YEAR:
                out.differences.append(
                    f"SSB {LAST_YEAR} grouping: {code} (valid to {end}) is not in the seed"
                )
            continue
        seed_end = int(r["valid_to_year"]) if r["valid_to_year"] else None
        if seed_end != end:
            out.differences.append(f"SSB {LAST_YEAR} grouping: {code} ends {end}, the seed says {seed_end}")
        if start is not None and int(r["valid_from_year"]) != start:
            out.differences.append(
                f"SSB {LAST_YEAR} grouping: {code} begins {start}, the seed says {r['valid_from_year']}"
            )

    last_listed = max(out.coverage, default=LAST_YEAR)
    for year in range(FIRST_YEAR, max(LAST_YEAR, last_listed) + 1):
        if year in out.coverage:
            continue
        before = max((y for y in out.coverage if y < year), default=None)
        after = min((y for y in out.coverage if y > year), default=None)
        if year > LAST_YEAR:
            out.not_covered[year] = (
                f"after the seed's last year {LAST_YEAR}; no recorded list, the {after} list shows the "
                f"{LAST_YEAR} codes unchanged"
            )
        else:
            out.not_covered[year] = (
                f"no recorded code list; the seed repeats the {before} list and dates the changes "
                f"between the {before} and {after} lists {after}"
            )
    return out


def diff_rows(built: list[dict[str, str]], committed: list[dict[str, str]], key: str) -> list[str]:
    """Row-by-row differences between two versions of one seed table, keyed by ``key``."""
    a = {r[key]: r for r in built}
    b = {r[key]: r for r in committed}
    out = [f"{k}: only in the build" for k in sorted(a.keys() - b.keys())]
    out += [f"{k}: only in the committed seed" for k in sorted(b.keys() - a.keys())]
    for k in sorted(a.keys() & b.keys()):
        for col in a[k].keys() | b[k].keys():
            if a[k].get(col) != b[k].get(col):
                out.append(f"{k}.{col}: build {a[k].get(col)!r}, seed {b[k].get(col)!r}")
    return out


# --------------------------------------------------------------------------- online source


def load_klass(client=None) -> CodeHistory:
    """Collect the same facts from KLASS 131: codes valid on 1 January of each year, and the changes."""
    from pipeline.reference.klass.client import KlassClient

    client = client or KlassClient()
    codes_by_year: dict[int, dict[str, str]] = {}
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        codes = client.codes_at(f"{year}-01-01")
        codes_by_year[year] = {c.code: c.name for c in codes if c.code != "9999"}
    hist = CodeHistory(codes_by_year=codes_by_year, changes=[])
    for codes in codes_by_year.values():
        for code in codes:
            hist.code_sources[code].add(SRC_KLASS_ONLINE)
    for ch in client.changes(f"{FIRST_YEAR}-01-01", f"{LAST_YEAR}-01-02"):
        year = ch.change_occurred.year
        if ch.old_code == ch.new_code or not (FIRST_YEAR < year <= LAST_YEAR):
            continue
        if ch.old_code in codes_by_year[year - 1] and ch.new_code in codes_by_year[year]:
            hist.changes.append((year, ch.old_code, ch.new_code))
    return hist


# --------------------------------------------------------------------------- derivation


def _years_valid(hist: CodeHistory) -> dict[str, list[int]]:
    years: dict[str, list[int]] = defaultdict(list)
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        if year not in hist.codes_by_year:
            raise ReferenceBuildError(f"no code list for {year}")
        for code in hist.codes_by_year[year]:
            years[code].append(year)
    for code, ys in years.items():
        if ys != list(range(ys[0], ys[-1] + 1)):
            raise ReferenceBuildError(f"code {code} is valid in non-consecutive years {ys}")
    return years


def _population_of(code: str, hist: CodeHistory, preds: dict[str, set[str]], seen=frozenset()) -> float:
    """2015 population behind a code: its own, or the sum over its predecessors."""
    if code in hist.population:
        return hist.population[code]
    return sum(_population_of(p, hist, preds, seen | {code}) for p in preds.get(code, ()) if p not in seen)


def derive_municipalities(hist: CodeHistory) -> list[dict[str, str]]:
    """One row per code valid in any year FIRST_YEAR..LAST_YEAR, in the seed's column order."""
    years = _years_valid(hist)
    succ: dict[str, set[str]] = defaultdict(set)
    preds: dict[str, set[str]] = defaultdict(set)
    for year, old, new in hist.changes:
        if old not in years or new not in years:
            raise ReferenceBuildError(
                f"change {old}→{new} ({year}) names a code outside {FIRST_YEAR}-{LAST_YEAR}"
            )
        if years[old][-1] != year - 1 and old != new:
            # a code that continues (Stavanger 1103 absorbing Finnøy) never appears as `old`
            raise ReferenceBuildError(
                f"change {old}→{new} in {year}, but {old} is valid until {years[old][-1]}"
            )
        succ[old].add(new)
        preds[new].add(old)

    for code, ys in years.items():
        if ys[-1] < LAST_YEAR and not succ[code]:
            raise ReferenceBuildError(f"code {code} ends in {ys[-1]} without a successor")

    def largest(code: str, targets: set[str]) -> str:
        """The successor of a split code: the part keeping its name, else the largest of the others."""
        own_name = hist.codes_by_year[years[code][-1]][code]
        same_name = [t for t in sorted(targets) if hist.codes_by_year[years[t][0]][t] == own_name]
        if len(same_name) == 1:
            return same_name[0]

        def size(t: str) -> float:
            others = preds[t] - {code}
            if hist.population:
                return sum(_population_of(p, hist, preds) for p in others)
            return len(others)  # without population figures, the number of merged codes stands in

        return max(sorted(targets), key=size)

    successor: dict[str, str] = {}
    for code, targets in succ.items():
        successor[code] = next(iter(targets)) if len(targets) == 1 else largest(code, targets)

    def chain_end(code: str) -> tuple[str, list[str]]:
        seen = [code]
        while seen[-1] in successor:
            seen.append(successor[seen[-1]])
            if seen[-1] in seen[:-1]:
                raise ReferenceBuildError(f"successor cycle: {seen}")
        if years[seen[-1]][-1] != LAST_YEAR:
            raise ReferenceBuildError(f"successor chain {seen} ends before {LAST_YEAR}")
        return seen[-1], seen

    def reaches(code: str, target: str) -> bool:
        return code == target or any(reaches(t, target) for t in succ.get(code, ()))

    def municipality_id(code: str) -> tuple[str, str | None]:
        """The 2024 code of the series, and a note when SSB's 2024 grouping overrides the chain."""
        end, chain = chain_end(code)
        ssb = hist.harmonised.get(code)
        if ssb is None or ssb == end:
            return end, None
        # SSB files a code under another part of a later split (Haram 1534 → 1507 → Haram 1580 in 2024).
        for split in chain:
            if len(succ.get(split, ())) > 1 and any(reaches(t, ssb) for t in succ[split]):
                return ssb, f"serie {ssb} etter SSBs gruppering for {LAST_YEAR} ({split} ble delt)"
        raise ReferenceBuildError(f"{code}: successors lead to {end}, SSB's {LAST_YEAR} grouping says {ssb}")

    def name_of(code: str) -> str:
        if code in hist.preferred_names:
            return hist.preferred_names[code]
        return hist.codes_by_year[years[code][-1]][code]

    rows = []
    for code in sorted(years, key=lambda c: (years[c][0], c)):
        ys = years[code]
        notes = []
        start, end = ys[0], ys[-1]
        for year in sorted({y for y, _o, n in hist.changes if n == code}):
            before = sorted(o for y, o, n in hist.changes if n == code and y == year)
            if year != start:
                notes.append(f"fra {year}: {', '.join(before)} innlemmet")
            elif len(before) > 1:
                notes.append(f"fra {year}: sammenslåing av {', '.join(before)}")
            elif len(succ[before[0]]) > 1:
                notes.append(f"fra {year}: del av {before[0]}, som ble delt")
            else:
                notes.append(f"fra {year}: nytt nummer for {before[0]}")
        if end < LAST_YEAR:
            targets = sorted(succ[code])
            if len(targets) > 1:
                notes.append(
                    f"fra {end + 1}: delt mellom {', '.join(targets)}; største etterfølger {successor[code]}"
                )
            elif years[targets[0]][0] <= end:
                notes.append(f"fra {end + 1}: innlemmet i {targets[0]}")
            elif sum(1 for y, _o, n in hist.changes if n == targets[0] and y == end + 1) > 1:
                notes.append(f"fra {end + 1}: slått sammen til {targets[0]}")
            else:
                notes.append(f"fra {end + 1}: nytt nummer {targets[0]}")

        mid, mid_note = municipality_id(code)
        if mid_note:
            notes.append(mid_note)
        known_start = hist.start_years.get(code)
        sources = sorted(hist.code_sources.get(code, ()))
        if start == FIRST_YEAR:
            if known_start is not None and known_start < FIRST_YEAR:
                start = known_start
            else:
                sources.append(SRC_FLOOR)
        elif known_start is not None and known_start != start:
            raise ReferenceBuildError(
                f"{code}: SSB labels say it began {known_start}, the code lists say {start}"
            )
        rows.append(
            {
                "municipality_code": code,
                "name": name_of(code),
                "valid_from_year": str(start),
                "valid_to_year": "" if end == LAST_YEAR else str(end),
                "successor_code": successor.get(code, ""),
                "municipality_id": mid,
                "change_note": "; ".join(notes),
                "source": "; ".join(sources),
            }
        )
    return rows


def derive_kostra_groups(hist: CodeHistory, municipalities: list[dict[str, str]]) -> list[dict[str, str]]:
    valid_to = {r["municipality_code"]: r["valid_to_year"] for r in municipalities}
    rows = []
    for code in sorted(hist.kostra_pre2020):
        end = min(KOSTRA_PRE2020_LAST_YEAR, int(valid_to[code] or LAST_YEAR))
        rows.append(
            {
                "municipality_code": code,
                "year_from": str(FIRST_YEAR),
                "year_to": str(end),
                "kostra_group": f"EKG{hist.kostra_pre2020[code]:02d}",
                "grouping": "pre-2020",
                "source": KOSTRA_PRE2020_SOURCE,
            }
        )
    for code, y0, y1, group in KOSTRA_2020_FACTS:
        if code not in valid_to:
            raise ReferenceBuildError(f"KOSTRA 2020 fact names unknown code {code}")
        rows.append(
            {
                "municipality_code": code,
                "year_from": str(y0),
                "year_to": "" if y1 is None else str(y1),
                "kostra_group": group,
                "grouping": "2020",
                "source": KOSTRA_2020_SOURCE,
            }
        )
    return rows


def _successor_sets(hist: CodeHistory) -> dict[str, set[str]]:
    succ: dict[str, set[str]] = defaultdict(set)
    for _year, old, new in hist.changes:
        if old != new:
            succ[old].add(new)
    return succ


def derive_successors(hist: CodeHistory, municipalities: list[dict[str, str]]) -> list[dict[str, str]]:
    """Every successor of every municipality and county code that ended (or gave up territory) 2015-2024.

    One row per (code, successor). ``share`` is the part of the code's territory the successor took over,
    where the sources state it: 1 for a renumbering or a whole merger; empty for a split (KLASS lists the
    parts, no source gives their sizes). ``is_on_series_borders`` says whether the code's values describe
    the territory of the harmonised series (municipalities.municipality_id) it is filed under: false for a
    code that was split, and for every code SSB's 2024 grouping leaves out as "Delte kommuner" (the
    municipalities that received parts of a split: Narvik 1805 and Ballangen 1854 before Tysfjord's part
    joined them in 2020). Counties follow their municipalities: a county's successors are the counties of
    its municipalities' successors.
    """
    succ = _successor_sets(hist)
    year_of = {(old, new): year for year, old, new in hist.changes}
    mid = {r["municipality_code"]: r["municipality_id"] for r in municipalities}
    rows = []
    for code in sorted(succ):
        targets = sorted(succ[code])
        split = len(targets) > 1
        on_borders = not split and code not in hist.ssb_split_codes
        for target in targets:
            if split:
                kind, share = "split", ""
                note = f"delt mellom {', '.join(targets)}; andelene står ikke i kildene"
            else:
                kind, share, note = "whole", "1", ""
            if not on_borders and not split:
                note = f"SSBs gruppering for {LAST_YEAR} holder {code} utenfor serien {mid[code]} (delte kommuner)"
            rows.append(
                {
                    "region_code": code,
                    "region_kind": "municipality",
                    "successor_code": target,
                    "change_year": str(year_of[(code, target)]),
                    "change_kind": kind,
                    "share": share,
                    "is_on_series_borders": "true" if on_borders else "false",
                    "note": note,
                    "source": SRC_GARDENBERG if year_of[(code, target)] < LAST_YEAR else SRC_REGTOOLS,
                }
            )
    rows += _county_successors(hist)
    return rows


def _county_successors(hist: CodeHistory) -> list[dict[str, str]]:
    """County changes from the municipality changes: EKA + the first two digits of each code."""
    years = _years_valid(hist)

    def county(code: str) -> str:
        return f"EKA{code[:2]}"

    county_years: dict[str, set[int]] = defaultdict(set)
    for code, ys in years.items():
        county_years[county(code)].update(ys)
    pairs: dict[tuple[str, str], int] = {}
    for year, old, new in hist.changes:
        if county(old) != county(new):
            pairs.setdefault((county(old), county(new)), year)
    rows = []
    by_county: dict[str, list[str]] = defaultdict(list)
    for old, new in sorted(pairs):
        by_county[old].append(new)
    for old, targets in sorted(by_county.items()):
        for code in [old, *targets]:
            if code not in hist.county_names:
                raise ReferenceBuildError(f"county {code} is not among table 12209's region labels")
        for new in targets:
            year = pairs[(old, new)]
            continues = year in county_years[old]
            whole = not continues and len(targets) == 1
            kind = "part_transferred" if continues else ("whole" if whole else "split")
            rows.append(
                {
                    "region_code": old,
                    "region_kind": "county",
                    "successor_code": new,
                    "change_year": str(year),
                    "change_kind": kind,
                    "share": "1" if whole else "",
                    "is_on_series_borders": "true" if whole else "false",
                    "note": (
                        f"{hist.county_names[old]} → {hist.county_names[new]}"
                        + ("" if whole else "; andelene står ikke i kildene")
                    ),
                    "source": f"{SRC_COUNTY}; {SRC_12209}",
                }
            )
    return rows


def derive_asss(municipalities: list[dict[str, str]]) -> list[dict[str, str]]:
    names = {r["municipality_code"]: r["name"] for r in municipalities}
    rows = []
    for year in range(ASSS_FIRST_YEAR, ASSS_LAST_YEAR + 1):
        roles = {code: "member" for code in ASSS_CORE}
        for code, before in ASSS_JOINED_2022.items():
            role = "member" if year >= 2022 else before
            if role:
                roles[code] = role
        for code in sorted(roles):
            if code not in names:
                raise ReferenceBuildError(f"ASSS code {code} is not in municipalities")
            rows.append(
                {
                    "municipality_id": code,
                    "name": names[code],
                    "year": str(year),
                    "role": roles[code],
                    "source": ASSS_SOURCE,
                }
            )
    return rows


KOSTRA_MEMBERSHIP_SOURCE = "klass112→131 correspondsAt {date} ({file})"


def grouping_of_year(year: int) -> str:
    for grouping, _versions, first, last, _numbering in KOSTRA_GROUPINGS:
        if first <= year <= (last if last is not None else 9999):
            return grouping
    raise ReferenceBuildError(f"no KOSTRA grouping covers data year {year}")


def _group_code(code: str, where: str) -> str:
    """KLASS 112 codes as SSB's aggregate regions name them: '13', '013' or 'EKG13' → 'EKG13'."""
    m = re.fullmatch(r"(?:EKG)?0*(\d{1,2})", code.strip().upper())
    if not m or not 1 <= int(m[1]) <= 17:
        raise ReferenceBuildError(f"{where}: {code!r} is not a KOSTRA group code (1-17)")
    return f"EKG{int(m[1]):02d}"


def read_kostra_membership(path: Path) -> list[KlassCorrespondence]:
    """A recorded KLASS 112 → 131 ``correspondsAt`` answer, read by the client's own parser."""
    if not path.is_file():
        raise ReferenceBuildError(f"recorded KLASS 112 correspondence missing: {path}")
    try:
        return parse_correspondence(orjson.loads(path.read_bytes()), path.name)
    except (KlassError, orjson.JSONDecodeError) as exc:
        raise ReferenceBuildError(f"{path}: not a KLASS correspondence: {exc}") from exc


def membership_file_name(year: int) -> str:
    return f"klass112-131-correspondsAt-{year}-01-01.json"


def fetch_kostra_memberships(
    client, years: Iterable[int], record: Path | None = None
) -> dict[int, tuple[Path, list[KlassCorrespondence]]]:
    """KLASS 112 → 131 ``correspondsAt`` on 1 January of each data year (every KOSTRA group's municipalities),
    from ``client`` (a KLASS 112 client). A year KLASS answers with no item keeps what the other sources say.
    With ``record``, each answer is also written there in KLASS's own shape, so that an offline build reads
    it back with ``--kostra-membership`` (:func:`read_kostra_membership`)."""
    out = {}
    for year in years:
        items = client.corresponds_at(MUNICIPALITIES_CLASSIFICATION, f"{year}-01-01")
        if not items:
            continue
        path = (record or Path(".")) / membership_file_name(year)
        if record is not None:
            body = {
                "correspondenceItems": [
                    {
                        "sourceCode": i.source_code,
                        "sourceName": i.source_name,
                        "targetCode": i.target_code,
                        "targetName": i.target_name,
                    }
                    for i in items
                ]
            }
            with replacing(path, mode=readable_mode()) as tmp:
                tmp.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
        out[year] = (path, items)
    return out


def kostra_membership_rows(
    year: int, items: list[KlassCorrespondence], municipalities: list[dict[str, str]], source: str
) -> list[dict[str, str]]:
    """kostra_groups rows for one data year from a 112 → 131 correspondence (the members of each group)."""
    valid = {
        r["municipality_code"]
        for r in municipalities
        if int(r["valid_from_year"]) <= year <= int(r["valid_to_year"] or LAST_YEAR)
    }
    rows, seen = [], set()
    for item in sorted(items, key=lambda i: (i.target_code, i.source_code)):
        if item.target_code == UNKNOWN_MUNICIPALITY:
            continue
        if item.target_code not in valid:
            raise ReferenceBuildError(
                f"{source}: {item.target_code} is not a municipality code valid in {year}"
            )
        if item.target_code in seen:
            raise ReferenceBuildError(f"{source}: {item.target_code} is in two KOSTRA groups")
        seen.add(item.target_code)
        rows.append(
            {
                "municipality_code": item.target_code,
                "year_from": str(year),
                "year_to": str(year),
                "kostra_group": _group_code(item.source_code, source),
                "grouping": grouping_of_year(year),
                "source": source,
            }
        )
    return rows


def derive_kostra_groupings() -> list[dict[str, str]]:
    return [
        {
            "kostra_grouping": grouping,
            "klass_112_versions": versions,
            "first_year": str(first),
            "last_year": "" if last is None else str(last),
            "numbering": numbering,
            "source": KOSTRA_GROUPINGS_SOURCE,
        }
        for grouping, versions, first, last, numbering in KOSTRA_GROUPINGS
    ]


def derive_aggregates() -> list[dict[str, str]]:
    rows = [
        {"region_code": "EAK", "name": "Landet", "kind": "national", "source": AGGREGATE_SOURCE},
        {"region_code": "EAKUO", "name": "Landet uten Oslo", "kind": "national", "source": AGGREGATE_SOURCE},
    ]
    for n in range(1, 18):
        rows.append(
            {
                "region_code": f"EKG{n:02d}",
                "name": f"KOSTRA-gruppe {n}",
                "kind": "kostra_group",
                "source": AGGREGATE_SOURCE,
            }
        )
    return rows


def with_membership(
    rows: list[dict[str, str]],
    memberships: dict[int, tuple[Path, list[KlassCorrespondence]]],
    municipalities: list[dict[str, str]],
) -> list[dict[str, str]]:
    """The KOSTRA group rows with each recorded 112 → 131 correspondence in place of the other rows of its
    data year: the correspondence is the whole membership that year, so a row it contradicts is an error
    and the years it does not cover keep what the other sources say."""
    if not memberships:
        return rows
    out = []
    for r in rows:
        last = int(r["year_to"] or LAST_YEAR)
        for year in range(int(r["year_from"]), last + 1):
            if year not in memberships:
                out.append({**r, "year_from": str(year), "year_to": str(year)})
    for year, (path, items) in sorted(memberships.items()):
        date = f"{year}-01-01"
        got = kostra_membership_rows(
            year, items, municipalities, KOSTRA_MEMBERSHIP_SOURCE.format(date=date, file=path.name)
        )
        by_code = {g["municipality_code"]: g["kostra_group"] for g in got}
        for r in rows:
            code = r["municipality_code"]
            if int(r["year_from"]) <= year <= int(r["year_to"] or LAST_YEAR) and by_code.get(code) not in (
                None,
                r["kostra_group"],
            ):
                raise ReferenceBuildError(
                    f"{path.name}: {code} is in {by_code[code]} in {year}, {r['source']} says {r['kostra_group']}"
                )
        out += got
    return sorted(out, key=lambda r: (r["municipality_code"], int(r["year_from"])))


def build(
    hist: CodeHistory,
    memberships: dict[int, tuple[Path, list[KlassCorrespondence]]] | None = None,
    *,
    groups_from: list[dict[str, str]] | None = None,
) -> dict[str, list[dict[str, str]]]:
    """All reference seed tables, keyed by file name. ``memberships``: data year → a recorded KLASS 112 →
    131 correspondence (the KOSTRA group of every municipality that year), in place of the other rows of its
    year. ``groups_from``: the KOSTRA group rows to start from instead of those derived from the snapshots
    (KLASS 131 alone, online, lacks the 2015 population and the pre-2020 groups: the committed rows)."""
    municipalities = derive_municipalities(hist)
    base = groups_from if groups_from is not None else derive_kostra_groups(hist, municipalities)
    return {
        "municipalities.csv": municipalities,
        "asss_membership.csv": derive_asss(municipalities),
        "kostra_groups.csv": with_membership(base, memberships or {}, municipalities),
        "aggregate_regions.csv": derive_aggregates(),
        "region_successors.csv": derive_successors(hist, municipalities),
        "kostra_groupings.csv": derive_kostra_groupings(),
    }


COLUMNS = {
    "municipalities.csv": MUNICIPALITY_COLUMNS,
    "asss_membership.csv": ASSS_COLUMNS,
    "kostra_groups.csv": KOSTRA_COLUMNS,
    "aggregate_regions.csv": AGGREGATE_COLUMNS,
    "region_successors.csv": SUCCESSOR_COLUMNS,
    "kostra_groupings.csv": GROUPING_COLUMNS,
}


def render(name: str, rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS[name], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _klass_list_arg(value: str) -> tuple[dt.date, Path]:
    date, sep, path = value.partition("=")
    try:
        if not sep:
            raise ValueError
        return dt.date.fromisoformat(date), Path(path)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected DATE=FILE (2026-01-01=codesAt.json), got {value!r}"
        ) from None


def _read_committed(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--snapshots", type=Path, default=DEFAULT_SNAPSHOTS, help="shared SSB snapshots folder"
    )
    parser.add_argument(
        "--klass-list",
        type=_klass_list_arg,
        action="append",
        default=[],
        metavar="DATE=FILE",
        help="a recorded KLASS 131 code list valid on DATE (codesAt JSON or KLASS CSV export); adds to or "
        "replaces the recorded lists in the snapshots (repeatable)",
    )
    parser.add_argument(
        "--kostra-membership",
        type=_klass_list_arg,
        action="append",
        default=[],
        metavar="DATE=FILE",
        help="a recorded KLASS 112 → 131 correspondsAt answer valid on DATE (YYYY-01-01 of the data year): "
        "the KOSTRA group of every municipality that year (repeatable; without one a year's groups are "
        "what the other sources state, or unknown)",
    )
    parser.add_argument(
        "--online",
        action="store_true",
        help="read KLASS 131 instead of the snapshots, and the KOSTRA groups of every data year of the 2020 "
        "grouping from KLASS 112 → 131",
    )
    parser.add_argument("--klass-root", default=KLASS_ROOT, help="KLASS API root for --online")
    parser.add_argument(
        "--record-membership",
        type=Path,
        metavar="DIR",
        help="with --online: also write each KLASS 112 → 131 answer to DIR, for --kostra-membership later",
    )
    parser.add_argument("--out", type=Path, default=REFERENCE_DIR, help="folder for the CSV files")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out; write nothing")
    args = parser.parse_args(argv)
    if args.record_membership and not args.online:
        parser.error("--record-membership needs --online")
    try:
        return _main(args)
    except (KlassError, ReferenceBuildError) as exc:
        print(f"build_reference: {exc}", file=sys.stderr)
        return 2


def _main(args: argparse.Namespace) -> int:
    memberships = {d.year: (p, read_kostra_membership(p)) for d, p in args.kostra_membership}
    if args.online:
        hist = load_klass(KlassClient(args.klass_root))
        fetched = fetch_kostra_memberships(
            KlassClient(args.klass_root, classification_id=KOSTRA_GROUPS),
            (y for y in range(FIRST_YEAR, LAST_YEAR + 1) if grouping_of_year(y) == "2020"),
            args.record_membership,
        )
        memberships = {**fetched, **memberships}  # a recorded file named on the command line wins
        # The committed KOSTRA groups stay, with the membership KLASS 112 gives in place of its years' rows.
        committed = args.out / "kostra_groups.csv"
        tables = build(
            hist, memberships, groups_from=_read_committed(committed) if committed.is_file() else []
        )
        if not committed.is_file() and not memberships:
            tables.pop("kostra_groups.csv")
    else:
        hist = load_snapshots(args.snapshots, dict(args.klass_list))
        tables = build(hist, memberships)
    stale = []
    for name, rows in tables.items():
        text = render(name, rows)
        path = args.out / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
                if path.is_file() and name == "municipalities.csv":
                    for line in diff_rows(rows, _read_committed(path), "municipality_code"):
                        print(f"{name}: {line}", file=sys.stderr)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path} ({len(rows)} rows)")
    seed = args.out / "municipalities.csv"
    if args.check and hist.klass_lists and seed.is_file():
        comparison = compare_with_recorded(_read_committed(seed), hist)
        print(comparison.report(), file=sys.stderr if comparison.differences else sys.stdout)
        if comparison.differences:
            stale.append("municipalities.csv (against the recorded KLASS lists)")
    if stale:
        print(f"differs from the sources: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
