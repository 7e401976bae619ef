"""The data-quality checks: each a pure function of the workspace (see ``workspace``) and the config.

A check returns a DataFrame of findings (columns of ``FINDING_COLUMNS``; missing ones are filled in by
:func:`run_checks`). Check names are stable identifiers: the demo's ``anomalies.json`` names the check that
must find each planted error (``expected_check``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import duckdb
import numpy as np
import pandas as pd

from pipeline.quality.config import (
    IPLOS_INDICATORS,
    IPLOS_MEASURE_INDICATORS,
    QualityConfig,
    Severity,
)
from pipeline.quality.hb import hb_frame
from pipeline.quality.workspace import dimension_key_sql, has_relation
from pipeline.reference import seeds
from pipeline.report import numbers_nb as nb


def _g(v) -> str:
    """A number in a Norwegian message, as many digits as it has (like ``:g``), with a decimal comma."""
    v = float(v)
    if v.is_integer() or abs(v) >= 10_000:  # ":g" would write 1.23457e+06
        return nb.number(v, 0)
    return f"{v:g}".replace(".", ",").replace("-", nb.MINUS)


def _pct(share) -> str:
    """A share 0.37 in a Norwegian message: ``37 %``."""
    return f"{nb.number(100 * float(share), 0)} %"


FINDING_COLUMNS = [
    "run_id",
    "check",
    "severity",
    "sector",
    "table_id",
    "contents_code",
    "indicator_id",
    "region_code",
    "municipality_id",
    "year",
    "vintage",
    "observed",
    "expected",
    "message",
    "cells",
]

Check = Callable[[duckdb.DuckDBPyConnection, QualityConfig], pd.DataFrame]


@dataclass(frozen=True)
class CheckSpec:
    name: str
    group: str
    func: Check


CHECKS: dict[str, CheckSpec] = {}


def check(name: str, group: str):
    def register(func: Check) -> Check:
        CHECKS[name] = CheckSpec(name, group, func)
        return func

    return register


def _cells_json(pairs: list[tuple[str, object]]) -> str:
    """The cells behind a finding, as label → value, for the report."""
    out = {}
    for label, value in pairs:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            out[label] = None
        elif isinstance(value, (float, np.floating)):
            out[label] = round(float(value), 3)
        else:
            out[label] = value
    return json.dumps(out, ensure_ascii=False)


def _frame(rows: list[dict]) -> pd.DataFrame:
    # _alder and _funksjon are helpers for filing a finding under its sector; finalize() drops them.
    return pd.DataFrame(rows, columns=[c for c in FINDING_COLUMNS if c != "run_id"] + ["_alder", "_funksjon"])


def _q(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


MUNICIPALITY = "regexp_full_match(region_code, '[0-9]{4}')"
# The cell key of dbt's staging (macro dimension_key), for the checks that read raw cells.
DIMENSION_KEY = dimension_key_sql()

# ---------------------------------------------------------------- completeness and structure


def expected_regions(years: list[int]) -> pd.DataFrame:
    """Every code an ASSS member or comparator was published under in each year, with its role."""
    rows = []
    # Years outside the membership reference (e.g. a non-KOSTRA table back to 1978) have no expected members.
    covered = set(seeds.asss_membership()["year"].astype(int))
    for year in (y for y in years if y in covered):
        members = set(seeds.asss_members(year))
        for mid in seeds.asss_members(year, include_comparators=True):
            for code in seeds.codes_for(mid, year):
                rows.append(
                    {
                        "year": year,
                        "region_code": code,
                        "municipality_id": mid,
                        "role": "member" if mid in members else "comparator",
                    }
                )
    return pd.DataFrame(rows, columns=["year", "region_code", "municipality_id", "role"])


@check("completeness_members", "completeness")
def completeness_members(con, cfg):
    """Every ASSS member and comparator has cells other than '.' in every landed table-year (ERROR).

    Not FATAL: an analyst may land a partial extract on purpose (one municipality, one function), and one
    table missing a member must not stop the publish of every other table. The profile shows the gap.
    """
    years = [r[0] for r in con.execute("select distinct year from cells order by 1").fetchall()]
    exp = expected_regions(years)
    con.register("_expected", exp)
    try:
        df = _q(
            con,
            """
            with table_years as (select distinct table_id, year from cells),
            present as (
                select table_id, year, region_code from cells
                where status is distinct from '.' group by all
            )
            select t.table_id, t.year, e.region_code, e.municipality_id, e.role
            from table_years t join _expected e using (year)
            anti join present p on p.table_id = t.table_id and p.year = t.year and p.region_code = e.region_code
            order by 1, 2, 3
            """,
        )
    finally:
        con.unregister("_expected")
    rows = []
    for r in df.itertuples():
        role_nb = "ASSS-medlem" if r.role == "member" else "sammenligningskommune"
        rows.append(
            {
                "check": "completeness_members",
                "severity": Severity.ERROR,
                "table_id": r.table_id,
                "region_code": r.region_code,
                "year": r.year,
                "observed": 0.0,
                "expected": "≥ 1 celle med tall eller symbol",
                "message": f"{role_nb} {seeds.name_in(r.region_code, r.year) or r.region_code} "
                f"({r.region_code}) mangler i tabell {r.table_id} for {r.year}.",
            }
        )
    return _frame(rows)


@check("completeness_table_landed", "completeness")
def completeness_table_landed(con, cfg):
    """A catalogue table never landed is a WARNING: an analyst may load a single table on purpose.

    Derived rows read no table; a table is expected only if it serves one of the landed data years (12210
    ends in 2021: a landing of 2022 onwards does not need it).
    """
    df = _q(
        con,
        """
        with landed as (select min(year) as lo, max(year) as hi from cells)
        select distinct table_id from catalogue, landed
        where coalesce(table_id, '') <> ''
          and coalesce(first_year, 0) <= coalesce(landed.hi, 9999)
          and coalesce(last_year, 9999) >= coalesce(landed.lo, 0)
        except select distinct table_id from cells
        order by 1
        """,
    )
    return _frame(
        [
            {
                "check": "completeness_table_landed",
                "severity": Severity.WARNING,
                "table_id": t,
                "message": f"Tabell {t} står i indikatorkatalogen, men er aldri lastet inn.",
                "expected": "tabellen er lastet",
            }
            for t in df["table_id"]
        ]
    )


@check("region_code_valid_for_year", "completeness")
def region_code_valid_for_year(con, cfg):
    """Numbers under a municipality code outside its validity years, or under an unknown region code."""
    df = _q(
        con,
        f"""
        with coded as (
            select table_id, region_code, year, count(*) as n, any_value(contents_code) as contents_code
            from cells where status is null group by all
        )
        select c.*, m.municipality_code is not null as known,
               bool_or(m.municipality_code is not null
                       and c.year between coalesce(m.valid_from_year, 0) and coalesce(m.valid_to_year, 9999)) as valid
        from coded c left join municipalities m on m.municipality_code = c.region_code
        where {MUNICIPALITY.replace("region_code", "c.region_code")}
           or (c.region_code not in (select region_code from aggregate_regions)
               and not regexp_full_match(c.region_code, 'EKA[0-9]{{2}}'))
        group by all
        having not coalesce(valid, false)
        order by 1, 2, 3
        """,
    )
    rows = []
    for r in df.itertuples():
        why = "er ikke en kjent regionkode" if not r.known else f"var ikke gyldig i {r.year}"
        rows.append(
            {
                "check": "region_code_valid_for_year",
                "severity": Severity.ERROR,
                "table_id": r.table_id,
                "region_code": r.region_code,
                "year": r.year,
                "observed": float(r.n),
                "expected": "0 celler med tall",
                "message": f"Tabell {r.table_id} har {r.n} tall for {r.region_code} i {r.year}, men koden {why}.",
            }
        )
    return _frame(rows)


@check("landing_quarantined", "completeness")
def landing_quarantined(con, cfg):
    """A landed SSB answer that could not be loaded is quarantined (kept, not loaded): its release of the table
    is missing from the build until it is fetched again (ERROR; `kostra landing list` shows why)."""
    if not has_relation(con, "quarantined"):
        return _frame([])
    df = _q(
        con,
        """
        select sha256, table_id, release_updated, reason, quarantined_at, command, rows_in_raw_cells
        from quarantined where released_at is null
        qualify row_number() over (partition by sha256 order by quarantined_at desc) = 1
        order by table_id, release_updated, sha256
        """,
    )
    return _frame(
        [
            {
                "check": "landing_quarantined",
                "severity": Severity.ERROR,
                "table_id": r.table_id,
                "observed": float(r.rows_in_raw_cells),
                "expected": "svaret kan lastes inn",
                "message": f"Et svar fra SSB for tabell {r.table_id}"
                + (f" (publisering {r.release_updated:%Y-%m-%d})" if pd.notna(r.release_updated) else "")
                + f" er satt i karantene og ikke lastet inn: {r.reason} (objekt {r.sha256[:12]}, "
                f"{r.quarantined_at:%Y-%m-%d %H:%M}). Hent tabellen på nytt med `kostra fetch`.",
                "cells": json.dumps({"sha256": r.sha256, "kommando": r.command}, ensure_ascii=False),
            }
            for r in df.itertuples()
        ]
    )


# ---------------------------------------------------------------- status symbols


@check("status_value_not_null", "status")
def status_value_not_null(con, cfg):
    """A cell with a status symbol must have a NULL value, never a number (or a 0)."""
    df = _q(
        con,
        """
        select table_id, contents_code, region_code, year, vintage, status, value, dimension_key
        from cells where status is not null and value is not null order by 1, 3, 4
        """,
    )
    return _frame(
        [
            {
                "check": "status_value_not_null",
                "severity": Severity.ERROR,
                "table_id": r.table_id,
                "contents_code": r.contents_code,
                "region_code": r.region_code,
                "year": r.year,
                "vintage": r.vintage,
                "observed": r.value,
                "expected": "NULL når cellen har symbol",
                "message": f"Cellen {r.dimension_key} har både symbolet '{r.status}' og tallet {_g(r.value)}.",
                "cells": _cells_json([("verdi", r.value), ("symbol", r.status)]),
            }
            for r in df.itertuples()
        ]
    )


def status_shares(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Share of suppressed (':') and missing ('..') cells per indicator cell and municipality over the years.

    Years where the code was not valid ('.') do not count.
    """
    return _q(
        con,
        f"""
        select table_id, contents_code, dimension_key, region_code,
               count(*) as cells,
               count(*) filter (where status = ':') as suppressed,
               count(*) filter (where status = '..') as missing,
               suppressed / count(*) as share_suppressed,
               missing / count(*) as share_missing,
               list(year order by year) filter (where status = '..') as missing_years
        from cells
        where {MUNICIPALITY} and status is distinct from '.'
        group by all
        """,
    )


