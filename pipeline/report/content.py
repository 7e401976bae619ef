"""What the KOSTRA report says: its sections as plain data, assembled from the marts (via pipeline.report.marts).

One function per section; :func:`municipality_report` puts them together in the seed report's order
(Hovedfunn, Tjenesteprofil, Indekser, Utvikling, Kommunebarometer, Datakvalitet, Kilder), and
:func:`network_overview` builds the coordinator's view. Rendering (HTML, PDF, xlsx) is elsewhere; every
format shows the same data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from pipeline.report import findings as fnd
from pipeline.report import numbers_nb as nb
from pipeline.report.marts import Marts, ReportDataError


@dataclass(frozen=True)
class Sector:
    key: str  # the index sector (marts.sector_indices)
    name: str
    profile_sectors: tuple[str, ...]  # service_profile sectors shown under it
    barometer_sector: str


SECTORS = (
    Sector("grunnskole", "Grunnskole", ("grunnskole",), "grunnskole"),
    Sector("barnehage", "Barnehage", ("barnehage",), "barnehage"),
    Sector("barnevern", "Barnevern", ("barnevern",), "barnevern"),
    # ASSS reports pleie og omsorg per age group; P, U and E are indexed per age group too (issue 12).
    Sector("pleie_omsorg_0_66", "Pleie og omsorg 0–66 år", ("pleie_omsorg_0_66",), "pleie_omsorg"),
    Sector(
        "pleie_omsorg_67_pluss", "Pleie og omsorg 67 år og over", ("pleie_omsorg_67_pluss",), "pleie_omsorg"
    ),
    Sector("kommunehelse", "Kommunehelse", ("kommunehelse",), "helse"),
    Sector("sosiale_tjenester", "Sosiale tjenester", ("sosiale_tjenester",), "sosial"),
)
VINTAGE_NB = {"unrevised": "urevidert (mars)", "revised": "revidert (juni)"}
SEVERITY_NB = {"FATAL": "Fatal", "ERROR": "Feil", "WARNING": "Advarsel", "INFO": "Info"}
FLAG_NB = {"ok": "", "use_with_care": "bruk med varsomhet", "unreliable": "usikkert tall"}
WEIGHT_BASIS_NB = {
    "published": "publisert (ASSS)",
    "cost_share": "kostnadsandel (forslag)",
    "proposed": "forslag",
}
PROFILE_YEARS = 3  # the profile's table: the municipality's last three years
TREND_SPAN = 3  # Utvikling: the change over three years, as the network reports it
TREND_CHART_MAX = 6


@dataclass
class Request:
    municipality: str
    year: int | None = None
    vintage: str | None = None
    comparators: tuple[str, ...] = ()
    generated_at: datetime = field(default_factory=datetime.now)
    # The comparison group asked for (--group, any form of pipeline.config.normalise_comparison_group);
    # None: the one the warehouse was built against.
    group: str | None = None


def _ok(v) -> bool:
    """A value, not a gap: None, NaN and pandas' NA/NaT (a nullable integer column such as barometer.rank
    reads as NA where it is NULL) are gaps."""
    if v is None:
        return False
    try:
        return not bool(pd.isna(v))
    except (TypeError, ValueError):  # not a scalar
        return True


def _val(v):
    return v if _ok(v) else None


def group_label(group: str) -> str:
    """The group's short name in headings (``<name>-snitt``)."""
    if group.upper() == "ASSS":
        return "ASSS"
    if group.startswith("similar:"):
        return "Lignende"
    if group.startswith("list:"):
        return "Utvalg"
    return group.rsplit(":", 1)[-1]


def network_name(group: str) -> str:
    """The network overview's name for the group: "ASSS-nettverket", "lignende kommuner", ..."""
    from pipeline.config import comparison_group_label_nb

    if group.upper() == "ASSS" or group.startswith("EKG"):
        return f"{group_label(group)}-nettverket"
    return comparison_group_label_nb(group)


