"""Talk to SSB's statbank (PxWebApi v0/v2): the client, its throttle, query splitting and errors."""

from pipeline.ssb.client import ApiLimits, Fetch, FetchedPart, SsbClient, TableInfo, TableMetadata, Variable
from pipeline.ssb.errors import (
    SsbBadResponse,
    SsbCatalogueMismatch,
    SsbCatalogueTableMissing,
    SsbError,
    SsbNoSuchTable,
    SsbNotFound,
    SsbQueryError,
    SsbRateLimited,
    SsbTableChanged,
    SsbTooManyCells,
    SsbUnavailable,
    SsbUnreachable,
    SsbUrlTooLong,
)

__all__ = [
    "ApiLimits",
    "Fetch",
    "FetchedPart",
    "SsbBadResponse",
    "SsbCatalogueMismatch",
    "SsbCatalogueTableMissing",
    "SsbClient",
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
    "TableInfo",
    "TableMetadata",
    "Variable",
]