@check("status_share_missing", "status")
def status_share_missing(con, cfg):
    """An indicator that is missing ('..') for a municipality in a large share of its years."""
    df = status_shares(con)
    df = df[(df["share_missing"] > cfg.missing_share_max) & (df["missing"] >= 2)]
    return _frame(
        [
            {
                "check": "status_share_missing",
                "severity": Severity.WARNING,
                "table_id": r.table_id,
                "contents_code": r.contents_code,
                "region_code": r.region_code,
                "observed": r.share_missing,
                "expected": f"≤ {cfg.missing_share_max:.0%} av årene",
                "message": f"{r.dimension_key} mangler ('..') i {r.missing} av {r.cells} år "
                f"({', '.join(str(y) for y in r.missing_years)}).",
            }
            for r in df.itertuples()
        ]
    )


# ---------------------------------------------------------------- IPLOS / pleie og omsorg

IPLOS_LABELS = {
    "users": "brukere av hjemmetjenester",
    "users_year_end": "brukere per 31.12.",
    "users_year": "brukere i løpet av året",
    "hours": "tildelte timer per uke",
    "users_zero_hours": "brukere med null timer",
    "users_extensive": "brukere med omfattende bistandsbehov",
    "population": "innbyggere i aldersgruppen",
}
IPLOS_MEASURES = tuple(IPLOS_MEASURE_INDICATORS)


