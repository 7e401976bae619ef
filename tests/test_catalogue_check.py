"""``kostra catalogue check``: a verdict per catalogue row against live metadata (any PxWebApi server) or
recorded responses, the counts, the review patch, and one clear line when the server cannot be reached."""

from __future__ import annotations

import csv
import subprocess
from datetime import date

import pytest

from pipeline.cli import main
from pipeline.demo.server import RecordedSource, serve
from pipeline.ssb.catalogue_check import (
    LiveMetadata,
    RecordedMetadata,
    check_catalogue,
    format_report,
    write_patch,
)
from pipeline.ssb.client import SsbClient
from tests.test_live_offline import kostra

FIXTURE_12209 = ("Alksalt__omsorgsradar", "ssb_12209_g2_fixture.json")
REAL_CODE = "KOShjtj80aarover0001"  # in the recorded 12209 response
LABEL = "Andel innbyggere 80 år og over som bruker hjemmetjenester"


def row(indicator_id: str, table_id: str, contents_code: str, label: str = LABEL, **extra) -> dict:
    """A catalogue row with the columns the check reads (the filter columns empty)."""
    base = dict.fromkeys(
        ("funksjon", "art", "alder", "regnskapsomfang", "first_year", "last_year", "source", "confirmed_on"),
        "",
    )
    return {
        **base,
        "indicator_id": indicator_id,
        "table_id": table_id,
        "contents_code": contents_code,
        "label_nb": label,
        "status": "unverified",
        **extra,
    }


ROWS = [
    row("real", "12209", REAL_CODE, status="confirmed"),
    # Deliberately wrong codes: the check must flag them, naming the real code nearest by label.
    row("wrong_code", "12209", "KOSfinnesikke0000"),
    row("no_table", "12255", "KOSgrunnskolepoe0000", label="Grunnskolepoeng"),
    row("derived", "", "", label="computed", status="derived"),
]


@pytest.mark.realdata
def test_check_against_a_server_replaying_the_recorded_12209(snapshots, tmp_path):
    source = RecordedSource([snapshots.joinpath(*FIXTURE_12209)])
    with serve(source, max_calls=1000, window_seconds=1) as srv:
        client = SsbClient(srv.v0_root, srv.v2_root, retries=1, backoff_factor=0.01, progress=False)
        results = check_catalogue(ROWS, LiveMetadata(client))
    verdicts = {r.row["indicator_id"]: r.verdict for r in results}
    assert verdicts == {
        "real": "ok",
        "wrong_code": "unknown code",
        "no_table": "unknown table",
        "derived": "not checked",
    }
    wrong = next(r for r in results if r.row["indicator_id"] == "wrong_code")
    assert wrong.text.startswith(f"unknown code ContentsCode=KOSfinnesikke0000 (nearest: {REAL_CODE} ")
    assert [r.fails for r in results] == [False, True, True, False]
    lines = format_report(results, "test server")
    assert lines[-2] == "4 rows — by verdict: unknown table 1, unknown code 1, not checked 1, ok 1"
    assert lines[-1] == "by status: confirmed 1, derived 1, unverified 2"

    patch = tmp_path / "patch.csv"
    assert write_patch(results, patch, status="confirmed_live", columns=list(ROWS[0])) == 1
    (written,) = list(csv.DictReader(patch.open(encoding="utf-8")))
    assert written["indicator_id"] == "real" and written["status"] == "confirmed_live"
    assert written["confirmed_on"] == date.today().isoformat()
    assert written["source"].startswith(f"{srv.v2_root}/tables/12209")


@pytest.mark.realdata
def test_recorded_responses_confirm_seen_codes_and_never_call_others_unknown(snapshots, tmp_path):
    metadata = RecordedMetadata(snapshots)
    assert {"12209", "12367", "13502", "12134"} <= set(metadata.tables)  # matched by tableid or label
    rows = [
        *ROWS,
        row("seen_elsewhere", "12209", "KOSsykhjand80aar0000", label="Andel 80+ på institusjon"),
        row(
            "accounts",
            "12367",
            "KOSbelop0000",
            label="Beløp",
            funksjon="100",
            art="AGD2",
            regnskapsomfang="A",
        ),
    ]
    verdicts = {r.row["indicator_id"]: r.verdict for r in check_catalogue(rows, metadata)}
    assert verdicts == {
        "real": "ok",
        "wrong_code": "not seen",  # a recorded response shows only what it was asked for
        "no_table": "not checked",  # no recording of 12255
        "derived": "not checked",
        "seen_elsewhere": "not seen",
        "accounts": "ok",  # 12367: funksjon 100, art AGD2, regnskapsomfang A are in resultatTest.json
    }
    results = check_catalogue(rows, metadata)
    assert not any(r.fails for r in results)
    patch = tmp_path / "p.csv"
    assert write_patch(results, patch, status="confirmed", columns=list(rows[0])) == 2
    sources = [r["source"] for r in csv.DictReader(patch.open(encoding="utf-8"))]
    assert sources[0].startswith("recorded response Alksalt__omsorgsradar/ssb_12209_g2_fixture.json")


@pytest.mark.realdata
def test_cli_metadata_dir_prints_every_row_and_the_counts(snapshots, capsys, tmp_path):
    patch = tmp_path / "patch.csv"
    code = main(["catalogue", "check", "--metadata-dir", str(snapshots), "--write-patch", str(patch)])
    out = capsys.readouterr().out.splitlines()
    from pipeline.reference.catalogue import load_catalogue

    catalogue = load_catalogue()
    assert out[0] == f"Catalogue check against recorded responses in {snapshots}"
    assert len(out) == 1 + len(catalogue) + 2 + 1  # header, rows, two count lines, the patch line
    assert out[-3].startswith(f"{len(catalogue)} rows — by verdict: ")
    assert out[-2].startswith("by status: ")
    assert code == 0  # recorded responses never prove a code wrong
    header = next(csv.reader(patch.open(encoding="utf-8")))
    assert header == list(catalogue.columns)


