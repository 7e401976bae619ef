"""``make dbt-parse``: parse the dbt project once, as a home's dbt step sees it.

dbt writes ``dbt_project/target/manifest.json`` (the asset graph Dagster loads) and
``partial_parse.msgpack``, which dagster-dbt copies into a home's empty target folder (its documented reuse of
the parse state, through the home's ``target`` link, ``dbt_runner.link_project``). dbt reuses a parse state
only for the same rendered profile and the same vars, so this parse renders the profile a home's step renders
(:data:`~pipeline.transform.dbt_runner.HOME_BUILD_DB`) with the vars a build passes by default (the
environment's, :meth:`pipeline.config.Comparison.from_env`). Any other vars or memory limit parse again, as
dbt decides for itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.config import DBT_PROJECT_DIR, Comparison, Home
from pipeline.transform.dbt_runner import dbt_args, home_dbt_env


def main() -> int:
    args = dbt_args("parse", Comparison.from_env(), log_path=Home.from_env().dbt_log_dir, extra=["--quiet"])
    dbt = Path(sys.executable).with_name("dbt")
    # The project folder as working directory, as a person running dbt there by hand has it.
    return subprocess.run(
        [str(dbt), *args], env={**os.environ, **home_dbt_env()}, cwd=DBT_PROJECT_DIR
    ).returncode


if __name__ == "__main__":
    raise SystemExit(main())
