"""The landing store keeps bytes exactly, never overwrites, and only whole fetches count."""

import hashlib

import pytest

from pipeline.landing.store import LandingError, LandingStore, Part


def _parts(*bodies: bytes) -> list[Part]:
    return [Part(body=b, query={"part": i}, cells=len(b)) for i, b in enumerate(bodies)]


def test_land_stores_bytes_content_addressed_with_manifest(tmp_path):
    store = LandingStore(tmp_path)
    body = b'{"class": "dataset"}  \n'  # odd whitespace must survive byte for byte
    rec = store.land("13502", _parts(body), updated="2024-06-17T06:00:00Z", source="file:x")
    sha = hashlib.sha256(body).hexdigest()
    assert rec.objects == [sha]
    assert store.read_object(sha) == body
    row = store.manifest_row(sha)
    assert (row.table_id, row.updated, row.source, row.cells, row.part, row.parts) == (
        "13502",
        "2024-06-17T06:00:00Z",
        "file:x",
        len(body),
        0,
        1,
    )


def test_relanding_identical_bytes_is_a_noop(tmp_path):
    store = LandingStore(tmp_path)
    first = store.land("13502", _parts(b"a", b"b"), updated="2024-06-17T06:00:00Z", source="s")
    files_before = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    mtimes = [p.stat().st_mtime_ns for p in files_before]
    again = store.land("13502", _parts(b"a", b"b"), updated="2024-06-17T06:00:00Z", source="s")
    assert again.fetch_id == first.fetch_id and again.is_noop and not first.is_noop
    files_after = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert files_after == files_before
    assert [p.stat().st_mtime_ns for p in files_after] == mtimes
    assert len(list(store.fetches())) == 1


def test_two_releases_of_one_table_are_kept_side_by_side(tmp_path):
    store = LandingStore(tmp_path)
    store.land("13502", _parts(b"march"), updated="2024-03-15T07:00:00Z", source="s")
    store.land("13502", _parts(b"june"), updated="2024-06-17T06:00:00Z", source="s")
    assert store.releases() == {"13502": {"2024-03-15T07:00:00Z", "2024-06-17T06:00:00Z"}}
    assert [r.updated for r in store.fetches()] == ["2024-03-15T07:00:00Z", "2024-06-17T06:00:00Z"]


def test_objects_without_a_fetch_record_are_not_a_release(tmp_path):
    # A run that died after writing some parts: the objects exist but no fetch record does.
    store = LandingStore(tmp_path)
    rec = store.land("12367", _parts(b"p0", b"p1"), updated="2024-06-17T06:00:00Z", source="s")
    (store.fetches_dir / f"{rec.fetch_id}.json").unlink()
    assert list(store.fetches()) == []
    assert store.releases() == {}


def test_damaged_object_is_detected(tmp_path):
    store = LandingStore(tmp_path)
    rec = store.land("12367", _parts(b"p0"), updated="2024-06-17T06:00:00Z", source="s")
    store.object_path(rec.objects[0]).write_bytes(b"tampered")
    with pytest.raises(LandingError, match="does not match its sha256"):
        store.read_object(rec.objects[0])


def test_empty_fetch_is_refused(tmp_path):
    with pytest.raises(LandingError, match="table 12367"):
        LandingStore(tmp_path).land("12367", [], updated=None, source="s")
