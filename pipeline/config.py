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

    def ensure(self) -> Home:
        for p in (self.root, self.landing, self.build_dir, self.versions_dir):
            p.mkdir(parents=True, exist_ok=True)
        return self


@dataclass(frozen=True)
class Comparison:
    """Focus and comparison parameters; passed to dbt as vars so SQL never hard-codes a municipality."""

    focus_municipality: str = "3201"  # Bærum (current code)
    comparison_group: str = "ASSS"
    extra_comparators: tuple[str, ...] = field(default=("3203",))  # Asker

    @classmethod
    def from_env(cls) -> Comparison:
        focus = os.environ.get("KOSTRA_FOCUS", cls.focus_municipality)
        extra = os.environ.get("KOSTRA_COMPARATORS")
        return cls(
            focus_municipality=focus,
            extra_comparators=tuple(extra.split(",")) if extra else cls().extra_comparators,
        )

    def dbt_vars(self) -> dict:
        return {
            "focus_municipality": self.focus_municipality,
            "comparison_group": self.comparison_group,
            "extra_comparators": list(self.extra_comparators),
        }
