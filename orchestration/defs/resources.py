"""The resources every system shares: the home, the statbank, and dbt (the one beside this interpreter)."""

import sys
from pathlib import Path

import dagster as dg

from orchestration.defs.dbt.assets import dbt_project
from orchestration.resources import HomeResource, KostraDbtCliResource, StatbankResource


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "home": HomeResource(),
            "statbank": StatbankResource(),
            # The venv's dbt, even when the venv is not on PATH.
            "dbt": KostraDbtCliResource(
                project_dir=dbt_project,
                profiles_dir=str(dbt_project.profiles_dir),
                dbt_executable=str(Path(sys.executable).with_name("dbt")),
            ),
        }
    )
