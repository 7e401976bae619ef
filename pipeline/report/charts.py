"""The report's charts as static SVG strings (matplotlib), to be inlined in the HTML.

Text is drawn as paths (``svg.fonttype = path``), so a chart needs no font from the reader's machine or the
network and shows æ, ø and å the same everywhere. Numbers on the axes are Norwegian (decimal comma).
"""

from __future__ import annotations

import io
import math
import re

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from pipeline.report import numbers_nb as nb  # noqa: E402

matplotlib.rcParams.update(
    {
        "svg.fonttype": "path",
        "svg.hashsalt": "kostra-report",  # the same chart gives the same SVG
        "font.family": "DejaVu Sans",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 10,
    }
)

FOCUS = "#1f5f8b"
COMPARATOR = "#d9822b"
RANGE = "#c9d3dc"
MEAN = "#555555"
WIDTH_IN = 7.2  # fits an A4 page's text width with the page margins the template sets


def _svg(fig) -> str:
    buf = io.StringIO()
    # Fixed margins, no bbox_inches="tight": a tight box draws the figure twice, and the report has 18 charts.
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE: the SVG sits inside HTML
    # matplotlib's RDF metadata names its web site; the report names no URL it does not need.
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)


def _nb_axis(decimals: int = 0):
    return FuncFormatter(lambda x, _pos: nb.number(x, decimals))


def _wrap(label: str, width: int = 46) -> str:
    words, lines, line = label.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    return "\n".join(lines[:2]) + ("…" if len(lines) > 2 else "")


def _ok(v) -> bool:
    # None, NaN and pandas' NA (a nullable column's NULL) are gaps; NA has no truth value, so test it first.
    if v is None or type(v).__name__ in ("NAType", "NaTType"):
        return False
    return not (isinstance(v, float) and math.isnan(v))


def profile_chart(rows: list[dict], *, focus_name: str, comparator_name: str | None, group: str) -> str:
    """Tjenesteprofil: per indicator the group's min–max range (indexed, mean = 100), the focus and comparator.

    ``rows``: dicts with label, index (focus), index_min, index_max, comparator_index.
    """
    n = len(rows)
    height = 0.42 * n + 0.9
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height))
    fig.subplots_adjust(left=0.42, right=0.97, top=1 - 0.15 / height, bottom=0.75 / height)
    ys = list(range(n))[::-1]
    for y, r in zip(ys, rows, strict=True):
        if _ok(r["index_min"]) and _ok(r["index_max"]):
            ax.plot([r["index_min"], r["index_max"]], [y, y], color=RANGE, linewidth=9, solid_capstyle="butt")
        if _ok(r.get("comparator_index")):
            ax.plot(r["comparator_index"], y, marker="D", color=COMPARATOR, markersize=6, linestyle="none")
        if _ok(r["index"]):
            ax.plot(r["index"], y, marker="o", color=FOCUS, markersize=8, linestyle="none")
            ax.annotate(
                nb.number(r["index"], 0),
                (r["index"], y),
                xytext=(0, 7),
                textcoords="offset points",
                ha="center",
                fontsize=7.5,
                color=FOCUS,
            )
    ax.axvline(100, color=MEAN, linewidth=1, linestyle="--")
    ax.set_yticks(ys, [_wrap(r["label"]) for r in rows], fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    ax.xaxis.set_major_formatter(_nb_axis())
    ax.set_xlabel(f"Indeks, {group}-gjennomsnittet = 100")
    handles = [
        plt.Line2D([], [], color=RANGE, linewidth=8, label=f"Spenn i {group} (min–maks)"),
        plt.Line2D([], [], color=FOCUS, marker="o", linestyle="none", label=focus_name),
    ]
    if comparator_name:
        handles.append(
            plt.Line2D([], [], color=COMPARATOR, marker="D", linestyle="none", label=comparator_name)
        )
    handles.append(plt.Line2D([], [], color=MEAN, linestyle="--", label=f"{group}-snitt = 100"))
    fig.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.01, 0.0),
        ncol=len(handles),
        frameon=False,
        fontsize=8,
    )
    return _svg(fig)