def _one_line_failure(args: list[str], home) -> subprocess.CompletedProcess:
    proc, _ = kostra(args, home)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc


def test_cli_unreachable_server_is_one_line(tmp_path):
    proc = _one_line_failure(["catalogue", "check", "--server", "http://127.0.0.1:9"], tmp_path / "home")
    assert "cannot reach 127.0.0.1:9: the connection was refused" in proc.stderr
    assert proc.stdout == ""


def test_cli_needs_exactly_one_metadata_source(capsys):
    with pytest.raises(SystemExit):
        main(["catalogue", "check"])
    with pytest.raises(SystemExit):
        main(["catalogue", "check", "--live", "--server", "http://127.0.0.1:9"])


@pytest.mark.realdata
def test_a_table_the_server_fails_on_is_an_error_row_asked_once(snapshots):
    source = RecordedSource([snapshots.joinpath(*FIXTURE_12209)])
    with serve(source, max_calls=1000, window_seconds=1) as srv:
        srv.faults.add(kind="status", status=500, count=100, path="/tables/12209")
        client = SsbClient(srv.v0_root, srv.v2_root, retries=0, progress=False)
        results = check_catalogue(ROWS[:2], LiveMetadata(client))
        asked = [r for r in srv.requests if "/tables/12209" in r.path]
    assert [r.verdict for r in results] == ["error", "error"]
    assert all(r.fails for r in results) and "HTTP 500" not in results[0].text
    assert results[0].text.startswith("not checked: server error")
    assert len(asked) == 1  # the second row of the table reused the answer


# --- the whole catalogue against the demo statbank ---------------------------------------------------------


@pytest.fixture(scope="module")
def demo_statbank(tmp_path_factory):
    from pipeline.demo.generate import generate
    from pipeline.demo.server import DemoSource

    folder = tmp_path_factory.mktemp("demo-check") / "demo"
    generate(folder)
    # Generous limits: SSB's 30 calls a minute would make this test wait for the window.
    with serve(DemoSource(folder), max_calls=1000, window_seconds=1) as srv:
        yield srv


def test_the_demo_metadata_passes_the_whole_catalogue(demo_statbank, capsys):
    """Generated from the catalogue's verified structure, the demo answers every fetched row with ok."""
    assert main(["catalogue", "check", "--server", demo_statbank.url]) == 0
    out = capsys.readouterr().out.splitlines()
    from pipeline.reference.catalogue import load_catalogue

    cat = load_catalogue()
    n_fetched = int((cat["status"] != "derived").sum())
    assert out[-2] == f"{len(cat)} rows — by verdict: not checked {len(cat) - n_fetched}, ok {n_fetched}"
    # Unverified rows pass the demo (which is made from them) but are still reported as unverified.
    assert any("KOStildtimeruke0067" in line and "unverified" in line for line in out)


def test_an_invented_code_fails_and_names_the_nearest_real_codes(demo_statbank):
    from pipeline.ssb.catalogue_check import catalogue_rows

    rows = catalogue_rows()
    bad = next(r for r in rows if r["indicator_id"] == "gs_grunnskolepoeng")
    bad = {**bad, "contents_code": "KOSgrunnskolepoeng0000"}  # the old guess; SSB's code ends 'poe0000'
    v0, v2 = demo_statbank.roots()
    with SsbClient(v0, v2, retries=0, progress=False) as client:
        (result,) = check_catalogue([bad], LiveMetadata(client))
    assert result.fails
    text = " ".join(format_report([result], "demo"))
    assert "KOSgrunnskolepoeng0000" in text and "KOSgrunnskolepoe0000" in text


@pytest.mark.realdata
def test_a_patch_merged_into_the_seed_still_validates(snapshots, tmp_path):
    """What a reviewer does with the patch: replace the rows it names. The seed must then still load."""
    import pandas as pd

    from pipeline import config
    from pipeline.reference import catalogue

    patch = tmp_path / "patch.csv"
    assert main(["catalogue", "check", "--metadata-dir", str(snapshots), "--write-patch", str(patch)]) == 0
    patched = pd.read_csv(patch, dtype=str, keep_default_na=False)
    assert len(patched) == 5 and set(patched["status"]) == {"confirmed"}
    seed = pd.read_csv(config.SEEDS_DIR / "indicator_catalogue.csv", dtype=str, keep_default_na=False)
    key = ["indicator_id", "table_id", "contents_code"]
    merged = pd.concat(
        [
            seed.merge(patched[key], on=key, how="left", indicator=True)
            .query("_merge == 'left_only'")
            .drop(columns="_merge"),
            patched[seed.columns],
        ]
    )
    path = tmp_path / "indicator_catalogue.csv"
    merged.to_csv(path, index=False)
    df = catalogue.load_catalogue(path)
    assert len(df) == len(seed)
    assert (
        df.loc[df["indicator_id"] == "po_dekning_hjemmetj_80", "source"]
        .iloc[0]
        .startswith("recorded response")
    )


def test_cli_server_that_is_not_a_url_is_one_line(tmp_path):
    proc = _one_line_failure(["catalogue", "check", "--server", "notaurl"], tmp_path / "home")
    assert "--server 'notaurl': not an http(s) URL" in proc.stderr
