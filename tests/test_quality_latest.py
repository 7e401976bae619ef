"""The newest quality report is published to reports/quality/latest, whole, replacing the previous one."""

import os
import time

import pytest

from pipeline.quality.report import publish_latest


def _run(dir_, name, text, age):
    run = dir_ / name
    (run / "data_docs").mkdir(parents=True)
    (run / "index.html").write_text(text)
    (run / "data_docs" / "index.html").write_text(f"docs {text}")
    t = time.time() - age
    os.utime(run / "index.html", (t, t))
    return run


def test_latest_is_the_newest_run_and_is_replaced_whole(tmp_path):
    _run(tmp_path, "run-a", "old", age=100)
    _run(tmp_path, "run-b", "new", age=10)
    latest = publish_latest(tmp_path)
    assert (latest / "index.html").read_text() == "new"
    assert (latest / "data_docs" / "index.html").read_text() == "docs new"
    _run(tmp_path, "run-c", "newest", age=0)
    publish_latest(tmp_path)
    assert (latest / "index.html").read_text() == "newest"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "run-a", "run-b", "run-c"]


def test_no_report_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no data-quality report"):
        publish_latest(tmp_path)