def indices_chart(members: list[dict], *, focus_id: str, sector_nb: str) -> str:
    """P, U and E of every member in one sector as dots on one line per member, the focus highlighted.

    Dots, not bars: the indices sit around 100, and bars from 0 would hide the differences.
    ``members``: dicts with municipality_id, name, production_index, expenditure_index, efficiency_index.
    """
    names = [m["name"] for m in members]
    n = len(members)
    height = 0.3 * n + 1.1
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height))
    fig.subplots_adjust(left=0.2, right=0.97, top=1 - 0.35 / height, bottom=0.8 / height)
    ys = list(range(n))[::-1]
    series = [
        ("production_index", "P (produksjon)", "#2f7ab8", "o"),
        ("expenditure_index", "U (ressursbruk)", "#c27c2c", "s"),
        ("efficiency_index", "E (effektivitet)", "#3b8a3b", "D"),
    ]
    for y, m in zip(ys, members, strict=True):
        if m["municipality_id"] == focus_id:
            ax.axhspan(y - 0.45, y + 0.45, color="#e6eef5", zorder=0)
        vals = [m[k] for k, *_ in series if _ok(m[k])]
        if vals:
            ax.plot([min(vals), max(vals)], [y, y], color="#bbbbbb", linewidth=1, zorder=1)
    for key, label, color, marker in series:
        pts = [(m[key], y) for y, m in zip(ys, members, strict=True) if _ok(m[key])]
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            marker=marker,
            color=color,
            linestyle="none",
            markersize=6,
            label=label,
            zorder=3,
        )
    ax.axvline(100, color=MEAN, linewidth=1, linestyle="--")
    ax.set_yticks(ys, names, fontsize=8)
    for lab, m in zip(ax.get_yticklabels(), members, strict=True):
        if m["municipality_id"] == focus_id:
            lab.set_fontweight("bold")
    ax.set_ylim(-0.6, n - 0.4)
    ax.xaxis.set_major_formatter(_nb_axis())
    ax.set_xlabel("Indeks, gjennomsnittet = 100")
    ax.set_title(sector_nb, loc="left")
    fig.legend(loc="lower left", bbox_to_anchor=(0.01, 0.0), ncol=3, frameon=False, fontsize=8)
    return _svg(fig)


def trend_chart(series: list[dict], *, focus_name: str, group: str) -> str:
    """Utvikling: per indicator the municipality's value as an index of that year's group mean (= 100).

    One axes for all, so indicators in kroner and in percent share a scale. ``series``: dicts with label,
    years, values, means.
    """
    height = 2.6 + 0.22 * len(series)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height))
    fig.subplots_adjust(left=0.08, right=0.97, top=0.96, bottom=(0.55 + 0.22 * len(series)) / height)
    colours = plt.get_cmap("tab10").colors
    years = sorted({y for s in series for y in s["years"]})
    for i, s in enumerate(series):
        pts = [
            (y, 100 * v / m)
            for y, v, m in zip(s["years"], s["values"], s["means"], strict=True)
            if _ok(v) and _ok(m) and m
        ]
        if not pts:
            continue
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            marker="o",
            markersize=3.5,
            color=colours[i % 10],
            label=_wrap(s["label"], 90),
        )
    ax.axhline(100, color=MEAN, linewidth=1, linestyle="--", label=f"{group}-snitt = 100")
    ax.set_xticks(years, [str(y) for y in years])
    ax.yaxis.set_major_formatter(_nb_axis())
    ax.set_ylabel(f"{focus_name}, indeks ({group} = 100)")
    fig.legend(loc="lower left", bbox_to_anchor=(0.01, 0.0), ncol=1, frameon=False, fontsize=7.5)
    return _svg(fig)
