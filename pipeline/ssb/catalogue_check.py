"""``kostra catalogue check``: every catalogue row against table metadata, with a verdict per row.

Metadata sources:

- :class:`LiveMetadata`: a PxWebApi server (SSB itself, or any server with the same paths such as the demo
  server): the table record (``GET /tables/{id}``: ``discontinued``) and the full v0 metadata. Complete: a
  code it does not list does not exist.
- :class:`RecordedMetadata`: a folder of recorded JSON-stat2 responses (e.g. ``shared/data/ssb-snapshots``).
  Files are matched to tables by ``extension.px.tableid`` or the ``"12209: …"`` label prefix. A response
  shows only the codes it was queried for, so a code absent from it is *not seen*, never *unknown*.

:func:`write_patch` writes the rows the metadata confirms, for a human to review; the seed is never edited.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.ssb.errors import SsbError, SsbNoSuchTable, SsbUnavailable
from pipeline.ssb.validate import (
    FAILING,
    NOT_CHECKED,
    OK,
    VERDICTS,
    Finding,
    TableCodes,
    check_selection,
    describe,
    row_verdict,
)

__all__ = [
    "LiveMetadata",
    "RecordedMetadata",
    "RowResult",
    "catalogue_rows",
    "check_catalogue",
    "format_report",
    "write_patch",
]

DERIVED = "derived"
ERROR = "error"


def _status_of(row: Mapping[str, Any]) -> str:
    """The row's evidence status; an older seed's ``verified`` column reads as confirmed/unverified."""
    status = str(row.get("status") or "").strip()
    if status:
        return status
    verified = row.get("verified")
    if verified is None or verified == "":
        return "unverified"
    return "confirmed" if verified is True or str(verified).lower() == "true" else "unverified"


def _blank(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        if pd.isna(value):
            return True
    except (TypeError, ValueError):
        pass
    return str(value).strip() == ""


def catalogue_rows(path: Path | None = None) -> list[dict[str, Any]]:
    """The catalogue's rows as dicts, each with a ``status`` (falling back to ``verified``)."""
    from pipeline.reference.catalogue import load_catalogue

    df = load_catalogue(path) if path else load_catalogue()
    rows = []
    for row in df.to_dict("records"):
        row = dict(row)
        row["status"] = _status_of(row)
        rows.append(row)
    return rows


# --- metadata sources -------------------------------------------------------------------------------


class LiveMetadata:
    """Metadata from a PxWebApi server through :class:`pipeline.ssb.client.SsbClient`."""

    complete = True

    def __init__(self, client) -> None:
        self.client = client
        self._cache: dict[str, TableCodes | None] = {}
        self._failed: dict[str, SsbError] = {}
        self.errors: dict[str, str] = {}

    @property
    def name(self) -> str:
        return f"live metadata at {self.client.v2_root}"

    def source_for(self, table_id: str) -> str:
        return f"{self.client.v2_root}/tables/{table_id} + {self.client.v0_root}/{self.client.language}/table/{table_id}"

    def codes(self, table_id: str) -> TableCodes | None:
        """The table's codes, None if the server has no such table. Raises SsbUnreachable."""
        if table_id in self._failed:
            raise self._failed[table_id]
        if table_id in self._cache:
            return self._cache[table_id]
        try:
            info = self.client.table_info(table_id)
            meta = self.client.table_metadata(table_id)
        except SsbNoSuchTable:
            found = None
        except SsbError as exc:
            if not (isinstance(exc, SsbUnavailable) and exc.status is None):
                # Asked once per table: the table's other rows get the same answer.
                self._failed[table_id] = exc
                self.errors[table_id] = exc.reason
            raise
        else:
            found = TableCodes.from_metadata(
                meta, discontinued=info.discontinued, source=self.source_for(table_id)
            )
        self._cache[table_id] = found
        return found


class RecordedMetadata:
    """What recorded JSON-stat2 responses in a folder show of each table (codes seen, not every code)."""

    complete = False

    def __init__(self, folder: Path | str) -> None:
        from pipeline.raw.jsonstat import JsonStatError, decode

        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"--metadata-dir {self.folder}: no such folder")
        self.tables: dict[str, TableCodes] = {}
        self.files: dict[str, list[str]] = {}
        for path in sorted(self.folder.rglob("*.json")):
            try:
                ds = decode(path.read_bytes())
            except (JsonStatError, ValueError, OSError):
                continue  # not a dataset (a test-harness record, a KLASS answer, …)
            table_id = ds.table_id
            if not table_id:
                continue
            rel = str(path.relative_to(self.folder))
            codes = TableCodes(
                table_id=table_id,
                dimensions={d.id: dict(zip(d.codes, d.labels, strict=False)) for d in ds.dimensions},
                complete=False,
                title=ds.label or "",
                source=f"recorded response {rel} (updated {ds.updated})",
                dimension_labels={d.id: d.label for d in ds.dimensions},
            )
            self.tables[table_id] = self.tables[table_id].merge(codes) if table_id in self.tables else codes
            self.files.setdefault(table_id, []).append(rel)
        self.errors: dict[str, str] = {}

    @property
    def name(self) -> str:
        return f"recorded responses in {self.folder}"

    def source_for(self, table_id: str) -> str:
        found = self.tables.get(table_id)
        return found.source if found else ""

    def codes(self, table_id: str) -> TableCodes | None:
        return self.tables.get(table_id)


