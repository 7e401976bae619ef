"""The dbt build of staging, intermediate and mart models."""
