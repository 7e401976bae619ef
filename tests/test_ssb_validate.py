"""Validation of the catalogue's wanted selection against table metadata, before any data is fetched:
the pure rules (pipeline.ssb.validate) and ``ingest_table`` stopping a table's fetch with one clear error."""

from __future__ import annotations

import pytest

from pipeline.landing.ingest import ingest_table
from pipeline.landing.store import LandingStore
from pipeline.ssb.errors import SsbCatalogueMismatch, SsbError, SsbQueryError
from pipeline.ssb.validate import (
    DISCONTINUED,
    NOT_SEEN,
    OK,
    UNKNOWN_CODE,
    UNKNOWN_DIMENSION,
    UNKNOWN_TABLE,
    TableCodes,
    check_selection,
    describe,
    failures,
    nearest_codes,
    row_verdict,
    summarise,
)
from tests.pxweb_fixtures import fast_client, recorded_server, synthetic_doc

TABLE = "99001"

# Codes and labels as SSB's 12209 shows them (real v2 response, Alksalt/omsorgsradar) plus two made-up
# neighbours so that "nearest" has something to rank.
HAVE = TableCodes(
    table_id="12209",
    dimensions={
        "KOKkommuneregion0000": {"0301": "Oslo", "3201": "Bærum"},
        "ContentsCode": {
            "KOShjtj80aarover0001": "Andel innbyggere 80 år og over som bruker hjemmetjenester (prosent)",
            "Xinst80": "Andel innbyggere 80 år og over som er langtidsbeboere på institusjon (prosent)",
            "Xbarn": "Andel barn med barnevernstiltak (prosent)",
            "Xlege": "Legeårsverk per 10 000 innbyggere",
        },
        "Tid": {"2019": "2019", "2023": "2023"},
    },
    dimension_labels={"KOKkommuneregion0000": "region", "ContentsCode": "statistikkvariabel", "Tid": "år"},
)


def test_known_codes_are_ok():
    findings = check_selection(
        "12209", {"ContentsCode": {"KOShjtj80aarover0001": "hjemmetjenester 80+"}}, HAVE
    )
    assert [f.verdict for f in findings] == [OK]
    assert failures(findings) == [] and summarise(findings) == "ok"


def test_unknown_code_names_the_nearest_real_codes_by_label():
    wanted = {
        "ContentsCode": {"KOShjtj80aar0000": "Andel innbyggere 80 år og over som bruker hjemmetjenester"}
    }
    (finding,) = check_selection("12209", wanted, HAVE)
    assert finding.verdict == UNKNOWN_CODE and finding.fails
    assert finding.nearest[0] == (
        "KOShjtj80aarover0001",
        "Andel innbyggere 80 år og over som bruker hjemmetjenester (prosent)",
    )
    assert finding.nearest[1][0] == "Xinst80" and len(finding.nearest) == 3
    message = finding.message()
    assert message.startswith("table 12209: ContentsCode has no code 'KOShjtj80aar0000'")
    assert 'nearest by label: KOShjtj80aarover0001 "Andel innbyggere 80 år' in message
    assert describe(*row_verdict([finding])).startswith(
        "unknown code ContentsCode=KOShjtj80aar0000 (nearest: "
    )


def test_nearest_is_capped_and_stable():
    assert nearest_codes("x", {}) == []
    assert len(nearest_codes("Andel", HAVE.dimensions["ContentsCode"], n=2)) == 2
    # Without a catalogue label the code itself is compared.
    assert nearest_codes("Xlege", HAVE.dimensions["ContentsCode"])[0][0] == "Xlege"


def test_unknown_dimension_and_unknown_filter_value():
    findings = check_selection(
        "12209",
        {"KOKalder0000": ["F067-120"], "KOKkommuneregion0000": {"9999": "Ingen kommune"}},
        HAVE,
    )
    verdicts = {f.verdict for f in findings}
    assert verdicts == {UNKNOWN_DIMENSION, UNKNOWN_CODE}
    dim = next(f for f in findings if f.verdict == UNKNOWN_DIMENSION)
    assert dim.dimension == "KOKalder0000" and "no dimension 'KOKalder0000'" in dim.message()
    assert row_verdict(findings)[0] == UNKNOWN_DIMENSION  # the worst verdict wins


