"""A writer of the landing store killed before its rename leaves a temporary file; the next writer removes it
(only names of the store's own temporary pattern, and only when no live writer could still be writing them),
and keeps every real file. Found by the crash suite: a SIGKILL while a fetch wrote its manifest left
``landing/manifest/.<sha>.json.<random>.tmp`` that no later run removed."""

from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.landing.ingest import ingest_files
from pipeline.landing.store import WRITERS_LOCK, LandingStore, Part, is_temporary
from tests.jsonstat_factory import make_doc

UPDATED = "2024-06-17T06:00:00Z"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _land(store: LandingStore, *bodies: bytes, updated: str = UPDATED):
    parts = [Part(body=b, query={"part": i}, cells=len(b)) for i, b in enumerate(bodies)]
    return store.land("13502", parts, updated=updated, source="test")


def _plant(store: LandingStore, rec) -> list[Path]:
    """What writers killed before their rename leave: one temporary beside each kind of file."""
    sha = rec.objects[0]
    planted = [
        store.manifest_dir / f".{sha}.json.xj273ac4.tmp",
        store.object_path(sha).parent / f".{sha}.json.k2_9zq0a.tmp",
        store.fetches_dir / f".{rec.fetch_id}.json.abcdefgh.tmp",
        store.quarantine_dir / f".{sha}.json.01234567.tmp",
    ]
    for path in planted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'{"half": ')
    return planted


def test_the_temporary_name_pattern_is_the_stores_own():
    assert is_temporary(".72f623c8.json.xj273ac4.tmp")
    assert is_temporary(".abc.json.k2_9zq0a.tmp")
    for name in ("abc.json", ".lock", WRITERS_LOCK, "notes.tmp", ".abc.json.tmp", ".abc.json.short.tmp"):
        assert not is_temporary(name), name


def test_the_next_land_removes_a_killed_writers_temporaries_and_keeps_every_real_file(tmp_path):
    # The killed writer's release, landed by an earlier writer; the next land is a store object of its own
    # (the next process or ingest step).
    first = _land(LandingStore(tmp_path / "landing"), b"part 0", b"part 1")
    store = LandingStore(tmp_path / "landing")
    planted = _plant(store, first)
    # Files that merely look alike are not the store's temporaries: they stay.
    lookalikes = [
        store.manifest_dir / "notes.tmp",
        store.manifest_dir / ".abc.json.tmp",
        tmp_path / ".x.json.abcdefgh.tmp",
    ]
    for path in lookalikes:
        path.write_bytes(b"keep me")
    before = _files(tmp_path)

    second = _land(store, b"june part", updated="2024-06-18T06:00:00Z")

    after = _files(tmp_path)
    assert not any(p.exists() for p in planted)
    kept = {k: v for k, v in before.items() if not any(str(p.relative_to(tmp_path)) == k for p in planted)}
    assert {k: after[k] for k in kept} == kept  # every real file (and every look-alike) as it was
    new = set(after) - set(before)
    assert new == {
        str(p.relative_to(tmp_path))
        for p in (
            store.object_path(second.objects[0]),
            store.manifest_dir / f"{second.objects[0]}.json",
            store.fetches_dir / f"{second.fetch_id}.json",
        )
    }
    assert [r.fetch_id for r in store.fetches()] == [first.fetch_id, second.fetch_id]
    assert store.read_object(first.objects[1]) == b"part 1"


def test_a_store_object_sweeps_on_its_first_write_only_and_sweep_always_does(tmp_path):
    # An ingest lands release after release through one store object: the walk of the whole store on every
    # land was 1.6 s of the whole demo's 22 s ingest.
    store = LandingStore(tmp_path / "landing")
    first = _land(store, b"part 0")
    planted = _plant(store, first)
    _land(store, b"june part", updated="2024-06-18T06:00:00Z")
    assert all(p.exists() for p in planted)  # left to the next writer or sweep()
    assert sorted(store.sweep()) == sorted(planted)
    assert not any(p.exists() for p in planted)


