"""Check what the catalogue wants from a table against what the table's metadata says it has.

Pure functions (no I/O), used before every fetch (:func:`pipeline.landing.ingest.ingest_table`) and by
``kostra catalogue check``. The metadata comes as :class:`TableCodes`: every dimension with its codes and
labels, from live metadata (``complete=True``: a code missing from it does not exist) or from recorded
responses (``complete=False``: a response shows only the codes it was queried for, so a code missing from
it is *not seen*, never *unknown*).

A problem names the table, the dimension, the code, the catalogue's label and the nearest real codes by
label (``difflib`` on the metadata's value texts against the catalogue label), so a renamed or replaced
code can be found without opening the statbank.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "FAILING",
    "VERDICTS",
    "Finding",
    "TableCodes",
    "check_selection",
    "describe",
    "failures",
    "nearest_codes",
    "row_verdict",
    "summarise",
]

OK = "ok"
UNKNOWN_TABLE = "unknown table"
DISCONTINUED = "discontinued"
UNKNOWN_DIMENSION = "unknown dimension"
UNKNOWN_CODE = "unknown code"
NOT_SEEN = "not seen"
NOT_CHECKED = "not checked"
# Worst first: a row's verdict is the worst of its findings.
VERDICTS = (UNKNOWN_TABLE, DISCONTINUED, UNKNOWN_DIMENSION, UNKNOWN_CODE, NOT_SEEN, NOT_CHECKED, OK)
FAILING = frozenset({UNKNOWN_TABLE, DISCONTINUED, UNKNOWN_DIMENSION, UNKNOWN_CODE})
NEAREST = 3


@dataclass(frozen=True)
class TableCodes:
    """What metadata says one table has: ``dimensions`` = {dimension id: {code: label}} in table order."""

    table_id: str
    dimensions: dict[str, dict[str, str]]
    complete: bool = True
    discontinued: bool = False
    title: str = ""
    source: str = ""
    dimension_labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_metadata(cls, meta, *, discontinued: bool = False, source: str = "") -> TableCodes:
        """From a :class:`pipeline.ssb.client.TableMetadata` (live: complete)."""
        return cls(
            table_id=meta.table_id,
            dimensions={v.code: dict(zip(v.values, v.value_texts, strict=False)) for v in meta.variables},
            complete=True,
            discontinued=bool(discontinued),
            title=meta.title,
            source=source,
            dimension_labels={v.code: v.text for v in meta.variables},
        )

    def merge(self, other: TableCodes) -> TableCodes:
        """Both views of the same table together (e.g. two recorded responses)."""
        dims = {k: dict(v) for k, v in self.dimensions.items()}
        for dim, codes in other.dimensions.items():
            dims.setdefault(dim, {}).update(codes)
        sources = [s for s in (self.source, other.source) if s]
        return TableCodes(
            table_id=self.table_id,
            dimensions=dims,
            complete=self.complete and other.complete,
            discontinued=self.discontinued or other.discontinued,
            title=self.title or other.title,
            source="; ".join(dict.fromkeys("; ".join(sources).split("; "))) if sources else "",
            dimension_labels={**other.dimension_labels, **self.dimension_labels},
        )


@dataclass(frozen=True)
class Finding:
    """One verdict on one wanted code (or on the whole table)."""

    table_id: str
    verdict: str
    dimension: str | None = None
    code: str | None = None
    label: str | None = None
    nearest: tuple[tuple[str, str], ...] = ()

    @property
    def fails(self) -> bool:
        return self.verdict in FAILING

    def detail(self) -> str:
        """What is wrong, without the table: ``ContentsCode has no code 'KOSx' ('label'); nearest …``."""
        shown = f" ({self.label!r})" if self.label else ""
        near = (
            "; nearest by label: " + ", ".join(f'{code} "{label}"' for code, label in self.nearest)
            if self.nearest
            else ""
        )
        if self.verdict == UNKNOWN_TABLE:
            return "the statbank has no such table"
        if self.verdict == DISCONTINUED:
            return "the table is discontinued (avslutta serie): the catalogue must name its replacement"
        if self.verdict == UNKNOWN_DIMENSION:
            return f"no dimension {self.dimension!r}{near}"
        if self.verdict == UNKNOWN_CODE:
            return f"{self.dimension} has no code {self.code!r}{shown}{near}"
        if self.verdict == NOT_SEEN:
            return f"{self.dimension} code {self.code!r}{shown} not seen in the recorded responses"
        if self.verdict == NOT_CHECKED:
            return "not checked (no metadata for this table)"
        return f"{self.dimension} {self.code} ok" if self.dimension else "ok"

    def message(self) -> str:
        """One line naming the table: ``table 12209: ContentsCode has no code 'KOSx' …``."""
        return f"table {self.table_id}: {self.detail()}"


def _fold(text: str) -> str:
    return " ".join(str(text).casefold().split())


def nearest_codes(
    label: str | None, candidates: Mapping[str, str], n: int = NEAREST
) -> list[tuple[str, str]]:
    """Up to ``n`` (code, label) of ``candidates`` whose label is most like ``label`` (then the code)."""
    if not candidates:
        return []
    target = _fold(label or "")
    scored = []
    for code, text in candidates.items():
        by_label = difflib.SequenceMatcher(None, target, _fold(text)).ratio() if target else 0.0
        by_code = difflib.SequenceMatcher(None, target, _fold(code)).ratio() if target else 0.0
        scored.append((max(by_label, by_code * 0.5), code, text))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [(code, text) for _, code, text in scored[:n]]


def check_selection(
    table_id: str,
    wanted: Mapping[str, Mapping[str, str | None] | Sequence[str]],
    have: TableCodes | None,
    *,
    discontinued: bool | None = None,
) -> list[Finding]:
    """Every finding on ``wanted`` ({dimension id: {code: catalogue label}} or {dimension id: [codes]}).

    ``have`` None means the metadata source has no such table (live: it does not exist). Returns one
    ``ok`` finding per code that is there, so callers can count; :func:`failures` keeps the problems.
    """
    if have is None:
        return [Finding(table_id, UNKNOWN_TABLE)]
    findings: list[Finding] = []
    if discontinued if discontinued is not None else have.discontinued:
        findings.append(Finding(table_id, DISCONTINUED))
    for dim, codes in wanted.items():
        labels = dict(codes) if isinstance(codes, Mapping) else dict.fromkeys(codes)
        if not labels:
            continue
        known = have.dimensions.get(dim)
        if known is None:
            if have.complete:
                dims = {d: have.dimension_labels.get(d, d) for d in have.dimensions}
                near = tuple(nearest_codes(dim, dims))
                findings.append(Finding(table_id, UNKNOWN_DIMENSION, dimension=dim, nearest=near))
            else:
                findings.extend(
                    Finding(table_id, NOT_SEEN, dim, code, label) for code, label in labels.items()
                )
            continue
        for code, label in labels.items():
            if code in known:
                findings.append(Finding(table_id, OK, dim, code, label))
            elif have.complete:
                near = tuple(nearest_codes(label or code, known))
                findings.append(Finding(table_id, UNKNOWN_CODE, dim, code, label, near))
            else:
                findings.append(Finding(table_id, NOT_SEEN, dim, code, label))
    return findings


def failures(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.fails]


def row_verdict(findings: Sequence[Finding]) -> tuple[str, list[Finding]]:
    """The worst verdict among ``findings`` and the findings that carry it (``ok`` if none is worse)."""
    if not findings:
        return OK, []
    rank = {v: i for i, v in enumerate(VERDICTS)}
    worst = min(findings, key=lambda f: rank.get(f.verdict, len(VERDICTS))).verdict
    return worst, [f for f in findings if f.verdict == worst]


def describe(verdict: str, findings: Sequence[Finding]) -> str:
    """A short verdict text for one row: ``unknown code KOSx (nearest: A "…", B "…")``."""
    if verdict == UNKNOWN_CODE:
        parts = []
        for f in findings:
            near = ", ".join(f'{c} "{lbl}"' for c, lbl in f.nearest)
            parts.append(f"{f.dimension}={f.code}" + (f" (nearest: {near})" if near else ""))
        return f"{UNKNOWN_CODE} " + "; ".join(parts)
    if verdict == UNKNOWN_DIMENSION:
        return f"{UNKNOWN_DIMENSION} " + ", ".join(str(f.dimension) for f in findings)
    if verdict == NOT_SEEN:
        by_dim: dict[str, list[str]] = {}
        for f in findings:
            by_dim.setdefault(str(f.dimension), []).append(str(f.code))
        return f"{NOT_SEEN} " + " ".join(f"{d}={';'.join(codes)}" for d, codes in by_dim.items())
    return verdict


def summarise(findings: Sequence[Finding], *, with_table: bool = True) -> str:
    """One line for an error: every failing finding, joined (" | " between findings)."""
    bad = failures(findings)
    if not bad:
        return "ok"
    return " | ".join(f.message() if with_table else f.detail() for f in bad)
