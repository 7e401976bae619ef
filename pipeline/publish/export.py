"""Export a mart from the published warehouse for one municipality (or all) as CSV, Parquet or Excel."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.config import Home
from pipeline.files import NotWritable, readable_mode, replacing
from pipeline.publish.warehouse import connect_published

# What can be exported, and the column that holds the municipality.
EXPORTABLE = {
    "service_profile": "municipality_id",
    "indicator_values": "municipality_id",
    "indicator_trend": "municipality_id",
    "asss_aggregates": None,
    "revisions": "municipality_id",
    "sector_indices": "municipality_id",
    "production_contributions": "municipality_id",
    "barometer": "municipality_id",
    "dq_findings": "municipality_id",
    "comparison_group_members": "municipality_id",
    "similar_municipalities": "municipality_id",
    "similar_municipality_contributions": "municipality_id",
}
# Marts whose figures depend on the comparison group the warehouse was built against (--group checks it).
GROUP_DEPENDENT = {
    "service_profile",
    "indicator_trend",
    "asss_aggregates",
    "sector_indices",
    "production_contributions",
    "barometer",
    "comparison_group_members",
}
FORMATS = ("csv", "parquet", "xlsx")


class ExportError(ValueError):
    """The export request names something that does not exist; the message says which parameter."""


def fetch(home: Home, what: str, municipality: str | None = None) -> pa.Table:
    if what not in EXPORTABLE:
        raise ExportError(f"--what {what!r}: choose one of {', '.join(sorted(EXPORTABLE))}")
    con = connect_published(home)
    try:
        exists = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts' and table_name = ?",
            [what],
        ).fetchall()[0][0]
        if not exists:
            raise ExportError(
                f"--what {what!r}: marts.{what} is not in the published warehouse (not built yet)"
            )
        column = EXPORTABLE[what]
        if municipality and column:
            known = con.execute(
                f"select count(*) from marts.{what} where {column} = ?", [municipality]
            ).fetchall()[0][0]
            if not known:
                raise ExportError(
                    f"--municipality {municipality!r}: no rows in marts.{what} for that municipality"
                )
            return con.execute(
                f"select * from marts.{what} where {column} = ? order by all", [municipality]
            ).to_arrow_table()
        if municipality and not column:
            raise ExportError(f"--municipality: marts.{what} has no municipality column")
        return con.execute(f"select * from marts.{what} order by all").to_arrow_table()
    finally:
        con.close()


def owned_paths(home: Home) -> list[Path]:
    """What the pipeline owns under the home: an export never writes into any of them."""
    root = home.root.resolve()
    return [
        home.published_db.resolve(),
        home.build_dir.resolve(),
        home.landing.resolve(),
        home.versions_dir.resolve(),
        home.demo_dir.resolve(),
        home.reports_dir.resolve(),
        root / "dagster",
        root / "dbt",
        root / "logs",
        root / ".publish.lock",
    ]


def target_path(home: Home, out: Path, what: str, municipality: str | None, fmt: str) -> Path:
    """Where an export goes: ``out``, or a named file inside it when it is a directory; never an owned path."""
    out = Path(out).expanduser()
    if out.is_dir() or str(out).endswith(os.sep):
        name = f"{what}_{municipality}.{fmt}" if municipality else f"{what}.{fmt}"
        out = out / name
    resolved = out.resolve()
    for owned in owned_paths(home):
        if resolved == owned or owned in resolved.parents:
            raise ExportError(
                f"--out {str(out)!r}: that is the pipeline's own {owned.name} under {home.root}; "
                "choose a path outside it"
            )
    if resolved.is_dir():
        raise ExportError(f"--out {str(out)!r} is a directory")
    return resolved


def write(
    table: pa.Table, fmt: str, out: Path, *, sheet: str = "data", note: str | None = None, excel: bool = False
) -> Path:
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    try:
        # A half-written export never takes the name of a finished one.
        with replacing(out, mode=readable_mode()) as tmp:
            if fmt == "csv" and excel:
                _write_excel_csv(table, tmp)
            elif fmt == "csv":
                pacsv.write_csv(table, tmp)
            elif fmt == "parquet":
                pq.write_table(table, tmp)
            else:
                _write_xlsx(table, tmp, sheet=sheet, note=note)
    except NotWritable as exc:
        raise ExportError(f"--out {str(out)!r}: cannot write there: {exc.strerror or exc}") from None
    return out


def _write_excel_csv(table: pa.Table, path: Path) -> None:
    """CSV as Norwegian Excel opens it: ``;`` between fields, decimal comma, UTF-8 with BOM, Norwegian headers."""
    import csv

    from pipeline.report.workbook import HEADERS_NB

    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow([HEADERS_NB.get(c, c) for c in table.column_names])
        for row in table.to_pylist():
            w.writerow([_excel_csv_value(v) for v in row.values()])


def _excel_csv_value(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "ja" if v else "nei"
    if isinstance(v, float):
        return repr(v).replace(".", ",") if v == v else ""  # full precision; no thousands separator
    if hasattr(v, "tzinfo") and getattr(v, "tzinfo", None) is not None:
        return v.replace(tzinfo=None).isoformat(sep=" ")
    return str(v)


def _write_xlsx(table: pa.Table, path: Path, *, sheet: str, note: str | None) -> None:
    """Norwegian headers, number formats, a frozen header row (under the DEMO row), and a Kilder sheet."""
    from openpyxl import Workbook

    from pipeline.report.workbook import HEADERS_NB, add_sheet

    wb = Workbook()
    wb.remove(wb.active)
    rows = [[_excel_value(v) for v in r.values()] for r in table.to_pylist()]
    headers = [HEADERS_NB.get(c, c) for c in table.column_names]
    add_sheet(wb, sheet, headers, rows, demo=note is not None)
    sources = [
        c for c in ("table_id", "contents_code", "release_updated", "vintage") if c in table.column_names
    ]
    if sources:
        seen = sorted(
            {tuple(str(r[c]) if r[c] is not None else "" for c in sources) for r in table.to_pylist()}
        )
        add_sheet(
            wb,
            "Kilder",
            [HEADERS_NB.get(c, c) for c in sources],
            [list(t) for t in seen],
            demo=note is not None,
        )
    else:
        add_sheet(
            wb,
            "Kilder",
            ["Kilde"],
            [[f"SSBs statistikkbank (KOSTRA), via marts.{sheet} i kostra-warehouse"]],
            demo=note is not None,
        )
    wb.save(path)


def _excel_value(v):
    if isinstance(v, (dict, list)):
        return str(v)
    if hasattr(v, "tzinfo") and getattr(v, "tzinfo", None) is not None:
        return v.replace(tzinfo=None)  # Excel has no time zones; the warehouse stores UTC
    return v


def check_group(home: Home, what: str, group: str | None, municipality: str | None) -> None:
    """``--group``: the marts hold the statistics of one comparison group, the build's; asking for another is
    one line saying how to build for it (never the build's figures under another group's name)."""
    from pipeline.config import Comparison, comparison_group_label_nb, normalise_comparison_group

    if group is None or what not in GROUP_DEPENDENT:
        return
    try:
        wanted = normalise_comparison_group(group, municipality or Comparison.from_env().focus_municipality)
    except ValueError as exc:
        raise ExportError(f"--group: {exc}") from None
    con = connect_published(home)
    try:
        (built,) = con.execute("select any_value(comparison_group) from marts.service_profile").fetchone()
    finally:
        con.close()
    built = built or "ASSS"
    if wanted != built:
        raise ExportError(
            f"--group {group}: the published warehouse is built against {built} "
            f"({comparison_group_label_nb(built)}), not {wanted}; build it for that group with "
            f"KOSTRA_COMPARISON_GROUP={wanted} kostra build (or kostra build --group {wanted})"
        )


def export(
    home: Home,
    what: str,
    municipality: str | None,
    fmt: str,
    out: Path,
    *,
    excel: bool = False,
    group: str | None = None,
) -> tuple[Path, int]:
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if excel and fmt != "csv":
        raise ExportError(f"--excel: only for --format csv (xlsx is Excel's own format), not {fmt}")
    out = target_path(home, out, what, municipality, fmt)
    if what in EXPORTABLE:
        check_group(home, what, group, municipality)
    table = fetch(home, what, municipality)
    from pipeline.report.summary import is_demo

    note = (
        "DEMO DATA: syntetiske tall i SSBs virkelige struktur. Ikke siter tallene." if is_demo(home) else None
    )
    return write(table, fmt, out, sheet=what, note=note, excel=excel), table.num_rows