def group_words(group: str, centre_name: str, k: int) -> dict:
    """How the report names the group: in the lead sentence, in headings and beside ranks."""
    short = group_label(group)
    if group.upper() == "ASSS":
        with_ = "ASSS-kommunene"
    elif group.startswith("similar:"):
        with_ = (
            f"de {k} kommunene som likner mest på {centre_name} i struktur (lignende kommuner: innbyggertall, "
            "alderssammensetning og frie inntekter per innbygger)"
        )
    elif group.startswith("list:"):
        with_ = "de valgte kommunene"
    elif group.startswith("kostra:"):
        _, grouping, code = group.split(":")
        with_ = f"kommunene i KOSTRA-gruppe {code} (inndelingen fra {grouping})"
    else:
        with_ = f"kommunene i KOSTRA-gruppe {group}"
    return {"group": short, "group_with": with_}


def resolve_group(marts: Marts, requested: str | None, municipality: str) -> str:
    """The warehouse's comparison group, checked against --group: the marts hold one group's statistics
    (the build's), so another group is one line saying how to build for it, never a silent substitute."""
    from pipeline.config import comparison_group_label_nb, normalise_comparison_group

    built = marts.comparison_group()
    if requested is None:
        return built
    try:
        wanted = normalise_comparison_group(requested, municipality)
    except ValueError as exc:
        raise ReportDataError(f"--group: {exc}") from None
    if wanted != built:
        raise ReportDataError(
            f"--group {requested}: the published warehouse is built against {built} "
            f"({comparison_group_label_nb(built)}), not {wanted}; build it for that group with "
            f"KOSTRA_COMPARISON_GROUP={wanted} kostra build (or kostra build --group {wanted})"
        )
    return built


def choose_year(marts: Marts, municipality: str, year: int | None, vintage: str | None) -> tuple[int, str]:
    """The report's year and the vintage of its figures; a year or vintage the warehouse lacks is one error."""
    df = marts.sql(
        "select year, bool_or(vintage = 'unrevised') as any_unrevised from marts.service_profile "
        "where municipality_id = ? and value is not null group by year order by year",
        [municipality],
    )
    if df.empty:
        raise ReportDataError(f"--municipality {municipality}: no figures in marts.service_profile")
    vint = {
        int(y): ("unrevised" if u else "revised")
        for y, u in zip(df["year"], df["any_unrevised"], strict=True)
    }
    if year is not None:
        if year not in vint:
            raise ReportDataError(
                f"--year {year}: marts.service_profile has {min(vint)}–{max(vint)} for {municipality}"
            )
        if vintage and vint[year] != vintage:
            raise ReportDataError(
                f"--vintage {vintage}: the warehouse holds the {VINTAGE_NB[vint[year]]} figures for {year} "
                "(one value per year: the newest release)"
            )
        return year, vint[year]
    candidates = [y for y, v in vint.items() if vintage is None or v == vintage]
    if not candidates:
        raise ReportDataError(
            f"--vintage {vintage}: no year of {municipality} has {VINTAGE_NB[vintage]} figures"
        )
    y = max(candidates)
    return y, vint[y]


