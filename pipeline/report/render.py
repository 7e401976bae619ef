"""The report's HTML: the content of pipeline.report.content through Jinja2, with the charts inlined as SVG.

One self-contained file: inline CSS, inline SVG, no script, no font or image from anywhere else.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from pipeline.report import charts
from pipeline.report import numbers_nb as nb

TEMPLATES = Path(__file__).parent / "templates"


def _css_string(text) -> str:
    # Inside a CSS string in <style>: HTML escaping does not apply there, so drop what could end it.
    return jinja2.filters.Markup(
        str(text).replace("\\", "").replace('"', "'").replace("<", "").replace(">", "")
    )


def _share(v) -> str:
    return nb.DASH if v is None else f"{nb.number(100 * v, 1)}{nb.THIN_SPACE}%"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        num=nb.number,
        auto=nb.auto,
        spct=nb.signed_percent,
        grade=nb.grade,
        share=_share,
        cell=lambda v, unit="": nb.number(v, 1) if unit == "prosent" else nb.auto(v),
        css_string=_css_string,
    )
    return env


def _with_charts(ctx: dict) -> dict:
    focus = ctx["municipality"]["name"]
    comparator = ctx["comparators"][0]["name"] if ctx["comparators"] else None
    for s in ctx["sectors"]:
        s["profile_chart"] = (
            charts.profile_chart(
                [
                    {
                        "label": r["label"],
                        "index": r["index"],
                        "index_min": r["index_min"],
                        "index_max": r["index_max"],
                        "comparator_index": r["comparator_index"],
                    }
                    for r in s["profile"]
                ],
                focus_name=focus,
                comparator_name=comparator,
                group=ctx["group"],
            )
            if s["profile"]
            else ""
        )
        s["index_chart"] = (
            charts.indices_chart(
                [
                    {
                        "municipality_id": r["municipality_id"],
                        "name": r["name"],
                        "production_index": r["production_index"],
                        "expenditure_index": r["expenditure_index"],
                        "efficiency_index": r["efficiency_index"],
                    }
                    for r in s["indices"]
                ],
                focus_id=ctx["municipality"]["id"],
                sector_nb=s["name"],
            )
            if any(
                r["production_index"] is not None or r["expenditure_index"] is not None for r in s["indices"]
            )
            else ""
        )
        # The indicators the findings name first, then the largest deviations, up to the chart's six panels.
        named = [f.indicator_id for f in s["findings"] if f.indicator_id]
        by_dev = sorted(s["profile"], key=lambda r: -abs((r["index"] or 100) - 100))
        order = list(dict.fromkeys([*named, *(r["indicator_id"] for r in by_dev)]))[: charts_max()]
        series = [t for i in order for t in s["trend"] if t["indicator_id"] == i and len(t["years"]) > 1]
        s["trend_chart"] = charts.trend_chart(series, focus_name=focus, group=ctx["group"]) if series else ""
    return ctx


def charts_max() -> int:
    from pipeline.report.content import TREND_CHART_MAX

    return TREND_CHART_MAX


def municipality_html(ctx: dict) -> str:
    return environment().get_template("municipality.html.j2").render(**_with_charts(ctx))


def network_html(ctx: dict) -> str:
    for s in ctx["sectors"]:
        s["index_chart"] = (
            charts.indices_chart(s["indices"], focus_id="", sector_nb=s["name"])
            if any(r["production_index"] is not None for r in s["indices"])
            else ""
        )
    return environment().get_template("network.html.j2").render(**ctx)
