"""The errors the SSB statbank client raises: each names the table and the query that failed."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = [
    "SsbBadResponse",
    "SsbCatalogueMismatch",
    "SsbCatalogueTableMissing",
    "SsbError",
    "SsbNoSuchTable",
    "SsbNotFound",
    "SsbQueryError",
    "SsbRateLimited",
    "SsbTableChanged",
    "SsbTooManyCells",
    "SsbUnavailable",
    "SsbUnreachable",
    "SsbUrlTooLong",
]

# Long selections (hundreds of region codes) would drown the message; the full query stays on the exception.
_QUERY_CHARS_IN_MESSAGE = 600


def describe_query(query: Any) -> str:
    """A compact, bounded rendering of a query (a JSON body, URL parameters or a URL) for messages."""
    if query is None:
        return "(no query)"
    text = query if isinstance(query, str) else orjson.dumps(query, default=str).decode()
    if len(text) > _QUERY_CHARS_IN_MESSAGE:
        text = f"{text[:_QUERY_CHARS_IN_MESSAGE]}… ({len(text)} characters)"
    return text


class SsbError(RuntimeError):
    """A statbank request that failed for good (after retries), or a result that cannot be trusted."""

    def __init__(
        self,
        reason: str,
        *,
        table_id: str | None = None,
        query: Any = None,
        url: str | None = None,
        status: int | None = None,
    ) -> None:
        self.reason = reason
        self.table_id = table_id
        self.query = query
        self.url = url
        self.status = status
        where = f"SSB table {table_id}" if table_id else "SSB statbank"
        http = f" (HTTP {status})" if status else ""
        parts = [f"{where}: {reason}{http}"]
        if url:
            parts.append(f"url: {url}")
        if query is not None:
            parts.append(f"query: {describe_query(query)}")
        super().__init__("; ".join(parts))


class SsbQueryError(SsbError):
    """The selection does not fit the table (unknown variable or value code), or SSB answered 400."""


class SsbBadTableId(SsbQueryError, ValueError):
    """A table id that cannot be one (SSB's are alphanumeric, e.g. '12367'); raised before any request."""


class SsbNotFound(SsbError):
    """404: no such table or resource."""


class SsbNoSuchTable(SsbQueryError, SsbNotFound):
    """The statbank has no such table: v2 answers HTTP 400 ``{"title": "Non-existent table", "status": 404}``."""


class SsbUrlTooLong(SsbQueryError):
    """SSB's front end answered a long GET URL with its HTML 404 page: the query must be POSTed."""


class SsbCatalogueMismatch(SsbQueryError):
    """The indicator catalogue asks for something the table's live metadata does not have.

    Raised before any data is fetched: a discontinued or unknown table, an unknown dimension, or unknown
    contents/filter codes. ``findings`` holds one :class:`pipeline.ssb.validate.Finding` per problem, each
    naming the nearest real codes by label.
    """

    def __init__(self, reason: str, *, findings: Any = (), **kwargs: Any) -> None:
        self.findings = list(findings)
        super().__init__(reason, **kwargs)


class SsbTooManyCells(SsbError):
    """403: the extract is larger than the server's cell limit."""


class SsbRateLimited(SsbError):
    """429 even after waiting as long as the server's Retry-After asked."""


class SsbUnavailable(SsbError):
    """5xx, timeouts or dropped connections, still failing after every retry."""


class SsbUnreachable(SsbUnavailable):
    """No connection at all: the host name does not resolve, the connection is refused or cannot be made.

    Retried at most once, quickly (unlike a 503): waiting will not make a wrong address or a missing
    network come back. The message names the host and what to check.
    """


class SsbBadResponse(SsbError):
    """A 200 response whose body is not a whole JSON-stat2 document (e.g. cut off mid-transfer)."""


class SsbTableChanged(SsbError):
    """The parts of one fetch carry different ``updated`` stamps: SSB published a release mid-fetch."""


class SsbCatalogueTableMissing(SsbCatalogueMismatch, SsbNoSuchTable):
    """The catalogue names a table the statbank does not have (or not yet, as of an ``/asof/`` view)."""