def _iplos_map() -> pd.DataFrame:
    return pd.DataFrame(
        [{"indicator_id": iid, "age_group": g, "measure": m} for (g, m), iid in IPLOS_INDICATORS.items()]
    )


def iplos_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """IPLOS measures of municipalities, one row per region, year and age group, plus the group's population.

    Read by catalogue indicator id (``IPLOS_INDICATORS``) from ``indicator_cells``, where the catalogue
    matching has already summed single years and sexes (07459) and picked the table serving each year. A
    measure's ``<name>_status`` column holds its status symbol; the value is NaN then. A region-year whose
    IPLOS measures are all missing or '.' (not applicable) has no row.
    """
    cases = ", ".join(
        f"max(value) filter (where measure = '{m}') as {m}, max(status) filter (where measure = '{m}') as {m}_status"
        for m in IPLOS_MEASURES
    )
    con.register("_iplos_map", _iplos_map())
    try:
        df = _q(
            con,
            f"""
            select region_code, year, age_group,
                   any_value(vintage) filter (where measure <> 'population') as vintage, {cases}
            from indicator_cells join _iplos_map using (indicator_id)
            where {MUNICIPALITY}
            group by all
            having count(*) filter (where measure <> 'population' and status is distinct from '.') > 0
            order by region_code, year, age_group
            """,
        )
    finally:
        con.unregister("_iplos_map")
    return df


