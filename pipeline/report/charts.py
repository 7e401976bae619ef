"""The report's charts as static SVG strings (matplotlib), to be inlined in the HTML.

Text is drawn as paths (``svg.fonttype = path``), so a chart needs no font from the reader's machine or the
network and shows æ, ø and å the same everywhere. Numbers on the axes are Norwegian (decimal comma).

The legends are HTML beside the SVG (:class:`Chart`): a swatch per series and the label as text. Drawn by
matplotlib, they cost a third of the report's chart time (every label's glyphs turned into paths, the
legend's layout measured twice), and the trend chart's legend of long indicator labels took more height than
its lines. In HTML they wrap to the page and are searchable.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass

import matplotlib
from markupsafe import Markup, escape

matplotlib.use("svg")
# Figures without pyplot: no figure manager to register and close, and pyplot's import (half a second on this
# machine) is not paid by `kostra report`.
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
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


@dataclass(frozen=True)
class Key:
    """One legend entry: the label and how its series is drawn (marker ``o``/``D``/``s``, line ``solid``,
    ``dashed`` or ``band`` for a min–max range)."""

    label: str
    color: str
    marker: str | None = None
    line: str | None = None


def _swatch(key: Key) -> str:
    # A tiny inline SVG per entry (no text in it): the same marks the chart draws.
    parts = []
    if key.line == "band":
        parts.append(f'<rect x="0" y="3" width="18" height="6" fill="{key.color}"/>')
    elif key.line == "dashed":
        parts.append(f'<line x1="0" y1="6" x2="18" y2="6" stroke="{key.color}" stroke-dasharray="4 2"/>')
    elif key.line == "solid":
        parts.append(f'<line x1="0" y1="6" x2="18" y2="6" stroke="{key.color}" stroke-width="1.5"/>')
    if key.marker == "o":
        parts.append(f'<circle cx="9" cy="6" r="3.5" fill="{key.color}"/>')
    elif key.marker == "D":
        parts.append(f'<polygon points="9,2 13,6 9,10 5,6" fill="{key.color}"/>')
    elif key.marker == "s":
        parts.append(f'<rect x="5.5" y="2.5" width="7" height="7" fill="{key.color}"/>')
    return (
        '<svg class="swatch" width="18" height="12" viewBox="0 0 18 12" aria-hidden="true">'
        + "".join(parts)
        + "</svg>"
    )


@dataclass(frozen=True)
class Chart:
    """A chart as the report inlines it: the SVG and its legend as HTML (``<figcaption>``)."""

    svg: str
    legend: tuple[Key, ...] = ()

    def __html__(self) -> str:
        items = "".join(f"<span>{_swatch(k)} {escape(k.label)}</span>" for k in self.legend)
        caption = f'<figcaption class="legend">{items}</figcaption>' if self.legend else ""
        return self.svg + caption

    def __str__(self) -> str:
        return str(Markup(self.__html__()))


def _svg(fig) -> str:
    buf = io.StringIO()
    # Fixed margins, no bbox_inches="tight": a tight box draws the figure twice, and the report has 18 charts.
    fig.savefig(buf, format="svg", metadata={"Date": None})
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


def profile_chart(rows: list[dict], *, focus_name: str, comparator_name: str | None, group: str) -> Chart:
    """Tjenesteprofil: per indicator the group's min–max range (indexed, mean = 100), the focus and comparator.

    ``rows``: dicts with label, index (focus), index_min, index_max, comparator_index.
    """
    n = len(rows)
    height = 0.42 * n + 0.6
    fig = Figure(figsize=(WIDTH_IN, height))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.42, right=0.97, top=1 - 0.15 / height, bottom=0.45 / height)
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
    legend = [
        Key(f"Spenn i {group} (min–maks)", RANGE, line="band"),
        Key(focus_name, FOCUS, marker="o"),
        *([Key(comparator_name, COMPARATOR, marker="D")] if comparator_name else []),
        Key(f"{group}-snitt = 100", MEAN, line="dashed"),
    ]
    return Chart(_svg(fig), tuple(legend))


def indices_chart(members: list[dict], *, focus_id: str, sector_nb: str) -> Chart:
    """P, U and E of every member in one sector as dots on one line per member, the focus highlighted.

    Dots, not bars: the indices sit around 100, and bars from 0 would hide the differences.
    ``members``: dicts with municipality_id, name, production_index, expenditure_index, efficiency_index.
    """
    names = [m["name"] for m in members]
    n = len(members)
    height = 0.3 * n + 0.8
    fig = Figure(figsize=(WIDTH_IN, height))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.2, right=0.97, top=1 - 0.35 / height, bottom=0.45 / height)
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
    for key, _label, color, marker in series:
        pts = [(m[key], y) for y, m in zip(ys, members, strict=True) if _ok(m[key])]
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            marker=marker,
            color=color,
            linestyle="none",
            markersize=6,
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
    legend = [Key(label, color, marker=marker) for _key, label, color, marker in series]
    return Chart(_svg(fig), (*legend, Key("Gjennomsnittet = 100", MEAN, line="dashed")))


def trend_chart(series: list[dict], *, focus_name: str, group: str) -> Chart:
    """Utvikling: per indicator the municipality's value as an index of that year's group mean (= 100).

    One axes for all, so indicators in kroner and in percent share a scale. ``series``: dicts with label,
    years, values, means.
    """
    height = 2.4
    fig = Figure(figsize=(WIDTH_IN, height))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.08, right=0.97, top=0.96, bottom=0.35 / height)
    colours = [to_hex(c) for c in matplotlib.colormaps["tab10"].colors]
    years = sorted({y for s in series for y in s["years"]})
    legend = []
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
        )
        legend.append(Key(s["label"], colours[i % 10], marker="o", line="solid"))
    ax.axhline(100, color=MEAN, linewidth=1, linestyle="--")
    ax.set_xticks(years, [str(y) for y in years])
    ax.yaxis.set_major_formatter(_nb_axis())
    ax.set_ylabel(f"{focus_name}, indeks ({group} = 100)", fontsize=8)
    legend.append(Key(f"{group}-snitt = 100", MEAN, line="dashed"))
    return Chart(_svg(fig), tuple(legend))
