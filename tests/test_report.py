"""The KOSTRA report on a fixture warehouse with planted deviations (tests/report_fixture.py).

Every generated sentence is held against the marts: its number is the rounded deviation of the mart, its
direction word has the deviation's sign, and its verdict follows the indicator's polarity.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from pipeline.config import Home
from pipeline.report import content, numbers_nb, render
from pipeline.report.build import ReportError, write_municipality, write_network
from pipeline.report.marts import Marts
from tests import report_fixture

SENTENCE = re.compile(r" er (\d+) prosent (lavere|høyere|under|over) ")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("report-home")
    report_fixture.build(home / "kostra.duckdb")
    return home


@pytest.fixture(scope="module")
def ctx(warehouse) -> dict:
    with Marts(warehouse / "kostra.duckdb") as marts:
        return content.municipality_report(marts, content.Request("3201"), default_comparators=("3203",))


def _findings(ctx):
    return {f.indicator_id: f for s in ctx["sectors"] for f in s["findings"]}


def _mart(warehouse, indicator):
    con = duckdb.connect(str(warehouse / "kostra.duckdb"), read_only=True)
    try:
        return con.execute(
            "select deviation_pct, polarity from marts.service_profile "
            "where municipality_id = '3201' and year = 2024 and indicator_id = ?",
            [indicator],
        ).fetchone()
    finally:
        con.close()


def test_every_sentence_number_and_direction_match_the_mart(ctx, warehouse):
    checked = 0
    for ind, f in _findings(ctx).items():
        if ind is None:
            continue
        deviation, polarity = _mart(warehouse, ind)
        m = SENTENCE.search(f.sentence)
        assert m, f.sentence
        assert int(m.group(1)) == round(abs(deviation)), f.sentence
        assert (m.group(2) in ("høyere", "over")) == (deviation > 0), f.sentence
        if polarity == "neutral":
            assert "gunstig" not in f.sentence
        else:
            favourable = (deviation > 0) == (polarity == "higher_better")
            assert ("i gunstig retning" in f.sentence) == favourable, f.sentence
            assert ("i ugunstig retning" in f.sentence) == (not favourable), f.sentence
        checked += 1
    assert checked >= 4


def test_lower_is_better_above_the_mean_is_unfavourable(ctx):
    f = _findings(ctx)["gs_gruppestorrelse"]
    assert f.sentence.startswith("Gruppestørrelse 2 (gjennomsnitt) er 20 prosent over ASSS-gjennomsnittet")
    assert "(18,6 mot 15,5 elever)" in f.sentence
    assert "i ugunstig retning" in f.sentence


def test_lower_is_better_below_the_mean_is_favourable(ctx):
    f = _findings(ctx)["bh_kost_per_time"]
    assert " er 12 prosent lavere enn gjennomsnittet i ASSS-nettverket" in f.sentence
    assert f.favourable is True and "i gunstig retning" in f.sentence


def test_higher_is_better_above_the_mean_is_favourable(ctx):
    f = _findings(ctx)["gs_grunnskolepoeng"]
    assert " er 13 prosent over ASSS-gjennomsnittet" in f.sentence
    assert "i gunstig retning" in f.sentence


def test_flagged_value_and_series_break_say_use_with_care(ctx):
    found = _findings(ctx)
    assert (
        "Bruk med varsomhet: tallet har en advarsel i datakvalitetskontrollen."
        in found["gs_andel_spes"].sentence
    )
    assert "Bruk med varsomhet: brudd i serien (2022: mottakere" in found["sos_andel_langtid"].sentence
    assert found["gs_gruppestorrelse"].caution is None


def test_production_index_sentence(ctx):
    first = ctx["sectors"][0]["findings"][0]
    assert first.indicator_id is None
    assert first.sentence.startswith(
        "Samlet ligger produksjonsindeksen til grunnskole 2,2 prosent lavere enn ASSS-gjennomsnittet"
    )


def test_norwegian_number_formatting():
    assert numbers_nb.number(1234567.891, 1) == "1\u202f234\u202f567,9"
    assert numbers_nb.number(-0.26, 1) == "\u22120,3"
    assert numbers_nb.number(-0.01, 1) == "0,0"
    assert numbers_nb.percent(-7.2) == "7 prosent"
    assert numbers_nb.percent(-2.24, 1) == "2,2 prosent"
    assert numbers_nb.signed_percent(3.45) == "+3,5\u202f%"
    assert numbers_nb.auto(None) == "–"


def test_html_is_self_contained_demo_labelled_and_norwegian(ctx):
    html = render.municipality_html(ctx)
    # No reference to anything outside the file: no script, stylesheet link, image, font or url().
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\((?!#)", html, re.I)  # url(#clip) is inside
    refs = re.findall(r"(?:src|href)\s*=\s*[\"']([^\"']+)", html, re.I)
    assert all(not r.startswith(("http:", "https:", "//")) for r in refs), refs
    # The only URLs are SVG's XML namespace names, which nothing fetches.
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert html.count("<svg") >= 3
    assert 'id="demo-banner"' in html and "@top-center" in html  # screen banner and every printed page
    assert 'Side " counter(page)' in html
    assert "Bærum" in html and "Kommunebarometer" in html
    assert "ikke Kommunal Rapports publiserte karakterer" in html
    assert "prosjektets egen beregning" in html
    assert "18,6" in html  # decimal comma in the tables


def test_not_demo_has_no_banner(tmp_path):
    report_fixture.build(tmp_path / "kostra.duckdb", demo=False)
    with Marts(tmp_path / "kostra.duckdb") as marts:
        c = content.municipality_report(marts, content.Request("3201"))
    html = render.municipality_html(c)
    assert "demo-banner" not in html and "DEMO DATA" not in html


def test_xlsx_has_sections_norwegian_headers_frozen_rows_and_sources(warehouse, tmp_path):
    from openpyxl import load_workbook

    out = write_municipality(Home(warehouse), content.Request("3201"), "xlsx", tmp_path / "r.xlsx").path
    wb = load_workbook(out)
    assert wb.sheetnames == [
        "Hovedfunn",
        "Tjenesteprofil",
        "Indekser",
        "Bidrag til P",
        "Utvikling",
        "Kommunebarometer",
        "Datakvalitet",
        "Kilder",
    ]
    ws = wb["Tjenesteprofil"]
    assert ws["A1"].value.startswith("DEMO DATA")
    headers = [c.value for c in ws[2]]
    assert headers[:3] == ["Sektor", "Indikator", "Enhet"] and "ASSS-snitt" in headers and "Asker" in headers
    assert ws.freeze_panes == "A3"
    row = next(r for r in ws.iter_rows(min_row=3) if r[1].value == "Gruppestørrelse 2 (gjennomsnitt)")
    assert row[5].value == pytest.approx(18.6) and row[5].number_format == "#,##0.0"
    kilder = [c.value for c in wb["Kilder"][2]]
    assert kilder[:7] == [
        "Indikator",
        "Indikator-id",
        "År",
        "SSB-tabell",
        "Tabelltittel",
        "ContentsCode",
        "Publisert (updated)",
    ]
    codes = {r[5].value for r in wb["Kilder"].iter_rows(min_row=3)}
    assert {"KOSgrstr20000", "KOSkostoppholdst0000"} <= codes


def test_network_overview_lists_members_only(warehouse, tmp_path):
    out = write_network(Home(warehouse), "html", tmp_path / "n.html").path
    html = out.read_text(encoding="utf-8")
    for name in ("Oslo", "Bergen", "Bærum"):
        assert f'<th class="num">{name}</th>' in html
    assert '<th class="num">Asker</th>' not in html
    assert html.count('class="sector"') == len(content.SECTORS)


def test_network_overview_shows_the_members_findings_only(warehouse):
    with Marts(warehouse / "kostra.duckdb") as marts:
        net = content.network_overview(marts)
    shown = [f for s in net["sectors"] for f in s["findings"]]
    assert [f["municipality"] for f in shown] == ["Bærum"]
    html = render.network_html(net)
    assert "KOSandelspes0000: fra 8 til 5,6" in html
    # The comparator (Asker, not a member), a municipality outside the group and a whole-table finding.
    for left_out in ("Asker: KOSgrstr20000", "Trondheim: KOSgrstr20000", "Tabell 12255: en kode"):
        assert left_out not in html


def test_names_come_from_the_marts(warehouse, tmp_path):
    # The fixture has no reference schema: the names are the marts' municipality_name, as dbt writes them.
    path = report_fixture.build(tmp_path / "kostra.duckdb")
    con = duckdb.connect(str(path))
    con.execute(
        "update marts.service_profile set municipality_name = 'Bærum kommune' where municipality_id = '3201'"
    )
    con.close()
    with Marts(path) as marts:
        assert marts.municipality_names()["3201"] == "Bærum kommune"
        assert not marts.sql(
            "select * from information_schema.schemata where schema_name = 'reference'"
        ).shape[0]
        c = content.municipality_report(marts, content.Request("3201"))
    assert c["title"].endswith(": Bærum kommune")


def test_a_warehouse_without_names_is_one_clear_error(tmp_path):
    path = report_fixture.build(tmp_path / "kostra.duckdb")
    con = duckdb.connect(str(path))
    con.execute("alter table marts.service_profile drop column municipality_name")
    con.close()
    with pytest.raises(
        ReportError, match="marts.service_profile has no column 'municipality_name'.*kostra build"
    ):
        write_municipality(Home(tmp_path), content.Request("3201"), "html", tmp_path / "x.html")


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (content.Request("9999"), "--municipality 9999"),
        (content.Request("3201", year=1999), "--year 1999"),
        (content.Request("3201", vintage="unrevised"), "--vintage unrevised"),
        (content.Request("3201", comparators=("9998",)), "--comparator 9998"),
    ],
)
def test_bad_requests_are_one_line(warehouse, tmp_path, request_, message):
    with pytest.raises(ReportError) as err:
        write_municipality(Home(warehouse), request_, "html", tmp_path / "x.html")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_default_comparator_without_rows_is_left_out(warehouse):
    # The build's own report of a home without the default comparator (KOSTRA_COMPARATORS) must not fail.
    with Marts(warehouse / "kostra.duckdb") as marts:
        ctx = content.municipality_report(
            marts, content.Request("3201"), default_comparators=("9998", "3203")
        )
        plain = content.municipality_report(marts, content.Request("3201"), default_comparators=("3203",))
    assert ctx == plain


def test_renamed_mart_column_is_one_clear_error(tmp_path):
    path = report_fixture.build(tmp_path / "kostra.duckdb")
    con = duckdb.connect(str(path))
    con.execute("alter table marts.service_profile rename column group_mean to mean_of_group")
    con.close()
    with pytest.raises(ReportError, match="marts.service_profile has no column 'group_mean'"):
        write_municipality(Home(tmp_path), content.Request("3201"), "html", tmp_path / "x.html")


def test_cli_report_writes_html(warehouse, tmp_path, monkeypatch):
    from pipeline.cli import main

    monkeypatch.setenv("KOSTRA_HOME", str(warehouse))
    assert (
        main(["report", "--municipality", "3201", "--format", "html", "--out", str(tmp_path / "b.html")]) == 0
    )
    assert (tmp_path / "b.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (
        main(["report", "--municipality", "0000", "--format", "html", "--out", str(tmp_path / "c.html")]) == 1
    )


def test_export_csv_for_excel_is_semicolon_decimal_comma_bom(warehouse, tmp_path):
    from pipeline.publish.export import export

    out, rows = export(Home(warehouse), "service_profile", "3201", "csv", tmp_path / "sp.csv", excel=True)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and rows > 0
    lines = raw.decode("utf-8-sig").splitlines()
    header = lines[0].split(";")
    assert header[:4] == ["Kommunenummer", "Kommune", "År", "Indikator-id"]
    row = next(line.split(";") for line in lines[1:] if "gs_gruppestorrelse" in line and ";2024;" in line)
    assert row[header.index("Verdi")] == "18,6"
    assert "," not in lines[0]  # no comma-separated header


def test_export_xlsx_has_norwegian_headers_formats_and_kilder(warehouse, tmp_path):
    from openpyxl import load_workbook

    from pipeline.publish.export import export

    out, _ = export(Home(warehouse), "indicator_values", "3201", "xlsx", tmp_path / "iv.xlsx")
    wb = load_workbook(out)
    assert wb.sheetnames == ["indicator_values", "Kilder"]
    ws = wb["indicator_values"]
    headers = [c.value for c in ws[2]]  # row 1: the DEMO DATA line
    assert ws["A1"].value.startswith("DEMO DATA") and ws.freeze_panes == "A3"
    assert {"Kommunenummer", "År", "Verdi", "SSB-tabell", "ContentsCode", "Årgang"} <= set(headers)
    assert ws.cell(3, headers.index("Verdi") + 1).number_format in ("#,##0.0", "#,##0.00", "#,##0")
    assert [c.value for c in wb["Kilder"][2]] == [
        "SSB-tabell",
        "ContentsCode",
        "Publisert (updated)",
        "Årgang",
    ]


def test_pipeline_reports_land_under_the_home(warehouse, tmp_path):
    import shutil

    from pipeline.report.build import build_pipeline_reports

    home = Home(tmp_path / "home")
    home.root.mkdir()
    shutil.copy(warehouse / "kostra.duckdb", home.published_db)
    written = build_pipeline_reports(home)
    assert written["municipality_html"] == home.reports_dir / "kostra" / "kostra-rapport-3201.html"
    assert {"municipality_html", "municipality_xlsx", "network_html"} <= set(written)
    assert all(p.exists() and p.stat().st_size > 0 for p in written.values())


def test_cost_keys_say_demo_per_row_and_name_real_ones(warehouse, tmp_path):
    # The fixture's sector_indices carry DEMO cost keys (issue 12): the index table and the xlsx say so
    # row by row, and the note names the years with real keys (none here).
    from openpyxl import load_workbook

    with Marts(warehouse / "kostra.duckdb") as marts:
        c = content.municipality_report(marts, content.Request("3201"))
    rows = [r for s in c["sectors"] for r in s["indices"]]
    assert rows and {r["cost_key"] for r in rows} == {"DEMO"}
    assert c["index_notes"]["cost_key_demo"] and c["index_notes"]["cost_key_real_years"] == []
    assert "U på DEMO-kostnadsnøkkel." in render.municipality_html(c)
    out = write_municipality(Home(warehouse), content.Request("3201"), "xlsx", tmp_path / "r.xlsx").path
    ws = load_workbook(out)["Indekser"]
    col = [cell.value for cell in ws[2]].index("Kostnadsnøkkel")
    assert {r[col].value for r in ws.iter_rows(min_row=3)} == {"DEMO"}
    # A real key is named by its Grønt hefte year, and the note lists the years it covers.
    real = content._cost_key_label(
        type(
            "Row",
            (),
            {
                "cost_key_source": "Grønt hefte 2026 …",
                "cost_key_is_demo": False,
                "cost_key_gronthefte_year": 2026,
            },
        )
    )
    assert real == "Grønt hefte 2026"


def test_pleie_og_omsorg_is_two_index_sectors():
    keys = [s.key for s in content.SECTORS]
    assert "pleie_omsorg_0_66" in keys and "pleie_omsorg_67_pluss" in keys and "pleie_omsorg" not in keys


# --- the comparison group (issue 14): --group, and a report against the similar group ----------------------


@pytest.fixture(scope="module")
def similar_warehouse(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("report-similar")
    report_fixture.build(home / "kostra.duckdb", group=report_fixture.SIMILAR)
    return home


def test_report_with_group_similar_renders_and_names_the_members(similar_warehouse, tmp_path, monkeypatch):
    from pipeline.cli import main

    monkeypatch.setenv("KOSTRA_HOME", str(similar_warehouse))
    out = tmp_path / "similar.html"
    code = main(
        ["report", "--municipality", "3201", "--group", "similar", "--format", "html", "--out", str(out)]
    )
    assert code == 0
    html = out.read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", html)
    # The lead says which group, and the note lists who was in it, nearest first, with the distance.
    assert "de 2 kommunene som likner mest på Bærum i struktur (lignende kommuner" in text
    assert "Lignende kommuner i 2024 (sammenlikningsgruppe similar:3201)" in text
    assert "Bærum, Oslo (0,41), Bergen (0,77) (3 kommuner)" in text
    assert "Lignende-snitt" in text and "snittet for lignende kommuner" in text
    # No figure is called ASSS's (the method notes may still name KS' ASSS indices).
    assert "ASSS-snitt" not in text and "ASSS-gjennomsnittet" not in text and "ASSS-kommunene" not in text


def test_report_group_must_be_the_warehouses(warehouse, similar_warehouse, tmp_path):
    # The ASSS warehouse cannot answer for the similar group: one line saying how to build for it.
    with pytest.raises(ReportError) as err:
        write_municipality(
            Home(warehouse), content.Request("3201", group="similar"), "html", tmp_path / "x.html"
        )
    message = str(err.value)
    assert message.startswith("--group similar: the published warehouse is built against ASSS")
    assert "KOSTRA_COMPARISON_GROUP=similar:3201 kostra build" in message and "\n" not in message
    # Bergen's similar group is not Bærum's.
    with pytest.raises(ReportError, match="built against similar:3201 .*not similar:4601"):
        write_municipality(
            Home(similar_warehouse), content.Request("4601", group="similar"), "html", tmp_path / "y.html"
        )
    # The group it was built against, in any spelling, is accepted.
    ctx = content.municipality_report(
        Marts(warehouse / "kostra.duckdb"), content.Request("3201", group="asss")
    )
    assert ctx["comparison_group"] == "ASSS" and ctx["group_with"] == "ASSS-kommunene"


def test_export_group_is_checked_against_the_warehouse(warehouse, similar_warehouse, tmp_path):
    from pipeline.publish.export import ExportError, export

    with pytest.raises(ExportError, match="^--group similar: the published warehouse is built against ASSS"):
        export(Home(warehouse), "service_profile", "3201", "csv", tmp_path / "a.csv", group="similar")
    out, rows = export(
        Home(similar_warehouse), "service_profile", "3201", "csv", tmp_path / "b.csv", group="similar"
    )
    assert rows > 0 and "similar:3201" in out.read_text(encoding="utf-8")
    # A mart that does not depend on the group exports whatever --group says.
    _, rows = export(Home(warehouse), "indicator_values", "3201", "csv", tmp_path / "c.csv", group="similar")
    assert rows > 0