class _Sources:
    """Where the catalogue reads an indicator in a year: (table_id, contents_code, sector)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        ids = sorted(set(IPLOS_INDICATORS.values()))
        cat = _q(
            con,
            "select indicator_id, table_id, contents_code, sector, first_year, last_year from catalogue "
            "where list_contains(?, indicator_id)",
            [ids],
        )
        self.rows: dict[str, list[tuple]] = {}
        for r in cat.itertuples():
            lo = 0 if pd.isna(r.first_year) else int(r.first_year)
            hi = 9999 if pd.isna(r.last_year) else int(r.last_year)
            self.rows.setdefault(r.indicator_id, []).append(
                (lo, hi, r.table_id or None, r.contents_code or None, r.sector)
            )

    def __call__(self, indicator_id: str, year) -> tuple[str | None, str | None, str | None]:
        rows = self.rows.get(indicator_id, [])
        for lo, hi, table_id, code, sector in rows:
            if year is None or pd.isna(year) or lo <= int(year) <= hi:
                return table_id, code, sector
        return (None, None, rows[0][4]) if rows else (None, None, None)


def _iplos_finding(src, r, check_name, severity, measure, observed, expected, message, names, group=None):
    group = group or r.age_group
    iid = IPLOS_INDICATORS[(group, measure)]
    table_id, contents_code, sector = src(iid, r.year)
    return {
        "check": check_name,
        "severity": severity,
        "sector": sector or f"pleie_omsorg_{group}",
        "table_id": table_id,
        "contents_code": contents_code,
        "indicator_id": iid,
        "region_code": r.region_code,
        "year": r.year,
        "vintage": r.vintage,
        "observed": observed,
        "expected": expected,
        "message": message,
        "cells": _cells_json([(IPLOS_LABELS[n], getattr(r, n)) for n in names]),
    }


AGE_NB = {"0_66": "0-66 år", "67_pluss": "67 år og over"}


@check("iplos_hours_negative", "iplos")
def iplos_hours_negative(con, cfg):
    df = iplos_frame(con)
    src = _Sources(con)
    return _frame(
        [
            _iplos_finding(
                src,
                r,
                "iplos_hours_negative",
                Severity.ERROR,
                "hours",
                r.hours,
                "≥ 0",
                f"Tildelte timer per uke ({AGE_NB[r.age_group]}) er negative: {_g(r.hours)}.",
                ["hours", "users"],
            )
            for r in df[df["hours"] < 0].itertuples()
        ]
    )


@check("iplos_users_without_hours", "iplos")
def iplos_users_without_hours(con, cfg):
    """Users but no (or missing) hours: ERROR; an implausible share of users with zero hours: WARNING."""
    df = iplos_frame(con)
    src = _Sources(con)
    rows = []
    no_hours = (df["users"] > 0) & ((df["hours"] == 0) | (df["hours_status"] == ".."))
    for r in df[no_hours].itertuples():
        what = "er 0" if r.hours == 0 else "mangler ('..')"
        rows.append(
            _iplos_finding(
                src,
                r,
                "iplos_users_without_hours",
                Severity.ERROR,
                "hours",
                r.hours,
                "> 0 når det er brukere",
                f"{int(r.users)} hjemmetjenestebrukere ({AGE_NB[r.age_group]}), men tildelte timer {what}.",
                ["hours", "users", "users_zero_hours"],
            )
        )
    share = df["users_zero_hours"] / df["users"].where(df["users"] > 0)
    for r, s in zip(
        df[~no_hours & (share > cfg.zero_hours_share_max)].itertuples(),
        share[~no_hours & (share > cfg.zero_hours_share_max)],
        strict=True,
    ):
        rows.append(
            _iplos_finding(
                src,
                r,
                "iplos_users_without_hours",
                Severity.WARNING,
                "users_zero_hours",
                float(s),
                f"≤ {_pct(cfg.zero_hours_share_max)} av brukerne",
                f"{_pct(s)} av hjemmetjenestebrukerne ({AGE_NB[r.age_group]}) står med null tildelte timer.",
                ["users_zero_hours", "users", "hours"],
            )
        )
    return _frame(rows)


@check("iplos_hours_per_user_implausible", "iplos")
def iplos_hours_per_user_implausible(con, cfg):
    """Hours a week per user above 168 (ERROR: more than the week has) or above KOSTRA's 35.5 (WARNING)."""
    df = iplos_frame(con)
    src = _Sources(con)
    per_user = df["hours"] / df["users"].where(df["users"] > 0)
    rows = []
    for r, h in zip(df.itertuples(), per_user, strict=True):
        if not np.isfinite(h) or h <= cfg.hours_per_user_high:
            continue
        over = h > cfg.hours_per_user_max
        rows.append(
            _iplos_finding(
                src,
                r,
                "iplos_hours_per_user_implausible",
                Severity.ERROR if over else Severity.WARNING,
                "hours",
                float(h),
                f"≤ {cfg.hours_per_user_max:g}" if over else f"≤ {cfg.hours_per_user_high:g}",
                f"{nb.number(h, 1)} tildelte timer per uke per hjemmetjenestebruker ({AGE_NB[r.age_group]})"
                + (" – flere timer enn uka har." if over else ", over KOSTRAs grense for høy timeinnsats."),
                ["hours", "users"],
            )
        )
    return _frame(rows)


@check("iplos_extensive_needs_hours", "iplos")
def iplos_extensive_needs_hours(con, cfg):
    """Users with extensive needs get about 31 hours a week; total hours far below that cannot cover them."""
    df = iplos_frame(con)
    src = _Sources(con)
    floor = df["users_extensive"] * cfg.extensive_hours_floor
    bad = (df["users_extensive"] > 0) & (df["hours"] < floor)
    return _frame(
        [
            _iplos_finding(
                src,
                r,
                "iplos_extensive_needs_hours",
                Severity.WARNING,
                "hours",
                r.hours,
                f"≥ {f:g} ({cfg.extensive_hours_floor:g} t × brukere med omfattende behov)",
                f"Tildelte timer ({_g(r.hours)}) dekker ikke engang {_g(cfg.extensive_hours_floor)} timer per uke for "
                f"de {int(r.users_extensive)} brukerne med omfattende bistandsbehov (normalt rundt 31).",
                ["hours", "users_extensive", "users"],
            )
            for r, f in zip(df[bad].itertuples(), floor[bad], strict=True)
        ]
    )


@check("iplos_users_le_population", "iplos")
def iplos_users_le_population(con, cfg):
    df = iplos_frame(con)
    src = _Sources(con)
    bad = df["users_year"] > df["population"]
    return _frame(
        [
            _iplos_finding(
                src,
                r,
                "iplos_users_le_population",
                Severity.ERROR,
                "users_year",
                r.users_year,
                f"≤ {r.population:g}",
                f"Flere brukere i løpet av året ({int(r.users_year)}) enn innbyggere {AGE_NB[r.age_group]} "
                f"({int(r.population)}).",
                ["users_year", "population"],
            )
            for r in df[bad].itertuples()
        ]
    )


