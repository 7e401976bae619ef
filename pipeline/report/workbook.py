"""The analyst formats: the report as an Excel workbook, and the Excel conventions of ``kostra export``.

Headers are Norwegian (the catalogue's labels for indicators, :data:`HEADERS_NB` for mart columns), numbers
carry Excel number formats (Excel shows them with the reader's decimal comma and thousands space), the
header row is frozen, and every workbook has a *Kilder* sheet. Demo data say so in the first row of every
sheet.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

DEMO_NOTE = "DEMO DATA: syntetiske tall i SSBs virkelige struktur. Ikke siter tallene."
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="F1F4F6")
DEMO_FILL = PatternFill("solid", fgColor="FFF3CD")
FORMAT_INT = "#,##0"
FORMAT_1 = "#,##0.0"
FORMAT_2 = "#,##0.00"
FORMAT_PCT = "0.0%"

# Norwegian headers of the mart columns (kostra export). A column not listed keeps its id.
HEADERS_NB = {
    "municipality_id": "Kommunenummer",
    "municipality_name": "Kommune",
    "region_code": "Regionkode (publisert)",
    "region_kind": "Regiontype",
    "year": "År",
    "indicator_id": "Indikator-id",
    "sector": "Sektor",
    "label_nb": "Indikator",
    "unit": "Enhet",
    "polarity": "Retning",
    "kind": "Type",
    "vintage": "Årgang",
    "value": "Verdi",
    "status": "Statussymbol",
    "comparable_across_break": "Sammenliknbar over kommunereform",
    "comparison_group": "Sammenlikningsgruppe",
    "asss_mean": "ASSS-snitt",
    "asss_min": "ASSS-min",
    "asss_max": "ASSS-maks",
    "asss_member_count": "Medlemmer med tall",
    "asss_members_expected": "Medlemmer",
    "index_asss": "Indeks (ASSS = 100)",
    "national_value": "Landet",
    "kostra_group": "KOSTRA-gruppe",
    "kostra_group_value": "KOSTRA-gruppens verdi",
    "comparator_id": "Sammenlikningskommune",
    "comparator_value": "Sammenlikningskommunens verdi",
    "comparator_index": "Sammenlikningskommunens indeks",
    "is_focus": "Fokuskommune",
    "is_asss_member": "ASSS-medlem",
    "is_extra_comparator": "Ekstra sammenlikningskommune",
    "group_mean": "Gruppesnitt",
    "group_min": "Gruppemin",
    "group_max": "Gruppemaks",
    "group_member_count": "Medlemmer med tall (gruppe)",
    "group_members_expected": "Medlemmer (gruppe)",
    "index_group": "Indeks (gruppesnitt = 100)",
    "is_group_member": "Medlem av gruppen",
    "deviation_pct": "Avvik fra gruppesnittet (prosent)",
    "quality_flag": "Kvalitetsflagg",
    "table_id": "SSB-tabell",
    "contents_code": "ContentsCode",
    "release_updated": "Publisert (updated)",
    "series_break": "Brudd i serien",
    "evidence_status": "Kodens status i katalogen",
    "value_1y_before": "Verdi året før",
    "change_1y_pct": "Endring siste år (prosent)",
    "value_3y_before": "Verdi tre år før",
    "change_3y_pct": "Endring siste tre år (prosent)",
    "production_index": "Produksjonsindeks (P)",
    "expenditure_index": "Ressursbruksindeks (U)",
    "efficiency_index": "Effektivitetsindeks (E)",
    "complete": "Fullstendig",
    "incomplete_reason": "Hvorfor ufullstendig",
    "weight": "Vekt",
    "contribution": "Bidrag",
    "contribution_share": "Andel av P",
    "grade": "Karakter",
    "rank": "Plass",
    "ranked_count": "Rangert",
    "severity": "Alvorlighet",
    "check": "Kontroll",
    "message": "Melding",
    "mean_unweighted": "Snitt (uvektet)",
    "mean_weighted": "Snitt (vektet)",
    "min_value": "Min",
    "max_value": "Maks",
    "member_count": "Medlemmer med tall",
    # The comparison group and the similarity group (issue 14).
    "group_members": "Medlemmer med tall (gruppe)",
    "members": "Medlemmer med tall",
    "reference_members": "Referansemedlemmer (P og U)",
    "role": "Rolle",
    "similarity_rank": "Likhetsrang",
    "similar_municipality_id": "Lignende kommune (nr.)",
    "similar_municipality_name": "Lignende kommune",
    "distance": "Strukturell avstand",
    "largest_contribution_variable_id": "Største bidrag (variabel)",
    "largest_contribution_share": "Største bidrag (andel av avstand²)",
    "variables_version": "Variabelversjon",
    "candidate_count": "Kandidater",
    "is_tied": "Lik avstand",
    "tie_note": "Merknad lik avstand",
    "is_on_current_borders": "På dagens grenser",
    "border_note": "Grensemerknad",
    "variable_id": "Variabel",
    "similar_value": "Verdi (lignende kommune)",
    "z_value": "Standardisert verdi",
    "similar_z_value": "Standardisert verdi (lignende kommune)",
    "squared_distance_part": "Bidrag til avstand²",
    "squared_distance_share": "Andel av avstand²",
}


def header_nb(column: str, labels: dict[str, str] | None = None) -> str:
    """A column's Norwegian header: an indicator's catalogue label, a known mart column, else the id."""
    if labels and column in labels:
        return labels[column]
    return HEADERS_NB.get(column, column)


def number_format(column: str, values: list) -> str | None:
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not nums:
        return None
    if (
        column in ("year", "rank", "ranked_count")
        or column.endswith("_count")
        or column.endswith("_expected")
    ):
        return "0"
    if all(float(v).is_integer() for v in nums):
        return FORMAT_INT
    big = max(abs(v) for v in nums)
    return FORMAT_INT if big >= 1000 else FORMAT_1 if big >= 10 else FORMAT_2


def add_sheet(wb: Workbook, title: str, headers: list[str], rows: list[list], *, demo: bool, formats=None):
    """A sheet with a frozen, bold header row (below the DEMO row when demo) and per-column number formats."""
    ws = wb.create_sheet(title[:31])
    top = 1
    if demo:
        ws.append([DEMO_NOTE])
        ws.cell(1, 1).font = Font(bold=True, color="7A5A00")
        ws.cell(1, 1).fill = DEMO_FILL
        top = 2
    ws.append(headers)
    for c in range(1, len(headers) + 1):
        cell = ws.cell(top, c)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        ws.append([_excel(v) for v in row])
    ws.freeze_panes = ws.cell(top + 1, 1)
    for i, h in enumerate(headers, start=1):
        col = [r[i - 1] for r in rows] if rows else []
        fmt = (formats or {}).get(h) or number_format("", col)
        if fmt:
            for r in range(top + 1, top + 1 + len(rows)):
                ws.cell(r, i).number_format = fmt
        width = max([len(str(h))] + [len(str(v)) for v in col[:200] if v is not None])
        ws.column_dimensions[get_column_letter(i)].width = max(8, min(60, width + 2))
    return ws


def _excel(v):
    if isinstance(v, (dict, list, tuple)):
        return str(v)
    if hasattr(v, "tzinfo") and getattr(v, "tzinfo", None) is not None:
        return v.replace(tzinfo=None)  # Excel has no time zones; the warehouse stores UTC
    return v


def report_workbook(ctx: dict, out: Path) -> Path:
    """The municipality report as a workbook: one sheet per section, then Kilder."""
    wb = Workbook()
    wb.remove(wb.active)
    demo = ctx["demo"]
    name = ctx["municipality"]["name"]
    group = ctx["group"]
    years = ctx["profile_years"]
    add_sheet(
        wb,
        "Hovedfunn",
        ["Sektor", "Funn", "Avvik fra snittet (prosent)", "Retning", "Bruk med varsomhet"],
        [
            [s["name"], f.sentence, f.deviation_pct, f.direction, f.caution or ""]
            for s in ctx["sectors"]
            for f in s["findings"]
        ],
        demo=demo,
        formats={"Avvik fra snittet (prosent)": FORMAT_1},
    )
    comp_names = [c["name"] for c in ctx["comparators"]]
    add_sheet(
        wb,
        "Tjenesteprofil",
        [
            "Sektor",
            "Indikator",
            "Enhet",
            *[f"{name} {y}" for y in years],
            f"{group}-snitt",
            "Min",
            "Maks",
            f"Indeks ({group} = 100)",
            *comp_names,
            "Merknad",
        ],
        [
            [
                s["name"],
                r["label"],
                r["unit"],
                *r["values"],
                r["mean"],
                r["min"],
                r["max"],
                r["index"],
                *r["comparator_values"],
                r["flag"] + ("; brudd i serien" if r["series_break"] else ""),
            ]
            for s in ctx["sectors"]
            for r in s["profile"]
        ],
        demo=demo,
    )
    add_sheet(
        wb,
        "Indekser",
        [
            "Sektor",
            "Kommune",
            "Produksjonsindeks (P)",
            "Ressursbruksindeks (U)",
            "Effektivitetsindeks (E)",
            "Medlem",
            "Kostnadsnøkkel",
            "Merknad",
        ],
        [
            [
                s["name"],
                r["name"],
                r["production_index"],
                r["expenditure_index"],
                r["efficiency_index"],
                "ja" if r["is_member"] else "nei",
                r["cost_key"],
                r["incomplete_reason"],
            ]
            for s in ctx["sectors"]
            for r in s["indices"]
        ],
        demo=demo,
        formats={
            h: FORMAT_1
            for h in ("Produksjonsindeks (P)", "Ressursbruksindeks (U)", "Effektivitetsindeks (E)")
        },
    )
    add_sheet(
        wb,
        "Bidrag til P",
        ["Sektor", "Indikator", "Vektgrunnlag", "Vekt", "Indeks", "Bidrag", "Andel av P"],
        [
            [s["name"], r["label"], r["basis"], r["weight"], r["index"], r["contribution"], r["share"]]
            for s in ctx["sectors"]
            for r in s["contributions"]
        ],
        demo=demo,
        formats={"Vekt": "0.000", "Indeks": FORMAT_1, "Bidrag": FORMAT_1, "Andel av P": FORMAT_PCT},
    )
    first = ctx["years"][0]
    add_sheet(
        wb,
        "Utvikling",
        [
            "Sektor",
            "Indikator",
            f"{name} {first}",
            f"{name} {ctx['year']}",
            "Endring (prosent)",
            f"{group}-snitt {first}",
            f"{group}-snitt {ctx['year']}",
            "Endring snitt (prosent)",
            "Sammenliknbar",
        ],
        [
            [
                s["name"],
                r["label"],
                r["value_first"],
                r["value_last"],
                r["change_pct"],
                r["mean_first"],
                r["mean_last"],
                r["mean_change_pct"],
                "" if r["comparable"] is None else "ja" if r["comparable"] else "nei",
            ]
            for s in ctx["sectors"]
            for r in s["trend"]
        ],
        demo=demo,
        formats={"Endring (prosent)": FORMAT_1, "Endring snitt (prosent)": FORMAT_1},
    )
    add_sheet(
        wb,
        "Kommunebarometer",
        [
            "Sektor",
            "Karakter (prosjektets etterlikning)",
            "Plass blant alle",
            "Rangert",
            f"Plass i {group}",
            f"Rangert i {group}",
            "Merknad",
        ],
        [
            [
                r["sector"],
                r["grade"],
                r["rank"],
                r["ranked_count"],
                r["member_rank"],
                r["member_count"],
                r["not_graded_reason"],
            ]
            for r in ctx["barometer"]
        ],
        demo=demo,
        formats={"Karakter (prosjektets etterlikning)": FORMAT_2},
    )
    add_sheet(
        wb,
        "Datakvalitet",
        ["Alvorlighet", "Kontroll", "År", "Årgang", "SSB-tabell", "ContentsCode", "Melding"],
        [
            [
                r["severity_nb"],
                r["check"],
                r["year"],
                r["vintage"],
                r["table_id"],
                r["contents_code"],
                r["message"],
            ]
            for r in ctx["quality"]["findings"]
        ],
        demo=demo,
        formats={"År": "0"},
    )
    add_sources_sheet(wb, ctx["sources"], demo=demo)
    wb.save(out)
    return out


def add_sources_sheet(wb: Workbook, sources: list[dict], *, demo: bool) -> None:
    add_sheet(
        wb,
        "Kilder",
        [
            "Indikator",
            "Indikator-id",
            "År",
            "SSB-tabell",
            "Tabelltittel",
            "ContentsCode",
            "Publisert (updated)",
            "Årgang",
            "Beregnet",
            "Kodens status i katalogen",
        ],
        [
            [
                r["label"],
                r["indicator_id"],
                r["years"],
                r["table_id"],
                r["table_title"],
                r["contents_code"],
                r["updated"],
                r["vintage"],
                "ja" if r["computed"] else "nei",
                r["evidence"],
            ]
            for r in sources
        ],
        demo=demo,
    )
