"""Where the warehouse keeps its state, and the analysis parameters shared by Python and dbt.

All state (landing store, private build file, published warehouse, demo release) lives under one
home folder so several homes can coexist: ``warehouse/`` in the repository by default, or
``$KOSTRA_HOME``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

# SSB's production endpoints. The demo run points the same client at a local server instead.
SSB_V0_ROOT = "https://data.ssb.no/api/v0"
SSB_V2_ROOT = "https://data.ssb.no/api/pxwebapi/v2"
KLASS_ROOT = "https://data.ssb.no/api/klass/v1"


@dataclass(frozen=True)
class Home:
    """The folder layout of one warehouse home."""

    root: Path

    @classmethod
    def from_env(cls) -> Home:
        root = os.environ.get("KOSTRA_HOME")
        return cls(Path(root).expanduser().resolve() if root else REPO_ROOT / "warehouse")

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def build_db(self) -> Path:
        """The pipeline's private DuckDB file; analysts never open it."""
        return self.build_dir / "kostra_build.duckdb"

    @property
    def published_db(self) -> Path:
        """The analyst warehouse, replaced atomically on publish."""
        return self.root / "kostra.duckdb"

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    @property
    def demo_dir(self) -> Path:
        return self.root / "demo"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def dbt_dir(self) -> Path:
        """dbt's working output for this home: never the repository's ``dbt_project/``."""
        return self.root / "dbt"

    @property
    def dbt_target_dir(self) -> Path:
        """Where every pipeline dbt invocation writes its target (one sub-folder per Dagster run)."""
        return self.dbt_dir / "target"

    @property
    def dbt_log_dir(self) -> Path:
        """Where dbt writes ``dbt.log``."""
        return self.dbt_dir / "logs"

    @property
    def dbt_project_dir(self) -> Path:
        """The dbt project as this home's dbt steps run it: links to the repository's ``dbt_project/``
        (``pipeline.transform.dbt_runner.link_project``)."""
        return self.dbt_dir / "project"

    def ensure(self) -> Home:
        for p in (self.root, self.landing, self.build_dir, self.versions_dir):
            p.mkdir(parents=True, exist_ok=True)
        return self


FOCUS_ENV = "KOSTRA_FOCUS"
COMPARATORS_ENV = "KOSTRA_COMPARATORS"
COMPARISON_GROUP_ENV = "KOSTRA_COMPARISON_GROUP"


COMPARISON_GROUP_FORMS = (
    "'asss' (default), a KOSTRA group ('EKG13', or by grouping and code 'kostra:2020:EKG12'), "
    "a list of municipality codes ('list:0301,4601,5001') or 'similar' (the focus municipality's nearest; "
    "'similar:4601' for another one's)"
)
_CODE = re.compile(r"^\d{4}$")


def normalise_comparison_group(text: str, focus: str = "3201") -> str:
    """The canonical form of a comparison group, as every mart's ``comparison_group`` column shows it
    (``dbt_project/macros/comparison_group.sql`` accepts the same forms and writes the same result):
    ``ASSS``, ``EKGnn``, ``kostra:<grouping>:EKGnn``, ``list:dddd,dddd`` (sorted, no repeats) or
    ``similar:dddd`` (``similar`` alone is the focus municipality's group). Anything else is a ValueError
    naming the accepted forms."""
    group = str(text).strip()
    lower = group.lower()
    if lower == "asss":
        return "ASSS"
    if re.fullmatch(r"ekg\d{2}", lower):
        return group.upper()
    m = re.fullmatch(r"kostra:([a-z0-9-]+):(ekg\d{2})", lower)
    if m:
        return f"kostra:{m.group(1)}:{m.group(2).upper()}"
    m = re.fullmatch(r"(?:list:)?\s*(\d{4}(?:\s*,\s*\d{4})*)\s*", lower)
    if m:
        codes = sorted({c.strip() for c in m.group(1).split(",")})
        return "list:" + ",".join(codes)
    if lower == "similar":
        if not _CODE.match(str(focus)):
            raise ValueError(f"comparison group 'similar' needs a 4-digit focus municipality, got {focus!r}")
        return f"similar:{focus}"
    if re.fullmatch(r"similar:\d{4}", lower):
        return lower
    raise ValueError(f"comparison group {group!r}: use {COMPARISON_GROUP_FORMS}")


