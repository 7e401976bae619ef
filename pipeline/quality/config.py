"""Parameters of the data-quality checks (thresholds, Hidiroglou–Berthelot constants, severities).

One frozen dataclass so a run records exactly what it checked with; ``QualityConfig.from_env`` lets an
operator loosen or tighten a threshold without a code change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from enum import IntEnum


class Severity(IntEnum):
    """SSB's KOSTRA control program grades its controls this way; FATAL stops the publish."""

    INFO = 0
    WARNING = 1
    ERROR = 2
    FATAL = 3


# IPLOS (pleie og omsorg): each measure the checks compare, as the catalogue indicator that holds it in each
# age group. The one place that knows the names: the checks read these indicators (summed over ages and
# sexes by the catalogue matching) and look up their table and contents code in the catalogue, so a table
# replacement (12003 -> 12292, age group in the code suffix) is a catalogue change only.
IPLOS_AGE_GROUPS = ("0_66", "67_pluss")
IPLOS_MEASURE_INDICATORS: dict[str, str] = {
    "users": "po_brukere_hjemmetj_{group}",
    "users_year_end": "po_brukere_31des_{group}",
    "users_year": "po_brukere_aar_{group}",
    "hours": "po_timer_uke_{group}",
    "users_zero_hours": "po_brukere_null_timer_{group}",
    "users_extensive": "po_brukere_omfattende_{group}",
    "population": "pop_{group}",
}
# (age group, measure) -> indicator id, e.g. ("67_pluss", "hours") -> "po_timer_uke_67_pluss".
IPLOS_INDICATORS: dict[tuple[str, str], str] = {
    (group, measure): template.format(group=group)
    for group in IPLOS_AGE_GROUPS
    for measure, template in IPLOS_MEASURE_INDICATORS.items()
}


@dataclass(frozen=True)
class QualityConfig:
    # Hidiroglou–Berthelot on x_t / x_{t-1} within KOSTRA groups (SSB's defaults, ssb-kostra `hb`).
    hb_pu: float = 0.5
    hb_pa: float = 0.05
    hb_pc: float = 20.0
    # A KOSTRA group with fewer units than this is tested within all municipalities instead.
    hb_min_units: int = 8
    # HB flags are suspicions for review (INFO); a flagged change beyond this factor is a WARNING.
    hb_warning_change: float = 0.25
    # Plain relative change: |x_t / x_{t-1} - 1| above this, on values at least relative_change_min_value.
    relative_change_max: float = 1.0
    relative_change_min_value: float = 20.0
    # Values identical to last year: flag a table-region-year when at least this share of its cells (and
    # at least identical_min_cells of them) repeat last year's non-zero value exactly.
    identical_share: float = 0.9
    identical_min_cells: int = 4
    # Small counts repeat by chance (24 children in 2015 and 2016); only cells at least this big count.
    identical_min_value: float = 20.0
    # Register-based tables are never copied forward by SSB; a stable population is not an error.
    identical_skip_tables: tuple[str, ...] = ("07459",)
    # Tables whose cells are single years × sexes (07459): one cohort leaves each cell every year, so their
    # year-over-year checks compare the catalogue's age groups (indicator_cells) instead of raw cells.
    yoy_indicator_tables: tuple[str, ...] = ("07459",)
    # March → June revision larger than this percent (and at least revision_min_abs in the cell's unit).
    revision_max_pct: float = 20.0
    revision_min_abs: float = 1.0
    # IPLOS: hours a week per home-service user (a week has 168 hours; KOSTRA flags 35.5 as high).
    hours_per_user_max: float = 168.0
    hours_per_user_high: float = 35.5
    # Users with extensive needs get about 31 hours a week (domain notes); total hours below this many
    # hours per such user cannot be right.
    extensive_hours_floor: float = 10.0
    zero_hours_share_max: float = 0.5
    # Hours share / users share of an age group outside [1/r, r] is implausible.
    resource_share_ratio_max: float = 5.0
    # Accounts: tolerance in 1000 kr for rounding in identities.
    accounts_tolerance: float = 1.0
    # Status shares: flag an indicator-municipality whose '..' share over the years exceeds this.
    missing_share_max: float = 0.3
    index_tolerance: float = 0.01
    weights_tolerance: float = 1e-6

    @classmethod
    def from_env(cls) -> QualityConfig:
        """Override any field with ``KOSTRA_DQ_<FIELD>`` (e.g. ``KOSTRA_DQ_HB_PC=25``)."""
        kwargs = {}
        for f in fields(cls):
            raw = os.environ.get(f"KOSTRA_DQ_{f.name.upper()}")
            if raw is None:
                continue
            try:
                default = getattr(cls, f.name)
                kwargs[f.name] = tuple(raw.split(",")) if isinstance(default, tuple) else type(default)(raw)
            except ValueError as exc:
                raise ValueError(f"KOSTRA_DQ_{f.name.upper()}={raw!r}: not a valid {f.type}") from exc
        return cls(**kwargs)
