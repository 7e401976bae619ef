"""The HTML page the ASSS network reviews: one run's findings by sector and municipality, rendered with Jinja2.

Self-contained (inline CSS, no scripts, no external URL), so it opens offline and can be mailed as one file.
"""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pandas as pd

from pipeline.quality.config import Severity
from pipeline.reference import seeds

TEMPLATES = Path(__file__).parent / "templates"

SECTOR_NB = {
    "grunnskole": "Grunnskole",
    "barnehage": "Barnehage",
    "barnevern": "Barnevern",
    "pleie_omsorg": "Pleie og omsorg",
    "pleie_omsorg_0_66": "Pleie og omsorg 0–66 år",
    "pleie_omsorg_67_pluss": "Pleie og omsorg 67 år og over",
    "kommunehelse": "Kommunehelse",
    "sosiale_tjenester": "Sosiale tjenester",
    "befolkning": "Befolkning",
    "regnskap": "Regnskap",
    "annet": "Tverrgående kontroller",
}

# Why each check matters, in a sentence or two for the network's analysts.
EXPLANATIONS_NB = {
    "completeness_members": "Mangler et ASSS-medlem i en tabell, blir nettverkets snitt regnet uten kommunen, og "
    "alle indekser i profilen forskyves.",
    "completeness_table_landed": "En tabell i katalogen som aldri er lastet inn, gir tomme indikatorer; det kan "
    "være med vilje (én tabell lastet for analyse).",
    "region_code_valid_for_year": "Tall under en kommunekode utenfor gyldighetsperioden kan telle to ganger når "
    "seriene slås sammen over kommunereformer.",
    "landing_quarantined": "Et svar fra SSB som ikke kunne lastes inn, er satt til side (ikke slettet); tabellen "
    "mangler den publiseringen til den er hentet på nytt.",
    "status_value_not_null": "En celle med symbol (':' prikket, '..' mangler) skal være tom; et tall der blir "
    "ellers brukt som om det var publisert.",
    "status_share_missing": "Mangler en indikator i mange år for en kommune, blir tidsserien og "
    "sammenligningen tynn.",
    "iplos_hours_negative": "Negative timer er umulig og peker på feil i IPLOS-rapporteringen.",
    "iplos_users_without_hours": "Brukere uten registrerte timer gjør timer per bruker og fordelingen av "
    "utgifter på aldersgrupper misvisende (IPLOS-feil som i 2009).",
    "iplos_hours_per_user_implausible": "Flere timer enn uka har (168) er umulig; over 35,5 timer er KOSTRAs "
    "grense for høy timeinnsats og bør sjekkes.",
    "iplos_extensive_needs_hours": "Brukere med omfattende behov får rundt 31 timer i uka; er de samlede timene "
    "lavere enn det, mangler registreringer.",
    "iplos_users_le_population": "Flere brukere enn innbyggere i aldersgruppen er umulig.",
    "iplos_year_end_le_during_year": "Brukere per 31.12. er en del av brukerne i løpet av året og kan ikke være "
    "flere.",
    "iplos_resource_share_by_age": "ASSS fordeler utgiftene på funksjon 254 etter aldersgruppenes andel av "
    "timene; er timeandelen langt fra brukerandelen, blir utgift per innbygger skjev.",
    "hidiroglou_berthelot_outlier": "SSBs kontroll av endring fra året før (Hidiroglou–Berthelot) innen "
    "KOSTRA-gruppen: store endringer i store kommuner er mistenkelige og kan være brudd i serien.",
    "relative_change": "Et tall som mer enn dobles eller halveres på ett år, er oftere en registreringsfeil "
    "enn en reell endring.",
    "values_identical_to_previous_year": "SSB kopierer fjorårets tall når en kommune ikke rapporterer "
    "(IPLOS 2019); da viser tallene ingen reell utvikling.",
    "series_break": "En kommunereform endret kommunens grenser dette året (f.eks. Stavanger med Finnøy og "
    "Rennesøy i 2020); endringene fra året før er et brudd i serien, ikke en utvikling, og testes ikke år mot år.",
    "large_revision": "Profilen bygges først på marstall; en stor revisjon til juni endrer konklusjonene.",
    "status_changed_between_vintages": "Et tall som forsvinner eller dukker opp mellom mars og juni, endrer "
    "hvem som er med i snittet.",
    "net_le_gross": "Netto driftsutgifter kan ikke være høyere enn brutto (inntektene er ikke negative); KS har "
    "utsatt ressursindikatoren for slike balansefeil.",
    "function_total_equals_sum": "En funksjonsgruppe skal være summen av sine funksjoner; ellers gir to "
    "veier til samme utgift ulike svar.",
    "denominator_zero": "Med nevner 0 kan nøkkeltallet ikke beregnes, og kommunen faller ut av snittet.",
}
GX_EXPLANATION_NB = "Kontrakt i Great Expectations-suiten: datastrukturen er ikke som forventet."

SEVERITY_NB = {"FATAL": "Fatal", "ERROR": "Feil", "WARNING": "Advarsel", "INFO": "Info"}


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _region_name(code: str | None, year) -> str:
    if not isinstance(code, str):
        return "Hele tabellen / landet"
    try:
        name = seeds.name_in(code, int(year)) if year is not None and not pd.isna(year) else None
    except Exception:  # an unknown code is itself a finding; show the code
        name = None
    return f"{name} ({code})" if name else code


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "–"
    if isinstance(v, float):
        return (
            f"{v:,.2f}".replace(",", " ").replace(".", ",")
            if abs(v) < 1000
            else f"{v:,.0f}".replace(",", " ")
        )
    return str(v)