# --- checking ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowResult:
    row: dict[str, Any]
    verdict: str
    findings: list[Finding] = field(default_factory=list)
    text: str = ""
    source: str = ""

    @property
    def fails(self) -> bool:
        return self.verdict in FAILING or self.verdict == ERROR


def _row_wanted(row: Mapping[str, Any], spec) -> dict[str, dict[str, str | None]]:
    """{dimension: {code: catalogue label}} for one row: its filters, its contents code, and the codes of
    the dimensions the catalogue fetches whole and sums (e.g. Kjonn)."""
    from pipeline.reference.catalogue import cell_filters

    labels = (
        {dim: dict(zip(codes, lbls, strict=False)) for dim, codes, lbls in spec.dimensions} if spec else {}
    )
    wanted: dict[str, dict[str, str | None]] = {}
    filters = cell_filters(row)
    for dim, codes, _ in spec.dimensions if spec else []:
        if dim == "ContentsCode" or dim in filters or not codes:
            continue
        wanted[dim] = {c: labels.get(dim, {}).get(c) for c in codes}
    for dim, codes in filters.items():
        if codes:
            wanted[dim] = {c: labels.get(dim, {}).get(c) for c in codes}
    wanted["ContentsCode"] = {str(row["contents_code"]): str(row.get("label_nb") or "") or None}
    return wanted


def check_catalogue(rows: Sequence[Mapping[str, Any]], metadata) -> list[RowResult]:
    """A verdict for every row (derived rows: not checked). Raises SsbUnreachable if the server is."""
    from pipeline.reference.catalogue import tables

    specs = tables()
    results: list[RowResult] = []
    for row in rows:
        row = dict(row)
        table_id = "" if _blank(row.get("table_id")) else str(row["table_id"])
        if row.get("status") == DERIVED or not table_id or _blank(row.get("contents_code")):
            results.append(RowResult(row, NOT_CHECKED, text="not checked (derived: computed, never fetched)"))
            continue
        try:
            have = metadata.codes(table_id)
        except SsbUnavailable as exc:
            if exc.status is None:
                raise
            results.append(RowResult(row, ERROR, text=f"not checked: {exc.reason}"))
            continue
        except SsbError as exc:
            results.append(RowResult(row, ERROR, text=f"not checked: {exc.reason}"))
            continue
        if have is None and not metadata.complete:
            results.append(
                RowResult(row, NOT_CHECKED, text="not checked (no recorded response of this table)")
            )
            continue
        spec = specs.get(table_id)
        ended = not _blank(row.get("last_year")) or bool(spec and getattr(spec, "successor_table_id", None))
        findings = check_selection(
            table_id,
            _row_wanted(row, spec),
            have,
            discontinued=(have.discontinued and not ended) if have is not None else None,
        )
        verdict, worst = row_verdict(findings)
        text = describe(verdict, worst)
        if verdict == OK and have is not None and have.discontinued:
            text = "ok (the table is discontinued; the catalogue ends this row's series)"
        results.append(RowResult(row, verdict, findings, text, metadata.source_for(table_id)))
    return results


def format_report(results: Sequence[RowResult], source_name: str) -> list[str]:
    """The report lines: one per row, then the counts per verdict and per status."""
    lines = [f"Catalogue check against {source_name}"]
    width = max((len(str(r.row.get("indicator_id", ""))) for r in results), default=10)
    for r in results:
        row = r.row
        table = "" if _blank(row.get("table_id")) else str(row["table_id"])
        code = "" if _blank(row.get("contents_code")) else str(row["contents_code"])
        years = ""
        if not _blank(row.get("first_year")) or not _blank(row.get("last_year")):
            first = "" if _blank(row.get("first_year")) else str(row["first_year"])
            last = "" if _blank(row.get("last_year")) else str(row["last_year"])
            years = f" [{first}–{last}]"
        lines.append(
            f"{str(row.get('indicator_id', '')):<{width}}  {table:>5} {code:<22} "
            f"{row.get('status', ''):<14} {r.text or r.verdict}{years}"
        )
    verdicts = Counter(r.verdict for r in results)
    statuses = Counter(str(r.row.get("status", "")) for r in results)
    order = [*VERDICTS, ERROR]
    lines.append(
        f"{len(results)} rows — by verdict: "
        + ", ".join(f"{v} {verdicts[v]}" for v in order if verdicts.get(v))
    )
    lines.append("by status: " + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items())))
    return lines


def _cell(value: Any) -> str:
    """A value as the seed writes it: blanks empty, whole floats without '.0'."""
    if _blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def write_patch(
    results: Iterable[RowResult],
    path: Path | str,
    *,
    status: str,
    columns: Sequence[str] | None = None,
    today: date | None = None,
) -> int:
    """Write the rows the metadata confirms (verdict ok) as catalogue rows with ``status``, ``confirmed_on``
    = today and ``source`` = where the metadata came from; returns how many. The seed is not touched."""
    today = today or date.today()
    confirmed = [r for r in results if r.verdict == OK and r.source]
    cols = list(columns) if columns else (list(confirmed[0].row) if confirmed else [])
    cols = [c for c in cols if c != "verified"]
    for extra in ("status", "source", "confirmed_on"):
        if extra not in cols:
            cols.append(extra)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        for r in confirmed:
            out = {c: _cell(r.row.get(c)) for c in cols}
            # confirmed_on dates live metadata only: a recorded response is 'confirmed' with its file as source.
            confirmed_on = today.isoformat() if status == "confirmed_live" else ""
            out.update(status=status, source=r.source, confirmed_on=confirmed_on)
            writer.writerow(out)
    return len(confirmed)