@check("iplos_year_end_le_during_year", "iplos")
def iplos_year_end_le_during_year(con, cfg):
    df = iplos_frame(con)
    src = _Sources(con)
    bad = df["users_year_end"] > df["users_year"]
    return _frame(
        [
            _iplos_finding(
                src,
                r,
                "iplos_year_end_le_during_year",
                Severity.ERROR,
                "users_year_end",
                r.users_year_end,
                f"≤ {r.users_year:g}",
                f"Brukere per 31.12. ({int(r.users_year_end)}) er flere enn brukere i løpet av året "
                f"({int(r.users_year)}), {AGE_NB[r.age_group]}.",
                ["users_year_end", "users_year"],
            )
            for r in df[bad].itertuples()
        ]
    )


@check("iplos_resource_share_by_age", "iplos")
def iplos_resource_share_by_age(con, cfg):
    """An age group's share of the hours far from its share of the users (the f254 split uses the hours)."""
    df = iplos_frame(con)
    src = _Sources(con)
    wide = df.pivot_table(index=["region_code", "year"], columns="age_group", values=["hours", "users"])
    if wide.empty or "0_66" not in wide["hours"] or "67_pluss" not in wide["hours"]:
        return _frame([])
    h, u = wide["hours"], wide["users"]
    hours_share = h["67_pluss"] / (h["0_66"] + h["67_pluss"])
    users_share = u["67_pluss"] / (u["0_66"] + u["67_pluss"])
    rows = []
    vint = df.groupby(["region_code", "year"])["vintage"].first()
    for (region, year), hs, us in zip(wide.index, hours_share, users_share, strict=True):
        for grp, hsg, usg in (("67_pluss", hs, us), ("0_66", 1 - hs, 1 - us)):
            if not (np.isfinite(hsg) and np.isfinite(usg)) or usg <= 0 or hsg <= 0:
                continue
            ratio = hsg / usg
            if 1 / cfg.resource_share_ratio_max <= ratio <= cfg.resource_share_ratio_max:
                continue
            rows.append(
                {
                    **_iplos_finding(
                        src,
                        SimpleNamespace(region_code=region, year=year, vintage=vint.get((region, year))),
                        "iplos_resource_share_by_age",
                        Severity.WARNING,
                        "hours",
                        float(ratio),
                        f"andel timer / andel brukere i [1/{cfg.resource_share_ratio_max:g}, "
                        f"{cfg.resource_share_ratio_max:g}]",
                        f"Aldersgruppen {AGE_NB[grp]} har {_pct(hsg)} av timene, men {_pct(usg)} av brukerne; "
                        "fordelingen av utgifter på alder (f254) blir skjev.",
                        [],
                        group=grp,
                    ),
                    "cells": _cells_json([("andel timer", hsg), ("andel brukere", usg)]),
                }
            )
            break
    return _frame(rows)


# ---------------------------------------------------------------- year over year

# Codes whose territory changed on 1 January of ``year`` while the code went on (seed region_successors):
# Stavanger 1103 absorbing Finnøy 1141 and Rennesøy 1142 in 2020, or a code giving up a part. A change
# from year − 1 to year of such a code is a reform, not a development: the year-over-year checks skip it,
# and check ``series_break`` reports it once.
BORDER_BREAKS = """
    with changes as (
        select s.successor_code as region_code, s.change_year as year, s.region_code as other_code,
               'innlemmet' as how
        from region_successors s
        join municipalities m on m.municipality_code = s.successor_code
        where s.region_kind = 'municipality' and s.region_code <> s.successor_code
          and m.valid_from_year < s.change_year
        union all
        select region_code, change_year, successor_code, 'avgitt til'
        from region_successors
        where region_kind = 'municipality' and change_kind = 'part_transferred'
    )
    select region_code, cast(year as integer) as year,
           string_agg(how || ' ' || other_code, ', ' order by how, other_code) as reason
    from changes group by region_code, year
"""


_YOY_PAIRS = f"""
    with cur as (
        select table_id, region_code, year, vintage, contents_code, alder, funksjon, dimension_key,
               cast(null as varchar) as indicator_id, value
        from cells
        where status is null and value is not null and {MUNICIPALITY} and not list_contains($1, table_id)
        union all
        select table_id, region_code, year, vintage, contents_code, null, null, indicator_id, indicator_id,
               value
        from indicator_cells
        where status is null and value is not null and {MUNICIPALITY} and list_contains($1, table_id)
    )
    select cur.*, prev.value as x0, cur.value as x1, g.kostra_group
    from cur
    join cur as prev
      on prev.table_id = cur.table_id and prev.region_code = cur.region_code
     and prev.dimension_key = cur.dimension_key and prev.year = cur.year - 1
    left join kostra_groups g
      on g.municipality_code = cur.region_code
     and cur.year between g.year_from and coalesce(g.year_to, 9999)
    -- only comparable pairs: a reform year is reported once by series_break
    anti join ({BORDER_BREAKS}) b on b.region_code = cur.region_code and b.year = cur.year
"""