def comparison_group_label_nb(group: str) -> str:
    """A Norwegian name for a canonical comparison group, for people (the report, exports)."""
    if group == "ASSS":
        return "ASSS"
    if group.startswith("kostra:"):
        _, grouping, code = group.split(":")
        return f"KOSTRA-gruppe {code} (inndeling {grouping})"
    if re.fullmatch(r"EKG\d{2}", group):
        return f"KOSTRA-gruppe {group}"
    if group.startswith("list:"):
        return "valgte kommuner (" + group.removeprefix("list:").replace(",", ", ") + ")"
    if group.startswith("similar:"):
        return f"lignende kommuner ({group.removeprefix('similar:')} og de mest like etter struktur)"
    return group


@dataclass(frozen=True)
class Comparison:
    """Focus and comparison parameters; passed to dbt as vars so SQL never hard-codes a municipality.

    A pipeline run takes them as run config (``orchestration.defs.dbt.assets.ComparisonConfig``), whose defaults
    come from :meth:`from_env`: ``KOSTRA_FOCUS`` (a municipality code), ``KOSTRA_COMPARATORS`` (codes,
    comma-separated) and ``KOSTRA_COMPARISON_GROUP`` (any form of :func:`normalise_comparison_group`:
    ``asss``, ``EKG13``, ``kostra:2020:EKG12``, ``list:0301,4601``, ``similar``).
    """

    focus_municipality: str = "3201"  # Bærum (current code)
    comparison_group: str = "ASSS"
    extra_comparators: tuple[str, ...] = field(default=("3203",))  # Asker

    @classmethod
    def from_env(cls) -> Comparison:
        default = cls()
        focus = os.environ.get(FOCUS_ENV, "").strip()
        group = os.environ.get(COMPARISON_GROUP_ENV, "").strip()
        extra = [c.strip() for c in os.environ.get(COMPARATORS_ENV, "").split(",") if c.strip()]
        return cls(
            focus_municipality=focus or default.focus_municipality,
            comparison_group=group or default.comparison_group,
            extra_comparators=tuple(extra) if extra else default.extra_comparators,
        )

    @property
    def canonical_group(self) -> str:
        """The comparison group in the canonical form the marts show (ValueError when it is not one)."""
        return normalise_comparison_group(self.comparison_group, self.focus_municipality)

    def dbt_vars(self) -> dict:
        return {
            "focus_municipality": self.focus_municipality,
            "comparison_group": self.canonical_group,
            "extra_comparators": list(self.extra_comparators),
        }


MEMORY_LIMIT_ENV = "KOSTRA_DUCKDB_MEMORY_LIMIT"


def duckdb_memory_limit() -> str | None:
    """``KOSTRA_DUCKDB_MEMORY_LIMIT``: DuckDB's ``memory_limit`` for the build's own databases (dbt's, through
    the profile, and the quality stage's workspace), or None for DuckDB's default. Checked by DuckDB itself,
    so that a value it refuses is one line before any run, not a failed dbt step per node."""
    value = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if not value:
        return None
    import duckdb

    try:
        duckdb.connect(config={"memory_limit": value}).close()
    except duckdb.Error:
        raise ValueError(
            f"{MEMORY_LIMIT_ENV}={value!r} is not a DuckDB memory limit (e.g. 700MB, 2GB or 50%)"
        ) from None
    return value


# How DuckDB shows a memory limit (current_setting('memory_limit'), e.g. '667.5 MiB').
_SHOWN_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}


def _limit_bytes(value: str) -> float:
    import duckdb

    con = duckdb.connect(config={"memory_limit": value})
    try:
        number, unit = con.execute("select current_setting('memory_limit')").fetchone()[0].split()
    finally:
        con.close()
    return float(number) * _SHOWN_UNITS[unit]


def memory_limit_at_most(own: str) -> str:
    """A connection's own DuckDB ``memory_limit``, or ``KOSTRA_DUCKDB_MEMORY_LIMIT`` where that is smaller: the
    setting caps every database of the build, and a stage that needs less keeps to its own."""
    user = duckdb_memory_limit()
    return user if user is not None and _limit_bytes(user) < _limit_bytes(own) else own