def _text(v) -> str:
    # pandas gives NaN for a missing text cell, and NaN is truthy: "x or ''" would print "nan".
    return "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)


def context(
    findings: pd.DataFrame,
    *,
    run_id: str,
    demo: bool,
    gx_expectations: pd.DataFrame | None = None,
    seconds: float | None = None,
    detail_min_severity: str = "WARNING",
    scope=None,
) -> dict:
    """The template's data: counts, GX results, and findings grouped by sector and municipality."""
    min_sev = Severity[detail_min_severity]
    counts = {s.name: int((findings["severity"] == s.name).sum()) for s in sorted(Severity, reverse=True)}
    detail = findings[findings["severity"].map(lambda s: Severity[s] >= min_sev)]
    hidden = findings[findings["severity"].map(lambda s: Severity[s] < min_sev)]
    sectors = []
    for sector, sdf in detail.groupby("sector", sort=True, dropna=False):
        munis = []
        # A sector whose findings all lack a region has region_code as float (all NaN): as text first.
        for mid, mdf in sdf.groupby(sdf["region_code"].astype("string").fillna(""), sort=True):
            first = mdf.iloc[0]
            rows = []
            for r in mdf.itertuples():
                cells = json.loads(r.cells) if isinstance(r.cells, str) and r.cells else {}
                rows.append(
                    {
                        "severity": r.severity,
                        "severity_nb": SEVERITY_NB[r.severity],
                        "check": r.check,
                        "table_id": _text(r.table_id),
                        "contents_code": _text(r.contents_code),
                        "indicator_id": _text(r.indicator_id),
                        "year": "" if pd.isna(r.year) else int(r.year),
                        "vintage": _text(r.vintage),
                        "observed": _fmt(r.observed),
                        "expected": _text(r.expected),
                        "message": r.message,
                        "cells": [(k, _fmt(v)) for k, v in cells.items()],
                    }
                )
            munis.append(
                {
                    "name": _region_name(mid or None, first["year"]),
                    "worst": max((Severity[x] for x in mdf["severity"]), default=Severity.INFO).name,
                    "rows": rows,
                }
            )
        munis.sort(key=lambda m: (-Severity[m["worst"]], m["name"]))
        sectors.append(
            {
                "key": sector,
                "name": SECTOR_NB.get(sector, sector),
                "count": len(sdf),
                "worst": max(Severity[x] for x in sdf["severity"]).name,
                "municipalities": munis,
            }
        )
    sectors.sort(key=lambda s: (-Severity[s["worst"]], s["name"]))
    checks_seen = sorted(set(findings["check"]))
    explanations = [
        (c, EXPLANATIONS_NB.get(c, GX_EXPLANATION_NB if c.startswith("gx:") else "")) for c in checks_seen
    ]
    by_check = (
        findings.groupby(["check", "severity"])
        .size()
        .reset_index(name="n")
        .sort_values(["check", "severity"])
        if not findings.empty
        else pd.DataFrame(columns=["check", "severity", "n"])
    )
    hidden_by_check = hidden.groupby("check").size().to_dict() if not hidden.empty else {}
    gx_rows = gx_expectations.to_dict("records") if gx_expectations is not None else []
    return {
        "run_id": run_id,
        "demo": demo,
        "counts": counts,
        "total": len(findings),
        "blocked": counts["FATAL"] > 0,
        "sectors": sectors,
        "explanations": explanations,
        "by_check": by_check.to_dict("records"),
        "hidden_by_check": hidden_by_check,
        "detail_min_severity_nb": SEVERITY_NB[detail_min_severity].lower(),
        "gx": gx_rows,
        "seconds": seconds,
        "scope": _scope(scope),
    }


def _scope(scope) -> dict | None:
    """The members-only report's line: whose findings it shows and how many it left out (run.MembersScope)."""
    if scope is None:
        return None
    code = scope.group.removeprefix("EKG")
    group = (
        "ASSS-nettverket"
        if scope.group == "ASSS"
        else f"KOSTRA-gruppe {int(code) if code.isdigit() else code}"
    )
    years = f"{scope.years[0]}–{scope.years[-1]}" if len(scope.years) > 1 else "".join(map(str, scope.years))
    return {
        "group": group,
        "count": len(scope.members),
        "members": ", ".join(scope.members),
        "years": years,
        "left_out": f"{scope.left_out:,}".replace(",", "\u202f"),
    }


def render(ctx: dict) -> str:
    return _env().get_template("report.html.j2").render(**ctx)


def write_report(out_dir: Path, findings: pd.DataFrame, **kwargs) -> Path:
    """Write ``index.html`` (the report) to ``out_dir``; returns its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(render(context(findings, **kwargs)), encoding="utf-8")
    return path


def publish_latest(runs_dir: Path) -> Path:
    """Copy the newest run's report folder to ``runs_dir/latest`` atomically: a stable place for the network.

    The copy is assembled under a temporary name and swapped in with renames, so a reader of ``latest/`` sees
    the old report or the new one, never a mix.
    """
    import shutil
    import tempfile

    runs = [
        p for p in runs_dir.glob("*") if p.is_dir() and p.name != "latest" and (p / "index.html").exists()
    ]
    if not runs:
        raise FileNotFoundError(
            f"no data-quality report under {runs_dir}: run `kostra build` or `kostra quality`"
        )
    newest = max(runs, key=lambda p: (p / "index.html").stat().st_mtime)
    staging = Path(tempfile.mkdtemp(dir=runs_dir, prefix=".latest-"))
    shutil.copytree(newest, staging / "report")
    latest = runs_dir / "latest"
    old = runs_dir / f".latest-old-{staging.name}"
    if latest.exists():
        latest.rename(old)
    (staging / "report").rename(latest)
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    return latest