def yoy_pairs(
    con: duckdb.DuckDBPyConnection, cfg: QualityConfig | None = None, *, where: str = "true", params=()
) -> pd.DataFrame:
    """Each municipality cell with a number this year and last year (same code and dimensions), those that
    pass ``where`` (SQL on the pair's columns, ``$2``… for ``params``): a check filters in DuckDB rather than
    in a frame of every pair.

    Tables in ``cfg.yoy_indicator_tables`` (07459: single years × sexes, where one cohort ages out of its
    cell every year) are compared as the catalogue's indicators instead: the age groups' sums, keyed by
    ``indicator_id``.
    """
    cfg = cfg or QualityConfig()
    return _q(
        con,
        f"select * from ({_YOY_PAIRS}) where {where}",
        [list(cfg.yoy_indicator_tables), *params],
    )


def _sector(table_id: str, contents_code: str | None, alder: str | None, funksjon: str | None, cat) -> str:
    if funksjon in seeds.function_sectors() and table_id == "12367":
        return seeds.function_sectors()[funksjon]
    return (
        cat.get((table_id, contents_code, alder))
        or cat.get((table_id, contents_code, None))
        or cat.get((table_id, None, None), "")
    )


@check("hidiroglou_berthelot_outlier", "yoy")
def hidiroglou_berthelot_outlier(con, cfg):
    """HB outliers of x_t / x_{t-1} within KOSTRA groups (a group too small is tested nationally)."""
    # The statistics need every pair, the messages only the outliers: HB runs on (pair, stratum, x0, x1),
    # numbers only, and the outliers' codes are read back by pair id (a frame of every pair with its codes
    # as Python strings took ~350 MB on the demo).
    con.execute(
        f"""
        create or replace temp table _hb_pairs as
        with pairs as (select * from ({_YOY_PAIRS})),
        sized as (
            select *, coalesce(kostra_group, '-') as stratum,
                   count(*) over (partition by table_id, dimension_key, year, coalesce(kostra_group, '-')) as n
            from pairs
        )
        select row_number() over () as pair_id,
               * exclude (stratum, n), case when n < $2 then 'national' else stratum end as stratum
        from sized
        where x0 > 0 and x1 > 0
        """,
        [list(cfg.yoy_indicator_tables), cfg.hb_min_units],
    )
    try:
        numbers = _q(
            con,
            "select pair_id, dense_rank() over (order by table_id, dimension_key, year, stratum) as stratum_id, "
            "x0, x1 from _hb_pairs",
        )
        if numbers.empty:
            return _frame([])
        tested = hb_frame(numbers, ["stratum_id"], pu=cfg.hb_pu, pa=cfg.hb_pa, pc=cfg.hb_pc)
        flagged = tested.loc[tested["hb_outlier"], ["pair_id", "ratio", "hb_e", "hb_lower", "hb_upper"]]
        con.register("_hb_flagged", flagged)
        try:
            out = _q(
                con, "select p.*, f.* exclude (pair_id) from _hb_pairs p join _hb_flagged f using (pair_id)"
            )
        finally:
            con.unregister("_hb_flagged")
    finally:
        con.execute("drop table if exists _hb_pairs")

    return _frame(
        [
            {
                "check": "hidiroglou_berthelot_outlier",
                "severity": Severity.WARNING
                if max(r.ratio, 1 / r.ratio) - 1 > cfg.hb_warning_change
                else Severity.INFO,
                "table_id": r.table_id,
                "contents_code": r.contents_code,
                "indicator_id": r.indicator_id,
                "region_code": r.region_code,
                "year": r.year,
                "vintage": r.vintage,
                "observed": r.ratio,
                "expected": f"E i [{r.hb_lower:.2f}, {r.hb_upper:.2f}] (E = {r.hb_e:.2f})",
                "message": f"{r.dimension_key}: endring fra {_g(r.x0)} til {_g(r.x1)} (×{nb.number(r.ratio, 2)}) skiller seg ut "
                f"i {'KOSTRA-gruppe ' + r.stratum if r.stratum not in ('national', '-') else 'landet'} "
                "(Hidiroglou–Berthelot).",
                "cells": _cells_json([(str(r.year - 1), r.x0), (str(r.year), r.x1)]),
                "_alder": r.alder,
                "_funksjon": r.funksjon,
            }
            for r in out.itertuples()
        ]
    )


@check("relative_change", "yoy")
def relative_change(con, cfg):
    """A value that more than doubles or halves (beyond ``relative_change_max``) from last year."""
    df = yoy_pairs(
        con,
        cfg,
        where="x0 > 0 and x1 > 0 and greatest(x0, x1) >= $2 and greatest(x1 / x0, x0 / x1) - 1 > $3",
        params=(cfg.relative_change_min_value, cfg.relative_change_max),
    )
    return _frame(
        [
            {
                "check": "relative_change",
                "severity": Severity.WARNING,
                "table_id": r.table_id,
                "contents_code": r.contents_code,
                "indicator_id": r.indicator_id,
                "region_code": r.region_code,
                "year": r.year,
                "vintage": r.vintage,
                "observed": r.x1 / r.x0,
                "expected": f"×[{1 / (1 + cfg.relative_change_max):.2f}, {1 + cfg.relative_change_max:.2f}]",
                "message": f"{r.dimension_key}: fra {_g(r.x0)} til {_g(r.x1)} på ett år (×{nb.number(r.x1 / r.x0, 2)}).",
                "cells": _cells_json([(str(r.year - 1), r.x0), (str(r.year), r.x1)]),
                "_alder": r.alder,
                "_funksjon": r.funksjon,
            }
            for r in df.itertuples()
        ]
    )


