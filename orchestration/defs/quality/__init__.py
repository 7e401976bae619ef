"""Data-quality assets: the findings of every check after the dbt build, blocking the publish on FATAL."""