def municipality_report(marts: Marts, req: Request, default_comparators: tuple[str, ...] = ()) -> dict:
    mid = req.municipality
    if not marts.known_municipality(mid):
        raise ReportDataError(f"--municipality {mid}: no rows in marts.service_profile for that code")
    year, vintage = choose_year(marts, mid, req.year, req.vintage)
    names = marts.municipality_names()
    group = resolve_group(marts, req.group, mid)
    member_rows = marts.group_members(year)
    members = member_rows["municipality_id"].tolist()
    comparators = [c for c in (req.comparators or default_comparators) if c != mid]
    for c in comparators:
        if not marts.known_municipality(c) and req.comparators:
            raise ReportDataError(f"--comparator {c}: no rows in marts.service_profile for that code")
    # A default comparator (KOSTRA_COMPARATORS) the warehouse has no rows for (a home of a few regions, as
    # the build's own report meets) is left out rather than failing the report.
    comparators = [c for c in comparators if req.comparators or marts.known_municipality(c)]
    years = [y for y in marts.years() if year - TREND_SPAN <= y <= year]
    profile_years = [y for y in years if y > year - PROFILE_YEARS]
    prof = marts.profile([mid, *comparators], years)
    weights_df = marts.contributions([mid], year)
    weights = dict(zip(weights_df["indicator_id"], weights_df["weight"].astype(float), strict=True))
    trend = marts.trend(mid, year)
    breaks = {
        r.indicator_id: r.series_break_reason
        for r in trend.itertuples()
        if isinstance(r.series_break_reason, str) and r.series_break_reason
    }
    idx = marts.indices(sorted({*members, mid, *comparators}), years)
    contributions = marts.contributions([mid], year)

    ctx = {
        "kind": "municipality",
        "municipality": {"id": mid, "name": names.get(mid, mid)},
        "title": f"KOSTRA-rapport {year}: {names.get(mid, mid)}",
        "year": year,
        "years": years,
        "profile_years": profile_years,
        "vintage": vintage,
        "vintage_nb": VINTAGE_NB[vintage],
        **group_words(group, names.get(mid, mid), max(len(members) - 1, 0)),
        "comparison_group": group,
        "group_long": fnd.group_phrase(group)[0],
        "comparators": [{"id": c, "name": names.get(c, c)} for c in comparators],
        "members": [
            {
                "id": r.municipality_id,
                "name": names.get(r.municipality_id, r.municipality_id),
                "rank": int(r.similarity_rank) if _ok(r.similarity_rank) else None,
                "distance": _val(r.distance),
            }
            for r in member_rows.itertuples()
        ],
        "is_member": mid in members,
        "demo": marts.is_demo(),
        "generated_at": req.generated_at.strftime("%d.%m.%Y %H:%M"),
        "sectors": [],
    }
    focus_year = prof[(prof["municipality_id"] == mid) & (prof["year"] == year)]
    for sector in SECTORS:
        srows = focus_year[focus_year["sector"].isin(sector.profile_sectors)]
        sidx = idx[(idx["sector"] == sector.key) & (idx["year"] == year)]
        own = sidx[sidx["municipality_id"] == mid]
        p = _val(own["production_index"].iloc[0]) if not own.empty else None
        p_caution = fnd.caution_of(own["quality_flag"].iloc[0], None) if not own.empty else None
        found = fnd.sector_findings(
            srows,
            sector_key=sector.key,
            group=group,
            weights=weights,
            breaks=breaks,
            production_index=p,
            sector_nb=sector.name,
            index_caution=p_caution,
        )
        ctx["sectors"].append(
            {
                "key": sector.key,
                "name": sector.name,
                "findings": found,
                "profile": _profile_rows(prof, mid, comparators, sector, year, profile_years, breaks),
                "indices": _index_rows(sidx, mid, members, comparators, names),
                "contributions": _contribution_rows(contributions[contributions["sector"] == sector.key]),
                "trend": _trend_rows(prof, mid, sector, years, year, trend),
            }
        )
    ctx["index_notes"] = _index_notes(idx, contributions)
    ctx["barometer"] = barometer_rows(marts, mid, year, members)
    ctx["quality"] = quality_section(marts, mid, year, years)
    ctx["sources"] = source_rows(
        marts, mid, years, set(prof["indicator_id"]) | set(contributions["indicator_id"])
    )
    return ctx


def _profile_rows(prof, mid, comparators, sector, year, profile_years, breaks) -> list[dict]:
    mine = prof[(prof["municipality_id"] == mid) & prof["sector"].isin(sector.profile_sectors)]
    now = mine[mine["year"] == year].sort_values(["sector", "indicator_id"])
    rows = []
    for r in now.itertuples():
        by_year = {
            int(y): v for y, v in mine[mine["indicator_id"] == r.indicator_id][["year", "value"]].values
        }
        mean = _val(r.group_mean)
        comp_values = []
        for c in comparators:
            cv = prof[
                (prof["municipality_id"] == c)
                & (prof["indicator_id"] == r.indicator_id)
                & (prof["year"] == year)
            ]
            comp_values.append(_val(cv["value"].iloc[0]) if not cv.empty else None)
        index = lambda v, m=mean: 100 * v / m if _ok(v) and _ok(m) and m else None  # noqa: E731
        rows.append(
            {
                "indicator_id": r.indicator_id,
                "label": r.label_nb,
                "unit": r.unit or "",
                "polarity": r.polarity,
                "values": [_val(by_year.get(y)) for y in profile_years],
                "value": _val(r.value),
                "mean": mean,
                "min": _val(r.group_min),
                "max": _val(r.group_max),
                "index": _val(r.index_group),
                "index_min": index(_val(r.group_min)),
                "index_max": index(_val(r.group_max)),
                "comparator_values": comp_values,
                "comparator_index": index(comp_values[0]) if comp_values else None,
                "flag": FLAG_NB.get(r.quality_flag, r.quality_flag),
                "series_break": breaks.get(r.indicator_id),
                "vintage": r.vintage,
            }
        )
    return rows