@check("values_identical_to_previous_year", "yoy")
def values_identical_to_previous_year(con, cfg):
    """A table-municipality-year whose numbers all repeat last year's: SSB copies them for non-reporters."""
    df = _q(
        con,
        f"""
        with cur as (
            select table_id, region_code, year, vintage, dimension_key, value from cells
            where status is null and abs(value) >= ? and {MUNICIPALITY}
              and not list_contains(?, table_id)
        )
        select cur.table_id, cur.region_code, cur.year, any_value(cur.vintage) as vintage,
               count(*) as cells, count(*) filter (where prev.value = cur.value) as identical
        from cur join cur as prev
          on prev.table_id = cur.table_id and prev.region_code = cur.region_code
         and prev.dimension_key = cur.dimension_key and prev.year = cur.year - 1
        anti join ({BORDER_BREAKS}) b on b.region_code = cur.region_code and b.year = cur.year
        group by all
        having count(*) >= ? and identical >= ? * count(*)
        order by 1, 2, 3
        """,
        [
            cfg.identical_min_value,
            list(cfg.identical_skip_tables),
            cfg.identical_min_cells,
            cfg.identical_share,
        ],
    )
    return _frame(
        [
            {
                "check": "values_identical_to_previous_year",
                "severity": Severity.ERROR,
                "table_id": r.table_id,
                "region_code": r.region_code,
                "year": r.year,
                "vintage": r.vintage,
                "observed": r.identical / r.cells,
                "expected": f"< {cfg.identical_share:.0%} like celler",
                "message": f"{r.identical} av {r.cells} tall i tabell {r.table_id} for {r.year} er identiske med "
                f"{r.year - 1}: trolig kopiert fordi kommunen ikke rapporterte.",
                "cells": _cells_json([("like celler", int(r.identical)), ("celler", int(r.cells))]),
            }
            for r in df.itertuples()
        ]
    )


@check("series_break", "yoy")
def series_break(con, cfg):
    """A reform that changed a code's territory while the code went on: once per code and year, with the
    reason, where the year-over-year checks had a pair to compare (they skip it)."""
    df = _q(
        con,
        f"""
        select b.region_code, b.year, b.reason, count(*) as pairs, count(distinct cur.table_id) as tables
        from ({BORDER_BREAKS}) b
        join cells cur on cur.region_code = b.region_code and cur.year = b.year
        join cells prev
          on prev.table_id = cur.table_id and prev.region_code = cur.region_code
         and prev.dimension_key = cur.dimension_key and prev.year = cur.year - 1
        where cur.value is not null and prev.value is not null
        group by all
        order by 1, 2
        """,
    )
    return _frame(
        [
            {
                "check": "series_break",
                "severity": Severity.INFO,
                "region_code": r.region_code,
                "year": r.year,
                "observed": float(r.pairs),
                "expected": "samme grenser begge år",
                "message": f"{r.region_code}: brudd i serien fra {r.year} ({r.reason}); {r.pairs} endringer "
                f"{r.year - 1}→{r.year} i {r.tables} tabeller er ikke sammenlignbare og er ikke testet "
                "år mot år.",
                "cells": _cells_json([("celler", int(r.pairs)), ("tabeller", int(r.tables))]),
            }
            for r in df.itertuples()
        ]
    )


# ---------------------------------------------------------------- revisions


@check("large_revision", "revisions")
def large_revision(con, cfg):
    if not has_relation(con, "revisions"):
        return _frame([])
    df = _q(
        con,
        """
        select table_id, contents_code, region_code, year, alder, funksjon, dimension_key,
               unrevised_value, revised_value, change_abs, change_pct
        from revisions
        where abs(change_pct) > ? and abs(change_abs) >= ?
        order by 1, 3, 4
        """,
        [cfg.revision_max_pct, cfg.revision_min_abs],
    )
    return _frame(
        [
            {
                "check": "large_revision",
                "severity": Severity.WARNING,
                "table_id": r.table_id,
                "contents_code": r.contents_code,
                "region_code": r.region_code,
                "year": r.year,
                "vintage": "unrevised",
                "observed": r.change_pct,
                "expected": f"|endring| ≤ {cfg.revision_max_pct:g} %",
                "message": f"{r.dimension_key}: revidert fra {_g(r.unrevised_value)} (mars) til {_g(r.revised_value)} "
                f"(juni), {nb.signed_percent(r.change_pct, 0)}.",
                "cells": _cells_json([("mars", r.unrevised_value), ("juni", r.revised_value)]),
                "_alder": r.alder,
                "_funksjon": r.funksjon,
            }
            for r in df.itertuples()
        ]
    )


