"""Hovedfunn: the report's generated sentences, from the marts' numbers and the catalogue's polarity.

A sentence states a fact and never more than the marts hold: the deviation from the group mean
(``deviation_pct`` of marts.service_profile, or P − 100 of marts.sector_indices), rounded to whole percent,
with the direction word of its sign ("lavere"/"høyere" for amounts, "under"/"over" for shares and rates), and,
where the indicator has a polarity, whether that is in the favourable direction. A value with a quality flag
or a series break in the three years gets "bruk med varsomhet" and why. The structured :class:`Finding`
keeps the numbers the sentence was written from, so a test can hold the text against the marts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from pipeline.report import numbers_nb as nb

# Deviations that round to under this many percent are "på nivå med" the mean.
LEVEL_PCT = 1.0
# Kinds whose deviation reads "under/over" (a share, rate or quality score) rather than "lavere/høyere".
UNDER_OVER_KINDS = {"coverage", "quality"}
# Indicators that describe need, not the service, are context: never a main finding.
SKIPPED_KINDS = {"need", "base"}
MAX_SENTENCES = 4
MIN_SENTENCES = 2


@dataclass(frozen=True)
class Finding:
    sector: str
    indicator_id: str | None  # None: the sector's production index
    deviation_pct: float
    direction: str  # "lavere", "høyere", "under", "over" or "på nivå med"
    favourable: bool | None  # None: neutral polarity, or at the mean
    caution: str | None  # why to use it with care, or None
    sentence: str


def group_phrase(group: str) -> tuple[str, str]:
    """("gjennomsnittet i ASSS-nettverket", "ASSS-gjennomsnittet"), or the words for a KOSTRA group, a list
    of municipalities or the similar group (canonical forms, pipeline.config.normalise_comparison_group)."""
    if group.upper() == "ASSS":
        return "gjennomsnittet i ASSS-nettverket", "ASSS-gjennomsnittet"
    if group.startswith("similar:"):
        return "gjennomsnittet for lignende kommuner", "snittet for lignende kommuner"
    if group.startswith("list:"):
        return "gjennomsnittet for de valgte kommunene", "snittet for de valgte kommunene"
    code = group.rsplit(":", 1)[-1]
    return f"gjennomsnittet i {code}", f"{code}-gjennomsnittet"


def direction_word(deviation_pct: float, kind: str | None) -> str:
    if abs(round(deviation_pct)) < LEVEL_PCT:
        return "på nivå med"
    under_over = kind in UNDER_OVER_KINDS
    if deviation_pct < 0:
        return "under" if under_over else "lavere"
    return "over" if under_over else "høyere"


def is_favourable(deviation_pct: float, polarity: str | None) -> bool | None:
    if abs(round(deviation_pct)) < LEVEL_PCT or polarity not in ("higher_better", "lower_better"):
        return None
    return (deviation_pct > 0) == (polarity == "higher_better")


def _subject(label: str) -> str:
    """A catalogue label as the subject of a sentence: capitalised first letter, nothing else touched."""
    return label[:1].upper() + label[1:] if label else label


def indicator_sentence(
    *,
    label: str,
    deviation_pct: float,
    kind: str | None,
    polarity: str | None,
    value: float | None,
    group_mean: float | None,
    unit: str | None,
    group: str,
    caution: str | None,
) -> tuple[str, str, bool | None]:
    long_phrase, short_phrase = group_phrase(group)
    word = direction_word(deviation_pct, kind)
    favourable = is_favourable(deviation_pct, polarity)
    if word == "på nivå med":
        text = f"{_subject(label)} er på nivå med {long_phrase}"
    elif word in ("under", "over"):
        text = f"{_subject(label)} er {nb.percent(deviation_pct)} {word} {short_phrase}"
    else:
        text = f"{_subject(label)} er {nb.percent(deviation_pct)} {word} enn {long_phrase}"
    if value is not None and group_mean is not None and not _nan(value) and not _nan(group_mean):
        # "5,2 mot 2,5 prosent", "72,0 mot 77,2 kroner"; a count or index reads best bare.
        unit_text = f" {unit}" if unit and unit not in ("indeks", "antall") else ""
        text += f" ({nb.auto(value)} mot {nb.auto(group_mean)}{unit_text})"
    if favourable is True:
        text += ", i gunstig retning"
    elif favourable is False:
        text += ", i ugunstig retning"
    text += "."
    if caution:
        text += f" Bruk med varsomhet: {caution}."
    return text, word, favourable


def index_sentence(sector_nb: str, production_index: float, group: str, caution: str | None) -> Finding:
    deviation = production_index - 100
    _, short_phrase = group_phrase(group)
    word = direction_word(deviation, None)
    name = sector_nb[:1].lower() + sector_nb[1:]
    if word == "på nivå med":
        text = f"Samlet ligger produksjonsindeksen til {name} på nivå med {short_phrase}"
    else:
        # One decimal, as the network writes it ("2,2 prosent lavere enn ASSS-snittet").
        text = f"Samlet ligger produksjonsindeksen til {name} {nb.percent(deviation, 1)} {word} enn {short_phrase}"
    text += f" (P = {nb.number(production_index, 1)})."
    if caution:
        text += f" Bruk med varsomhet: {caution}."
    return Finding("", None, deviation, word, is_favourable(deviation, "higher_better"), caution, text)


def _nan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def caution_of(quality_flag: str | None, series_break: str | None) -> str | None:
    reasons = []
    if quality_flag == "unreliable":
        reasons.append("tallet har feil i datakvalitetskontrollen")
    elif quality_flag == "use_with_care":
        reasons.append("tallet har en advarsel i datakvalitetskontrollen")
    if series_break:
        reasons.append(f"brudd i serien ({series_break})")
    return " og ".join(reasons) or None


def sector_findings(
    profile: pd.DataFrame,
    *,
    sector_key: str,
    group: str,
    weights: dict[str, float],
    breaks: dict[str, str],
    production_index: float | None = None,
    sector_nb: str = "",
    index_caution: str | None = None,
) -> list[Finding]:
    """Two to four findings of one report sector, largest weighted deviation first.

    ``profile``: the municipality's service_profile rows of the year for the sector's profile sectors.
    ``weights``: indicator -> weight in the sector's production index (0 when not in it); a deviation counts
    ``1 + weight`` times, so among equal deviations the one that moves P comes first.
    ``breaks``: indicator -> series break reason within the last three years.
    """
    out: list[Finding] = []
    if production_index is not None and not _nan(production_index):
        f = index_sentence(sector_nb, production_index, group, index_caution)
        out.append(
            Finding(sector_key, None, f.deviation_pct, f.direction, f.favourable, f.caution, f.sentence)
        )
    # A need indicator with a polarity (a lower share of long-term social assistance is better) is a finding;
    # one without says only who the municipality serves.
    context = profile["kind"].isin(SKIPPED_KINDS) & ~profile["polarity"].isin(
        ["higher_better", "lower_better"]
    )
    rows = profile[~context & (profile["kind"] != "base") & profile["deviation_pct"].notna()].copy()
    weight = [float(weights.get(i) or 0.0) for i in rows["indicator_id"]]
    rows["score"] = rows["deviation_pct"].abs().astype(float) * [1 + w for w in weight]
    rows = rows.sort_values(["score", "indicator_id"], ascending=[False, True])
    for r in rows.itertuples():
        if len(out) >= MAX_SENTENCES:
            break
        # Beyond the minimum, a deviation at the mean is not a finding.
        if len(out) >= MIN_SENTENCES and abs(round(r.deviation_pct)) < LEVEL_PCT:
            break
        caution = caution_of(r.quality_flag, breaks.get(r.indicator_id))
        text, word, favourable = indicator_sentence(
            label=r.label_nb,
            deviation_pct=float(r.deviation_pct),
            kind=r.kind,
            polarity=r.polarity,
            value=r.value,
            group_mean=r.group_mean,
            unit=r.unit,
            group=group,
            caution=caution,
        )
        out.append(
            Finding(sector_key, r.indicator_id, float(r.deviation_pct), word, favourable, caution, text)
        )
    return out