def _index_rows(sidx, mid, members, comparators, names) -> list[dict]:
    shown = sidx[sidx["municipality_id"].isin({*members, mid, *comparators})]
    rows = []
    for r in shown.sort_values("municipality_id").itertuples():
        rows.append(
            {
                "municipality_id": r.municipality_id,
                "name": names.get(r.municipality_id, r.municipality_id),
                "production_index": _val(r.production_index),
                "expenditure_index": _val(r.expenditure_index),
                "efficiency_index": _val(r.efficiency_index),
                "complete": bool(r.complete),
                "incomplete_reason": r.incomplete_reason if isinstance(r.incomplete_reason, str) else "",
                "is_focus": r.municipality_id == mid,
                "is_member": r.municipality_id in members,
                "flag": FLAG_NB.get(r.quality_flag, r.quality_flag),
                "cost_key": _cost_key_label(r),
            }
        )
    rows.sort(key=lambda r: (-(r["efficiency_index"] or -1e9), r["name"]))
    return rows


def _contribution_rows(c: pd.DataFrame) -> list[dict]:
    return [
        {
            "label": r.label_nb,
            "weight": _val(r.weight),
            "basis": WEIGHT_BASIS_NB.get(r.weight_basis, r.weight_basis),
            "inverted": r.polarity == "lower_better",
            "index": _val(r.indicator_index),
            "contribution": _val(r.contribution),
            "share": _val(r.contribution_share),
            "flag": FLAG_NB.get(r.quality_flag, r.quality_flag),
        }
        for r in c.sort_values("weight", ascending=False).itertuples()
    ]


def _is_demo_key(is_demo, source) -> bool:
    """A synthetic cost key: the mart's cost_key_is_demo, or (a warehouse without it) a source saying DEMO."""
    if isinstance(is_demo, bool) or (is_demo is not None and _ok(is_demo)):
        return bool(is_demo)
    return isinstance(source, str) and "DEMO" in source.upper()


def _cost_key_label(r) -> str:
    """The cost key behind a row's U: DEMO, Grønt hefte <year>, or empty when the row has none."""
    if not isinstance(r.cost_key_source, str):
        return ""
    if _is_demo_key(r.cost_key_is_demo, r.cost_key_source):
        return "DEMO"
    year = _val(r.cost_key_gronthefte_year)
    return f"Grønt hefte {int(year)}" if year is not None else "kostnadsnøkkel"


def _index_notes(idx: pd.DataFrame, contributions: pd.DataFrame) -> dict:
    sources = sorted({s for s in idx["cost_key_source"].dropna()})
    bases = sorted({b for b in contributions["weight_basis"].dropna()})
    keyed = [r for r in idx.itertuples() if isinstance(r.cost_key_source, str)]
    real_years = sorted(
        {int(r.year) for r in keyed if not _is_demo_key(r.cost_key_is_demo, r.cost_key_source)}
    )
    return {
        "cost_key_demo": any(_is_demo_key(r.cost_key_is_demo, r.cost_key_source) for r in keyed),
        "cost_key_real_years": real_years,
        "cost_key_sources": sources,
        "weight_bases": [WEIGHT_BASIS_NB.get(b, b) for b in bases],
        "weights_proposed": any(b != "published" for b in bases),
        "weights_versions": sorted({v for v in idx["weights_version"].dropna()}),
    }