def test_unknown_and_discontinued_tables():
    assert [f.verdict for f in check_selection("12235", {"ContentsCode": ["X"]}, None)] == [UNKNOWN_TABLE]
    stopped = TableCodes("12210", {"ContentsCode": {"A": "a"}}, discontinued=True)
    findings = check_selection("12210", {"ContentsCode": ["A"]}, stopped)
    assert row_verdict(findings)[0] == DISCONTINUED
    assert "discontinued" in summarise(findings)
    # The caller may know the series has ended (catalogue last_year/successor) and accept it.
    assert failures(check_selection("12210", {"ContentsCode": ["A"]}, stopped, discontinued=False)) == []


def test_recorded_responses_only_show_codes_not_seen_never_unknown():
    partial = TableCodes("12209", HAVE.dimensions, complete=False)
    findings = check_selection(
        "12209",
        {"ContentsCode": ["KOSsykhjand80aar0000", "KOShjtj80aarover0001"], "Alder": ["F080-120"]},
        partial,
    )
    assert sorted(f.verdict for f in findings) == [NOT_SEEN, NOT_SEEN, OK]
    assert failures(findings) == []
    assert describe(*row_verdict(findings)) == "not seen ContentsCode=KOSsykhjand80aar0000 Alder=F080-120"


def test_merge_of_two_recorded_views():
    a = TableCodes("1", {"ContentsCode": {"A": "a"}}, complete=False, source="one")
    b = TableCodes("1", {"ContentsCode": {"B": "b"}, "Tid": {"2020": "2020"}}, complete=False, source="two")
    both = a.merge(b)
    assert both.dimensions == {"ContentsCode": {"A": "a", "B": "b"}, "Tid": {"2020": "2020"}}
    assert both.source == "one; two" and not both.complete


# --- ingest_table: validation before every fetch -----------------------------------------------------


def test_ingest_table_stops_the_fetch_naming_the_nearest_codes(tmp_path):
    with recorded_server() as server:
        store = LandingStore(tmp_path / "landing")
        with pytest.raises(SsbCatalogueMismatch) as info:
            ingest_table(
                fast_client(server),
                store,
                TABLE,
                {"ContentsCode": ["KOSbelop0001"]},
                wanted={"ContentsCode": {"KOSbelop0001": "Beløp (1000 kr)"}},
            )
        err = info.value
        assert isinstance(err, SsbQueryError) and isinstance(err, SsbError)  # Dagster assets fail, no retry
        text = str(err)
        assert text.startswith("SSB table 99001: the catalogue does not match the live metadata: ")
        assert "ContentsCode has no code 'KOSbelop0001' ('Beløp (1000 kr)')" in text
        assert 'nearest by label: KOSbelop0000 "Beløp (1000 kr)"' in text
        assert [f.code for f in err.findings] == ["KOSbelop0001"]
        # The record and the metadata were read; no data request was sent and nothing landed.
        paths = [r.path for r in server.requests]
        assert any(p.startswith(f"/api/pxwebapi/v2/tables/{TABLE}?") for p in paths)
        assert not any(
            "/data" in p or r.method == "POST" for p, r in zip(paths, server.requests, strict=True)
        )
        assert store.releases() == {}


def test_ingest_table_refuses_a_discontinued_or_missing_table(tmp_path):
    source_doc = synthetic_doc()
    with recorded_server() as server:
        server.source.add(source_doc, discontinued=True)
        store = LandingStore(tmp_path / "landing")
        with pytest.raises(SsbCatalogueMismatch, match=r"table is discontinued"):
            ingest_table(fast_client(server), store, TABLE, {"ContentsCode": ["KOSbelop0000"]})
        with pytest.raises(
            SsbCatalogueMismatch, match=r"SSB table 12345: the catalogue names this table but"
        ):
            ingest_table(fast_client(server), store, "12345", {"ContentsCode": ["KOSbelop0000"]})


def test_ingest_table_fetches_when_everything_matches(tmp_path):
    with recorded_server() as server:
        store = LandingStore(tmp_path / "landing")
        rec = ingest_table(fast_client(server), store, TABLE, {"ContentsCode": ["KOSbelop0000"]}, years="all")
        assert rec is not None and rec.cells == 12 * 1 * 6
