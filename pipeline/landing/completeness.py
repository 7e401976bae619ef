"""Completeness of a landed release: is every ASSS member and comparator in it, for every year?

This is the blocking check on the ingest: a release that lacks a network member is not one the network can
use, and must be noticed before it is built into profiles. Decoding stays in Arrow.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import pyarrow.compute as pc

from pipeline.landing.store import FetchRecord, LandingStore
from pipeline.raw.jsonstat import decode
from pipeline.raw.load import REGION_DIMS, time_dimension
from pipeline.reference import seeds


@dataclass
class Completeness:
    table_id: str
    fetches: int = 0
    cells: int = 0
    problems: list[str] = field(default_factory=list)
    # A `kostra landing` reference to every fetch with a problem: TABLE@UPDATED, or (a fetch landed without
    # `updated`) its first object's sha256, which holds the whole fetch out of builds.
    incomplete: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line for the person running the ingest: the first problem, how many more, and how to build the
        table's other releases without an incomplete one (it stays landed until someone decides)."""
        if not self.problems:
            return ""
        more = len(self.problems) - 1
        line = self.problems[0] + (f" (and {more} more problem{'s' if more != 1 else ''})" if more else "")
        if self.incomplete:
            line += (
                f"; to leave the release out of builds: kostra landing quarantine {self.incomplete[0]} "
                '--reason "..."'
            )
        return line


@functools.cache
def expected_codes(year: int) -> Mapping[str, str]:
    """The code each ASSS member and comparator was published under in ``year`` → its municipality id.

    Once per year and process, read-only: the seeds do not change while a run checks release after release
    (whole demo: 0.8 s of the ingest looking them up per fetch)."""
    return MappingProxyType(
        {
            code: mid
            for mid in seeds.asss_members(year, include_comparators=True)
            for code in seeds.codes_for(mid, year)
        }
    )


@dataclass(frozen=True)
class ObjectFacts:
    """What the ingest reads of one landing object: how many cells carry each status symbol, and for a regional
    table, per data year, the region codes it lists and those with a cell other than '.'."""

    statuses: Mapping[str, int]
    regional: bool
    listed: Mapping[int, frozenset[str]]
    with_number: Mapping[int, frozenset[str]]


@functools.lru_cache(maxsize=4096)
def _object_facts(root: Path, sha: str) -> ObjectFacts:
    ds = decode(LandingStore(root).read_object(sha))
    statuses = MappingProxyType(ds.status_counts())
    region = next((d for d in ds.dimensions if d.id in REGION_DIMS), None)
    time = time_dimension(ds)
    if region is None or time is None:
        return ObjectFacts(statuses, False, MappingProxyType({}), MappingProxyType({}))
    tbl = ds.cells
    years = pc.cast(pc.utf8_slice_codeunits(pc.cast(tbl[time.id], "string"), 0, 4), "string")
    regions = pc.cast(tbl[region.id], "string")
    not_na = pc.invert(pc.equal(pc.fill_null(pc.cast(tbl["status"], "string"), ""), "."))
    listed: dict[int, frozenset[str]] = {}
    with_number: dict[int, set[str]] = {}
    for period in (p for p in time.codes if p[:4].isdigit()):
        year = int(period[:4])
        listed[year] = frozenset(region.codes)
        in_year = pc.equal(years, period[:4])
        present = pc.unique(pc.filter(regions, pc.and_(in_year, not_na))).to_pylist()
        with_number.setdefault(year, set()).update(present)
    return ObjectFacts(
        statuses,
        True,
        MappingProxyType(listed),
        MappingProxyType({y: frozenset(codes) for y, codes in with_number.items()}),
    )


def object_facts(store: LandingStore, sha: str) -> ObjectFacts:
    """The facts of landing object ``sha``, decoded once per process: an object is immutable (its name is
    its content's sha256), and the ingest step and its completeness check read the same new objects
    (whole demo: 1.6 s of decoding each, 4 December 2026)."""
    return _object_facts(store.root.resolve(), sha)


def check_fetch(store: LandingStore, rec: FetchRecord) -> list[str]:
    """Problems of one fetch, over all its parts together: a fetch split under the cell limit may carry
    each region in one part only."""
    where = f"table {rec.table_id}, release {rec.updated}"
    seen: dict[int, set[str]] = {}  # year -> region codes present
    with_number: dict[int, set[str]] = {}  # year -> region codes with any cell other than '.'
    regional = False
    for sha in rec.objects:
        facts = object_facts(store, sha)
        if not facts.regional:
            continue  # not a regional table: nothing to require
        regional = True
        for year, codes in facts.listed.items():
            seen.setdefault(year, set()).update(codes)
            with_number.setdefault(year, set()).update(facts.with_number.get(year, ()))
    if not regional:
        return []
    problems = []
    for year in sorted(seen):
        for code, mid in expected_codes(year).items():
            if code not in seen[year]:
                problems.append(
                    f"{where}: {code} ({seeds.name_in(code, year)}, municipality {mid}) is missing for {year}"
                )
            elif code not in with_number[year]:
                # A member whose every cell in a valid year is '.' is also missing, only less visibly.
                problems.append(
                    f"{where}: {code} is published as '.' (not applicable) in {year}, a year it was valid"
                )
    return problems


def check_table(
    store: LandingStore, table_id: str, *, only: Callable[[FetchRecord], bool] | None = None
) -> Completeness:
    """Check the table's landed fetches (those ``only`` accepts: the ingest checks the releases of its own
    run, so an incomplete release landed earlier, already reported, does not fail every later run).

    A table with no fetch at all is reported as never landed; one with fetches, none of them in scope, has
    nothing to check."""
    result = Completeness(table_id)
    landed = False
    for rec in store.fetches([table_id]):
        landed = True
        if only is not None and not only(rec):
            continue
        result.fetches += 1
        result.cells += rec.cells
        if problems := check_fetch(store, rec):
            result.problems += problems
            result.incomplete.append(f"{table_id}@{rec.updated}" if rec.updated else rec.objects[0])
    if not landed:
        result.problems.append(f"table {table_id} has never been landed")
    return result
