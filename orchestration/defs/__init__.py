"""The Dagster definitions, one folder per system (dagster-open-platform's layout), loaded by
``dg.load_from_defs_folder`` in ``orchestration.definitions`` rather than listed by hand: ``ssb/`` (ingest of each
catalogue table), ``warehouse/`` (raw tables, publish), ``dbt/`` (the two dbt steps), ``quality/`` (findings,
report), ``schedules/`` (jobs, publication-day schedule, sensors), ``resources.py``."""