def _trend_rows(prof, mid, sector, years, year, trend) -> list[dict]:
    mine = prof[(prof["municipality_id"] == mid) & prof["sector"].isin(sector.profile_sectors)]
    first = min(years)
    comparable = dict(zip(trend["indicator_id"], trend["is_comparable_3y"], strict=True))
    rows = []
    for ind, g in mine.groupby("indicator_id", sort=True):
        g = g.sort_values("year")
        label = g["label_nb"].iloc[-1]
        start, end = g[g["year"] == first], g[g["year"] == year]
        v0 = _val(start["value"].iloc[0]) if not start.empty else None
        v1 = _val(end["value"].iloc[0]) if not end.empty else None
        m0 = _val(start["group_mean"].iloc[0]) if not start.empty else None
        m1 = _val(end["group_mean"].iloc[0]) if not end.empty else None
        change = lambda a, b: 100 * (b - a) / abs(a) if _ok(a) and _ok(b) and a else None  # noqa: E731
        rows.append(
            {
                "indicator_id": ind,
                "label": label,
                "unit": g["unit"].iloc[-1] or "",
                "years": [int(y) for y in g["year"]],
                "values": [_val(v) for v in g["value"]],
                "means": [_val(v) for v in g["group_mean"]],
                "first_year": first,
                "value_first": v0,
                "value_last": v1,
                "change_pct": change(v0, v1),
                "mean_first": m0,
                "mean_last": m1,
                "mean_change_pct": change(m0, m1),
                # Only the three-year comparison of indicator_trend says whether the change is real.
                "comparable": bool(comparable.get(ind, False)) if first == year - TREND_SPAN else None,
            }
        )
    return rows


def barometer_rows(marts: Marts, mid: str, year: int, members: list[str]) -> list[dict]:
    bar = marts.barometer(year)
    bar = bar[bar["is_graded"].fillna(False).astype(bool)]
    out = []
    mine = marts.barometer(year)
    mine = mine[mine["municipality_id"] == mid]
    order = {s.barometer_sector: i for i, s in enumerate(SECTORS)}
    for r in mine.itertuples():
        level = bar[
            (bar["grade_level"] == r.grade_level)
            & (bar["barometer_sector"].fillna("") == (r.barometer_sector or ""))
        ]
        among = level[level["municipality_id"].isin(members)]
        member_rank = None
        if _ok(r.grade) and mid in set(among["municipality_id"]):
            member_rank = int((among["grade"] > r.grade + 1e-9).sum() + 1)
        out.append(
            {
                "sector": r.label_nb if r.grade_level == "sector" else "Totalt",
                "overall": r.grade_level == "overall",
                "grade": _val(r.grade),
                "rank": int(r.rank) if _ok(r.rank) else None,
                "ranked_count": int(r.ranked_count) if _ok(r.ranked_count) else None,
                "member_rank": member_rank,
                "member_count": len(among),
                "not_graded_reason": r.not_graded_reason if isinstance(r.not_graded_reason, str) else "",
                "_order": (
                    1 if r.grade_level == "overall" else 0,
                    order.get(r.barometer_sector, 99),
                    r.label_nb,
                ),
            }
        )
    out.sort(key=lambda r: r.pop("_order"))
    return out


def quality_section(marts: Marts, mid: str, year: int, years: list[int]) -> dict:
    f = marts.findings([mid], years)
    detail = f[f["severity"].isin(["FATAL", "ERROR", "WARNING"])].sort_values(
        ["year", "severity"], ascending=[False, True]
    )
    counts = {s: int((f["severity"] == s).sum()) for s in ("FATAL", "ERROR", "WARNING", "INFO")}
    vals = marts.values(mid, [y for y in years if y >= year - 1])
    vintages = (
        vals[vals["value"].notna()]
        .groupby(["year", "vintage"])
        .size()
        .reset_index(name="n")
        .to_dict("records")
    )
    rev = marts.revisions(mid, year)
    if not rev.empty:
        rev = rev.assign(abs_change=rev["change_pct"].abs()).sort_values(
            "abs_change", ascending=False, na_position="last"
        )
    return {
        "counts": counts,
        "findings": [
            {
                "severity": r.severity,
                "severity_nb": SEVERITY_NB.get(r.severity, r.severity),
                "check": r.check,
                "year": int(r.year) if _ok(r.year) else "",
                "vintage": VINTAGE_NB.get(r.vintage, "") if isinstance(r.vintage, str) else "",
                "table_id": r.table_id or "",
                "contents_code": r.contents_code or "",
                "message": r.message,
            }
            for r in detail.itertuples()
        ],
        "vintages": [
            {"year": int(v["year"]), "vintage": VINTAGE_NB.get(v["vintage"], v["vintage"]), "n": int(v["n"])}
            for v in vintages
        ],
        "revisions_total": len(rev),
        "revisions": [
            {
                "table_id": r.table_id,
                "contents_code": r.contents_code,
                "unrevised": _val(r.unrevised_value),
                "revised": _val(r.revised_value),
                "change_pct": _val(r.change_pct),
            }
            for r in rev.head(15).itertuples()
        ],
    }


