"""Talk to SSB's statbank (PxWebApi v0/v2): the client, its throttle, query splitting and errors."""

from pipeline.ssb.client import ApiLimits, Fetch, FetchedPart, SsbClient, TableInfo, TableMetadata, Variable
from pipeline.ssb.errors import (
    SsbBadResponse,
    SsbError,
    SsbNotFound,
    SsbQueryError,
    SsbRateLimited,
    SsbTableChanged,
    SsbTooManyCells,
    SsbUnavailable,
)

__all__ = [
    "ApiLimits",
    "Fetch",
    "FetchedPart",
    "SsbBadResponse",
    "SsbClient",
    "SsbError",
    "SsbNotFound",
    "SsbQueryError",
    "SsbRateLimited",
    "SsbTableChanged",
    "SsbTooManyCells",
    "SsbUnavailable",
    "TableInfo",
    "TableMetadata",
    "Variable",
]
