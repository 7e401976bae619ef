"""Derive the committed reference seeds (municipalities, KOSTRA groups, ASSS membership, aggregate regions).

The script is the reproducible record of how every fact in ``dbt_project/seeds/reference/*.csv`` was
obtained. Offline it reads the shared SSB snapshots (``--snapshots DIR``, default
``../shared/data/ssb-snapshots``); online (``--online``) it asks KLASS classification 131 for the code
lists and changes instead. ``--check`` compares the result with the committed files and exits non-zero on
any difference, so CI can prove the seeds are reproducible.

    python -m pipeline.klass.build_reference            # rewrite the seeds from the snapshots
    python -m pipeline.klass.build_reference --check    # verify the committed seeds
    python -m pipeline.klass.build_reference --online   # derive from KLASS (needs internet)
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import REPO_ROOT, SEEDS_DIR

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

# Short source tags used in the `source` columns; _reference.yml spells them out.
SRC_GARDENBERG = "klass131-changes (gardenberg/barnevernmonitor)"
SRC_KLASS_ONLINE = "klass131 (data.ssb.no/api/klass)"
SRC_13502 = "ssb-13502 labels"
SRC_REGTOOLS = "ssb-grouping-2024 (lauriejh/regtools)"
SRC_FLOOR = f"valid_from_year floored at {FIRST_YEAR} (start not in sources)"

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


def load_snapshots(snapshots: Path) -> CodeHistory:
    """Collect code lists per year and the changes between them from the shared SSB snapshots."""
    garden = snapshots / "gardenberg__barnevernmonitor"
    steps = [(2013, 2017), (2017, 2018), (2018, 2019), (2019, 2020)]
    codes_by_year: dict[int, dict[str, str]] = {}
    changes: list[tuple[int, str, str]] = []
    hist = CodeHistory(codes_by_year=codes_by_year, changes=changes)
    for old_y, new_y in steps:
        path = garden / f"derived_utf8_fra_{old_y}kommuner_til_{new_y}kommuner.csv"
        # 9999 "Uoppgitt" (unknown municipality) is a KLASS code but not a municipality.
        rows = [r for r in _read_csv(path, delimiter=";") if r[f"kommunenummer_{old_y}"] != "9999"]
        old_codes = {r[f"kommunenummer_{old_y}"]: r[f"kommunenavn_{old_y}"] for r in rows}
        new_codes = {r[f"kommunenummer_{new_y}"]: r[f"kommunenavn_{new_y}"] for r in rows}
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

    # The KLASS 131 code lists of January 2018, 2019 and 2020 must agree with the change tables.
    for year, fname in [
        (2018, "derived_utf8_ssb_kommune_jan18_jan19_833.csv"),
        (2019, "derived_utf8_ssb_kommune_jan19_jan20_1102.csv"),
        (2020, "derived_utf8_ssb_kommune_jan20_1160.csv"),
    ]:
        listed = {r["code"] for r in _read_csv(garden / fname, delimiter=";") if r["code"] != "9999"}
        if listed != set(codes_by_year[year]):
            diff = sorted(listed ^ set(codes_by_year[year]))
            raise ReferenceBuildError(
                f"{fname}: KLASS list for {year} differs from the change tables: {diff}"
            )

    _add_2024(hist, snapshots / "lauriejh__regtools" / "derived_kommuner-1994-2024.csv")

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
    return hist


def _add_2024(hist: CodeHistory, path: Path) -> None:
    """Add the 2024 codes and the 2023→2024 changes from SSB's 2024 grouping of historical codes."""
    rows = [r for r in _read_csv(path) if re.fullmatch(r"K\.\d{4}", r["GRUPPEKODE"])]
    codes_2023 = hist.codes_by_year[2023]
    current: dict[str, str] = {}
    members: dict[str, list[tuple[str, int | None, int | None]]] = defaultdict(list)
    for r in rows:
        group, code = r["GRUPPEKODE"][2:], r["KODE"]
        name, start, end = _split_label(r["TEKST"])
        hist.code_sources[code].add(SRC_REGTOOLS)
        hist.harmonised[code] = group
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


# --------------------------------------------------------------------------- online source


def load_klass(client=None) -> CodeHistory:
    """Collect the same facts from KLASS 131: codes valid on 1 January of each year, and the changes."""
    from pipeline.klass.client import KlassClient

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


def build(hist: CodeHistory) -> dict[str, list[dict[str, str]]]:
    """All four seed tables, keyed by file name."""
    municipalities = derive_municipalities(hist)
    return {
        "municipalities.csv": municipalities,
        "asss_membership.csv": derive_asss(municipalities),
        "kostra_groups.csv": derive_kostra_groups(hist, municipalities),
        "aggregate_regions.csv": derive_aggregates(),
    }


COLUMNS = {
    "municipalities.csv": MUNICIPALITY_COLUMNS,
    "asss_membership.csv": ASSS_COLUMNS,
    "kostra_groups.csv": KOSTRA_COLUMNS,
    "aggregate_regions.csv": AGGREGATE_COLUMNS,
}


def render(name: str, rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS[name], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--snapshots", type=Path, default=DEFAULT_SNAPSHOTS, help="shared SSB snapshots folder"
    )
    parser.add_argument("--online", action="store_true", help="read KLASS 131 instead of the snapshots")
    parser.add_argument("--out", type=Path, default=REFERENCE_DIR, help="folder for the CSV files")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out; write nothing")
    args = parser.parse_args(argv)

    hist = load_klass() if args.online else load_snapshots(args.snapshots)
    tables = build(hist)
    if args.online:
        # KLASS alone lacks the 2015 population and KOSTRA groups; keep the committed KOSTRA groups.
        tables.pop("kostra_groups.csv")
    stale = []
    for name, rows in tables.items():
        text = render(name, rows)
        path = args.out / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path} ({len(rows)} rows)")
    if stale:
        print(f"differs from the sources: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
