"""Norwegian number formatting for everything the report shows: decimal comma, thin-space thousands, "prosent".

Språkrådet's rule: a comma before the decimals and a (thin) space between groups of three digits. The
space is U+202F NARROW NO-BREAK SPACE, the thin space that never breaks a number across two lines; the
minus is U+2212, as in typeset Norwegian text. Every number in the HTML, the PDF and the generated sentences
goes through this module, so one test covers them all.
"""

from __future__ import annotations

import math

THIN_SPACE = "\u202f"
MINUS = "\u2212"
DASH = "–"  # what a table shows for a missing value


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def number(value, decimals: int = 1) -> str:
    """``1234567.891`` → ``1 234 567,9`` (thin spaces), ``-0.25`` with 1 decimal → ``−0,3``; None → ``–``."""
    if _missing(value):
        return DASH
    rounded = round(float(value), decimals)
    if rounded == 0:
        rounded = 0.0  # no "−0,0"
    text = f"{abs(rounded):,.{decimals}f}"
    text = text.replace(",", THIN_SPACE).replace(".", ",")
    return (MINUS + text) if rounded < 0 else text


def auto(value) -> str:
    """A value in a table: whole numbers from 1 000 up, one decimal from 10, two below."""
    if _missing(value):
        return DASH
    size = abs(float(value))
    return number(value, 0 if size >= 1000 else 1 if size >= 10 else 2)


def percent(value, decimals: int = 0) -> str:
    """The size of a deviation in words: ``-7.2`` → ``7 prosent`` (the sign is the sentence's direction word)."""
    if _missing(value):
        return DASH
    return f"{number(abs(float(value)), decimals)} prosent"


def signed_percent(value, decimals: int = 1) -> str:
    """A change in a table: ``+3,4 %``, ``−2,0 %``."""
    if _missing(value):
        return DASH
    text = number(value, decimals)
    return f"{'+' if round(float(value), decimals) > 0 else ''}{text}{THIN_SPACE}%"


def grade(value) -> str:
    """A barometer grade (1–6): two decimals."""
    return number(value, 2)
