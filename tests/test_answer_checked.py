"""A response counts as fetched only when it is the answer to its query: the table asked for, the dimensions
and codes asked for, a value array of the declared length holding only numbers or nulls, plausible periods;
and the client never takes an answer from another host (redirects are not followed)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from pipeline.ssb.client import SsbClient, answer_mismatch
from pipeline.ssb.errors import SsbBadResponse
from tests.jsonstat_factory import make_doc

PIECE = {
    "KOKkommuneregion0000": ["0301", "4601"],
    "ContentsCode": ["KOSandel120000"],
    "Tid": ["2023", "2024"],
}


def _doc(table_id="13502", dims=None, **changes) -> dict:
    doc = orjson.loads(make_doc(table_id, dims or PIECE))
    doc.update(changes)
    return doc


def test_the_answer_to_the_query_passes():
    assert answer_mismatch(_doc(), "13502", PIECE, "Tid") == ""


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        (_doc(table_id="12209"), "the response is table 12209, not 13502"),
        (
            _doc(dims={**PIECE, "KOKkommuneregion0000": ["0301", "5001"]}),
            "dimension KOKkommuneregion0000: codes differ from the query (extra ['5001'], missing ['4601'])",
        ),
        (
            _doc(
                dims={
                    "Region": PIECE["KOKkommuneregion0000"],
                    "ContentsCode": ["KOSandel120000"],
                    "Tid": PIECE["Tid"],
                }
            ),
            "the response has dimensions",
        ),
        (_doc(value=[1.0, 2.0, 3.0]), "'value' has 3 entries, but 'size' gives 4 cells"),
        (_doc(value=[1.0, "2,5", 3.0, 4.0]), "not a number or null"),
        (_doc(value=[1.0, True, 3.0, 4.0]), "boolean"),
        (_doc(extension=[]), "'extension' must be an object"),
    ],
)
def test_anything_else_is_refused_with_the_reason(doc, says):
    assert says in answer_mismatch(doc, "13502", PIECE, "Tid")


def test_periods_must_be_plausible_even_when_asked_for():
    """A table whose metadata offers 1899 (asked for as 'all years') is still not landed."""
    piece = {**PIECE, "Tid": ["1899", "2024"]}
    assert "implausible periods ['1899']" in answer_mismatch(_doc(dims=piece), "13502", piece, "Tid")
    piece = {**PIECE, "Tid": ["2024", "2099"]}
    assert "implausible periods ['2099']" in answer_mismatch(_doc(dims=piece), "13502", piece, "Tid")


class _Redirect(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(302)
        self.send_header("Location", "http://kostra-elsewhere.invalid/api/v0/no/table/13502")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args):  # quiet
        pass


def test_a_redirect_to_another_host_is_not_followed():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    root = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        client = SsbClient(f"{root}/api/v0", f"{root}/api/pxwebapi/v2", retries=0, progress=False)
        with client, pytest.raises(SsbBadResponse, match="redirected to 'http://kostra-elsewhere.invalid/"):
            client.table_info("13502")
    finally:
        server.shutdown()
        server.server_close()