@check("status_changed_between_vintages", "revisions")
def status_changed_between_vintages(con, cfg):
    if not has_relation(con, "revisions"):
        return _frame([])
    df = _q(
        con,
        """
        select table_id, contents_code, region_code, year, alder, funksjon, dimension_key, unrevised_value,
               unrevised_status, revised_value, revised_status, status_appeared
        from revisions where status_appeared or status_vanished
        order by 1, 3, 4
        """,
    )
    rows = []
    for r in df.itertuples():
        march = r.unrevised_status or _g(r.unrevised_value)
        june = r.revised_status or _g(r.revised_value)
        rows.append(
            {
                "check": "status_changed_between_vintages",
                "severity": Severity.WARNING,
                "table_id": r.table_id,
                "contents_code": r.contents_code,
                "region_code": r.region_code,
                "year": r.year,
                "vintage": "revised",
                "expected": "samme symbol i mars og juni",
                "message": f"{r.dimension_key}: '{march}' i mars, '{june}' i juni "
                + ("(symbol kom til)." if r.status_appeared else "(symbol forsvant)."),
                "cells": _cells_json([("mars", march), ("juni", june)]),
                "_alder": r.alder,
                "_funksjon": r.funksjon,
            }
        )
    return _frame(rows)


# ---------------------------------------------------------------- running


def _catalogue_sectors(con) -> dict:
    """(table_id, contents_code, alder) -> sector; a finding on a whole table takes the table's sector, or the
    sector its rows share (12292 holds both IPLOS age groups: 'pleie_omsorg')."""
    cat = _q(
        con, "select table_id, contents_code, alder, sector from catalogue where coalesce(table_id, '') <> ''"
    )
    out: dict = {}
    by_table: dict[str, list[str]] = {}
    for r in cat.itertuples():
        alder = r.alder if isinstance(r.alder, str) and r.alder else None
        out.setdefault((r.table_id, r.contents_code, alder), r.sector)
        out.setdefault((r.table_id, r.contents_code, None), r.sector)
        by_table.setdefault(r.table_id, []).append(r.sector)
    for table_id, sectors in by_table.items():
        common = os.path.commonprefix(sorted(set(sectors))).rstrip("_")
        # Sectors of one family (pleie_omsorg_0_66, pleie_omsorg_67_pluss): the family's name.
        shared = (
            len(set(sectors)) > 1 and bool(common) and all(s.startswith(common + "_") for s in set(sectors))
        )
        out[(table_id, None, None)] = common if shared else sectors[0]
    return out


def _municipality_ids(con) -> dict[tuple[str, int], str]:
    df = _q(
        con, "select municipality_code, valid_from_year, valid_to_year, municipality_id from municipalities"
    )
    return {
        (
            r.municipality_code,
            0 if pd.isna(r.valid_from_year) else int(r.valid_from_year),
            9999 if pd.isna(r.valid_to_year) else int(r.valid_to_year),
        ): r.municipality_id
        for r in df.itertuples()
    }


def run_checks(
    con: duckdb.DuckDBPyConnection, cfg: QualityConfig | None = None, *, only: list[str] | None = None
) -> pd.DataFrame:
    """Run every registered check (or ``only`` these) and return their findings in one frame."""
    cfg = cfg or QualityConfig()
    unknown = set(only or []) - set(CHECKS)
    if unknown:
        raise ValueError(f"run_checks(only=...): unknown checks {sorted(unknown)}; known: {sorted(CHECKS)}")
    frames = [spec.func(con, cfg) for name, spec in CHECKS.items() if only is None or name in only]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return finalize(pd.DataFrame(columns=FINDING_COLUMNS), con)
    return finalize(pd.concat(frames, ignore_index=True), con)


def finalize(df: pd.DataFrame, con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Fill sector and municipality_id, make severity a label, order rows; drop helper columns."""
    df = df.copy()
    for col in FINDING_COLUMNS + ["_alder", "_funksjon"]:
        if col not in df.columns:
            df[col] = None
    cat = _catalogue_sectors(con)
    spans = _municipality_ids(con)
    by_code: dict[str, list[tuple[int, int, str]]] = {}
    for (code, lo, hi), mid in spans.items():
        by_code.setdefault(code, []).append((lo, hi, mid))

    def muni(code, year):
        if not isinstance(code, str):
            return None
        for lo, hi, mid in by_code.get(code, []):
            if year is None or pd.isna(year) or lo <= int(year) <= hi:
                return mid
        return code if not code[:1].isdigit() else None

    sectors = []
    for sector, table_id, contents_code, alder, funksjon in zip(
        df["sector"], df["table_id"], df["contents_code"], df["_alder"], df["_funksjon"], strict=True
    ):
        if isinstance(sector, str) and sector:
            sectors.append(sector)
        elif isinstance(table_id, str):
            alder = alder if isinstance(alder, str) else None
            funksjon = funksjon if isinstance(funksjon, str) else None
            sectors.append(_sector(table_id, contents_code, alder, funksjon, cat) or "annet")
        else:
            sectors.append("annet")
    df["sector"] = sectors
    df["municipality_id"] = [
        m if isinstance(m, str) else muni(c, y)
        for m, c, y in zip(df["municipality_id"], df["region_code"], df["year"], strict=True)
    ]
    df["severity"] = [Severity(int(s)).name if not isinstance(s, str) else s for s in df["severity"]]
    df["year"] = df["year"].astype("Int64")
    df["observed"] = pd.to_numeric(df["observed"], errors="coerce").astype("float64")
    order = {s.name: -int(s) for s in Severity}
    df["_order"] = df["severity"].map(order)
    df = df.sort_values(["_order", "check", "table_id", "region_code", "year"], na_position="last")
    return df[FINDING_COLUMNS].reset_index(drop=True)