def test_a_run_that_lands_nothing_new_still_removes_them(tmp_path):
    # The next `kostra ingest-file` of a release already landed writes nothing, and still cleans up.
    store = LandingStore(tmp_path / "landing")
    doc = tmp_path / "13502.json"
    doc.write_bytes(
        make_doc(
            "13502",
            {"KOKkommuneregion0000": ["0301"], "ContentsCode": ["KOSAG110000"], "Tid": ["2024"]},
            updated=UPDATED,
        )
    )
    (done,) = ingest_files(store, [doc])
    planted = _plant(store, done.record)
    before = _files(tmp_path)
    (again,) = ingest_files(store, [doc])
    assert again.record.is_noop
    assert not any(p.exists() for p in planted)
    assert _files(tmp_path) == {k: v for k, v in before.items() if not is_temporary(Path(k).name)}


def test_a_live_writers_temporaries_are_left_alone(tmp_path):
    store = LandingStore(tmp_path / "landing")
    rec = _land(store, b"part 0")
    planted = _plant(store, rec)
    with open(store.root / WRITERS_LOCK, "a+b") as other:  # another writer, alive and writing
        fcntl.flock(other, fcntl.LOCK_SH)
        assert store.sweep() == []
        _land(store, b"another release", updated="2024-06-18T06:00:00Z")  # it writes beside that writer
        assert all(p.exists() for p in planted)
        fcntl.flock(other, fcntl.LOCK_UN)
    assert sorted(store.sweep()) == sorted(planted)
    assert not any(p.exists() for p in planted)


WRITER = """
import os, sys, time
from pathlib import Path
from pipeline.landing.store import LandingStore, Part

def stall(fd):  # the temporary file is written; the process is killed before its rename
    print("writing", flush=True)
    time.sleep(600)

os.fsync = stall
LandingStore(Path(sys.argv[1])).land(
    "13502", [Part(body=b"whole part", query=None, cells=1)], updated="2024-06-17T06:00:00Z", source="test"
)
"""


def test_a_writer_killed_before_its_rename_is_cleaned_up_by_the_next_one(tmp_path):
    root = tmp_path / "landing"
    store = LandingStore(root)
    kept = _land(store, b"an older release", updated="2024-03-15T07:00:00Z")
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root)], env=env, stdout=subprocess.PIPE, text=True, cwd=repo
    )
    try:
        assert proc.stdout.readline().strip() == "writing"
        temporaries = [p for p in root.rglob("*") if is_temporary(p.name)]
        assert len(temporaries) == 1
        # While it lives, the file may still be renamed into place: a sweep leaves it.
        assert store.sweep() == [] and temporaries[0].exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    deadline = time.monotonic() + 5
    while not store.sweep() and time.monotonic() < deadline:  # the kernel frees the lock with the process
        time.sleep(0.05)
    assert not temporaries[0].exists()
    assert not [p for p in root.rglob("*") if is_temporary(p.name)]
    assert [r.fetch_id for r in store.fetches()] == [kept.fetch_id]
    sha = hashlib.sha256(b"an older release").hexdigest()
    assert store.read_object(sha) == b"an older release"


def test_a_stop_signal_anywhere_in_a_write_leaves_no_temporary_and_the_old_file_whole(tmp_path, monkeypatch):
    """Ctrl+C raises where it lands: right after the temporary file is created (found by the SIGTERM test,
    once the ingest step stopped at once: tempfile.mkstemp had made the file but not yet returned its name),
    or at the rename. The write is then undone, and what was there before is still there, whole."""
    from pipeline.landing import store as store_module

    target = tmp_path / "fetches" / "abc.json"
    target.parent.mkdir()
    target.write_bytes(b'{"whole": true}')
    real_open, real_replace = os.open, os.replace

    def open_then_stop(*args, **kwargs):
        real_open_fd = real_open(*args, **kwargs)
        os.close(real_open_fd)
        raise KeyboardInterrupt

    def stop_at_rename(*args, **kwargs):
        raise KeyboardInterrupt

    for patch in ((os, "open", open_then_stop), (os, "replace", stop_at_rename)):
        with monkeypatch.context() as m:
            m.setattr(*patch)
            try:
                store_module._atomic_write(target, b'{"new": true}')
            except KeyboardInterrupt:
                pass
            else:
                raise AssertionError(f"{patch[1]}: the interrupt was swallowed")
        assert sorted(p.name for p in target.parent.iterdir()) == ["abc.json"], patch[1]
        assert target.read_bytes() == b'{"whole": true}'
    assert real_open is os.open and real_replace is os.replace
    store_module._atomic_write(target, b'{"new": true}')
    assert target.read_bytes() == b'{"new": true}'
