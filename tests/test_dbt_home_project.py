"""A home's dbt project folder: links to the repository's ``dbt_project/``, from which the profile's path to
the build file is one relative string for every home, so dbt's parse state carries from home to home."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipeline.config import DBT_PROJECT_DIR, Home
from pipeline.transform.dbt_runner import BUILD_DB_ENV, HOME_BUILD_DB, home_dbt_env, link_project


def _links(folder: Path) -> dict[str, Path]:
    return {entry.name: Path(os.readlink(entry)) for entry in folder.iterdir() if entry.is_symlink()}


def test_every_entry_of_the_project_is_linked_and_the_build_file_is_found_from_there(tmp_path):
    home = Home(tmp_path / "home").ensure()
    folder = link_project(home)

    expected = {e.name: e for e in DBT_PROJECT_DIR.iterdir() if e.name not in {"logs", "dbt_packages"}}
    assert {"dbt_project.yml", "models", "macros", "seeds", "tests", "target"} <= set(expected)
    assert _links(folder) == expected
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)
    # The profile's path, read from the folder dbt runs in, is the home's own build file.
    assert home_dbt_env()[BUILD_DB_ENV] == HOME_BUILD_DB
    assert not Path(HOME_BUILD_DB).is_absolute()
    assert (folder / HOME_BUILD_DB).resolve() == home.build_db.resolve()
    # The same string in any other home: dbt's partial-parse state is keyed on it.
    other = Home(tmp_path / "elsewhere" / "deeper").ensure()
    assert (link_project(other) / HOME_BUILD_DB).resolve() == other.build_db.resolve()


def test_a_copied_a_moved_and_a_stale_folder_are_linked_again(tmp_path):
    home = Home(tmp_path / "home").ensure()
    link_project(home)
    # A home copied without keeping its links holds copies of the project's folders where the links were.
    copy = Home(tmp_path / "copy")
    shutil.copytree(home.root, copy.root)
    assert not (copy.dbt_project_dir / "models").is_symlink()
    # A link to another checkout, and an entry the project no longer has.
    shutil.rmtree(copy.dbt_project_dir / "seeds")
    (copy.dbt_project_dir / "seeds").symlink_to(tmp_path / "old-checkout" / "seeds")
    (copy.dbt_project_dir / "analyses").symlink_to(tmp_path / "old-checkout" / "analyses")

    folder = link_project(copy)

    assert _links(folder) == _links(home.dbt_project_dir)
    assert sorted(p.name for p in folder.iterdir()) == sorted(_links(home.dbt_project_dir))
    assert (DBT_PROJECT_DIR / "models").exists()  # the repository's own files are untouched
