"""Dagster definitions for kostra-warehouse, one folder per source or system (ssb, warehouse, dbt)."""

import warnings

# Single-run backfills and pools are marked beta in Dagster; the warning repeats per asset and says nothing
# the code does not.
warnings.filterwarnings("ignore", message=r".*is currently in beta.*")
warnings.filterwarnings("ignore", message=r".*is currently in preview.*")
