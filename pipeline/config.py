"""Where the warehouse keeps its state, and the analysis parameters shared by Python and dbt.

All state (landing store, private build file, published warehouse, demo release) lives under one
home folder so several homes can coexist: ``warehouse/`` in the repository by default, or
``$KOSTRA_HOME``.
"""

from __future__ import annotations

import os
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

    def ensure(self) -> Home:
        for p in (self.root, self.landing, self.build_dir, self.versions_dir):
            p.mkdir(parents=True, exist_ok=True)
        return self


FOCUS_ENV = "KOSTRA_FOCUS"
COMPARATORS_ENV = "KOSTRA_COMPARATORS"
COMPARISON_GROUP_ENV = "KOSTRA_COMPARISON_GROUP"


@dataclass(frozen=True)
class Comparison:
    """Focus and comparison parameters; passed to dbt as vars so SQL never hard-codes a municipality.

    A pipeline run takes them as run config (``orchestration.defs.dbt.assets.ComparisonConfig``), whose defaults
    come from :meth:`from_env`: ``KOSTRA_FOCUS`` (a municipality code), ``KOSTRA_COMPARATORS`` (codes,
    comma-separated) and ``KOSTRA_COMPARISON_GROUP`` (``ASSS`` or a KOSTRA group such as ``EKG13``).
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

    def dbt_vars(self) -> dict:
        return {
            "focus_municipality": self.focus_municipality,
            "comparison_group": self.comparison_group,
            "extra_comparators": list(self.extra_comparators),
        }