def source_rows(marts: Marts, mid: str, years: list[int], indicators: set[str]) -> list[dict]:
    vals = marts.values(mid, years)
    vals = vals[vals["indicator_id"].isin(indicators)]
    titles = marts.table_titles()
    rows = []
    keys = [
        "indicator_id",
        "label_nb",
        "table_id",
        "contents_code",
        "release_updated",
        "vintage",
        "value_source",
        "evidence_status",
    ]
    for k, g in vals.groupby(keys, dropna=False, sort=True):
        rec = dict(zip(keys, k, strict=True))
        upd = rec["release_updated"]
        rows.append(
            {
                "label": rec["label_nb"],
                "indicator_id": rec["indicator_id"],
                "years": ", ".join(str(int(y)) for y in sorted(g["year"])),
                "table_id": rec["table_id"] or "",
                "table_title": titles.get(rec["table_id"], ""),
                "contents_code": rec["contents_code"] or "",
                "updated": pd.Timestamp(upd).strftime("%d.%m.%Y %H:%M")
                if _ok(upd) and not pd.isna(upd)
                else "",
                "vintage": VINTAGE_NB.get(rec["vintage"], rec["vintage"]),
                "computed": rec["value_source"] not in ("published", None),
                "evidence": rec["evidence_status"] or "",
            }
        )
    rows.sort(key=lambda r: (r["label"], r["years"]))
    return rows


def network_overview(
    marts: Marts, year: int | None = None, generated_at: datetime | None = None, group: str | None = None
) -> dict:
    years = marts.years()
    if not years:
        raise ReportDataError("marts.service_profile has no figures")
    if year is None:
        year = max(years)
    elif year not in years:
        raise ReportDataError(f"--year {year}: marts.service_profile has {min(years)}–{max(years)}")
    names = marts.municipality_names()
    group = resolve_group(marts, group, marts.focus() or "")
    members = marts.group_members(year)["municipality_id"].tolist()
    if not members:
        raise ReportDataError(f"--year {year}: the comparison group {group} has no members that year")
    prof = marts.profile(members, [year])
    idx = marts.indices(members, [year])
    f = marts.findings(members, [year])
    ctx = {
        "kind": "network",
        "title": f"KOSTRA {year}: {network_name(group)} sektor for sektor",
        "year": year,
        "group": group_label(group),
        "members": [{"id": m, "name": names.get(m, m)} for m in members],
        "demo": marts.is_demo(),
        "generated_at": (generated_at or datetime.now()).strftime("%d.%m.%Y %H:%M"),
        "sectors": [],
    }
    for sector in SECTORS:
        sp = prof[prof["sector"].isin(sector.profile_sectors)]
        indicators = []
        for _ind, g in sp.groupby("indicator_id", sort=True):
            by = dict(zip(g["municipality_id"], g["index_group"], strict=True))
            first = g.iloc[0]
            indicators.append(
                {
                    "label": first["label_nb"],
                    "polarity": first["polarity"],
                    "mean": _val(first["group_mean"]),
                    "unit": first["unit"] or "",
                    "cells": [_val(by.get(m)) for m in members],
                }
            )
        sidx = idx[idx["sector"] == sector.key]
        sf = f[f["sector"].isin([*sector.profile_sectors, sector.key])]
        ctx["sectors"].append(
            {
                "key": sector.key,
                "name": sector.name,
                "indicators": indicators,
                "indices": _index_rows(sidx, "", members, [], names),
                "findings": [
                    {
                        "severity": r.severity,
                        "severity_nb": SEVERITY_NB.get(r.severity, r.severity),
                        "municipality": names.get(r.municipality_id, r.municipality_id),
                        "check": r.check,
                        "message": r.message,
                    }
                    for r in sf[sf["severity"].isin(["FATAL", "ERROR", "WARNING"])].itertuples()
                ],
                "info_count": int((sf["severity"] == "INFO").sum()),
            }
        )
    return ctx


def fmt_cell(v, unit: str = "") -> str:
    """A table cell: Norwegian number; percentages with one decimal."""
    return nb.number(v, 1) if unit == "prosent" else nb.auto(v)
