"""The one retry rule for HTTP requests to SSB's APIs (the statbank and KLASS).

Retries belong to urllib3: :func:`http_retry` builds the ``Retry`` and :func:`mount_retry` puts it on a
``requests`` session. It retries 429 and 5xx (waiting as long as ``Retry-After`` asks), time-outs and dropped
connections, with exponential backoff, for GET and POST (PxWebApi v0 queries are POSTed; they are reads and
safe to repeat). The final error response is handed back rather than raised, so the caller can turn the
server's own error body into its typed error. No client loops on top of this, and the orchestrator's run
step retries (Dagster's ``RetryRequested``, with ``INGEST_RETRY``'s delays) are the only layer above it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.util.retry import Retry

__all__ = [
    "RETRY_METHODS",
    "RETRY_STATUSES",
    "HttpRetry",
    "attempts_made",
    "http_retry",
    "mount_retry",
]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_METHODS = frozenset({"GET", "POST"})
DEFAULT_BACKOFF_MAX = 120.0


class HttpRetry(Retry):
    """urllib3's ``Retry``, except that a failed connection (DNS, refused) is retried at most once.

    Such a failure is not a busy server: backing off for minutes will not make a wrong host name or a
    missing network come back, so the caller gets a clear error within seconds instead.
    """

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):  # noqa: ANN001
        if isinstance(error, NewConnectionError) and any(
            isinstance(h.error, NewConnectionError) for h in self.history
        ):
            raise MaxRetryError(_pool, url, error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


def http_retry(
    retries: int,
    *,
    backoff_factor: float,
    backoff_max: float = DEFAULT_BACKOFF_MAX,
    retry_class: type[HttpRetry] = HttpRetry,
    **extra: Any,
) -> HttpRetry:
    """The retry rule: ``retries`` retries of each kind (connect, read, status), none of anything else."""
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries!r}")
    return retry_class(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        allowed_methods=RETRY_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        respect_retry_after_header=True,
        # Hand the final error response back so it becomes a typed error with the server's text.
        raise_on_status=False,
        **extra,
    )


def mount_retry(
    session: requests.Session,
    retry: Retry,
    prefixes: Iterable[str] = ("http://", "https://"),
    adapter: HTTPAdapter | None = None,
) -> requests.Session:
    """Mount ``adapter`` (default: a plain ``HTTPAdapter``) carrying ``retry`` for every prefix."""
    if adapter is None:
        adapter = HTTPAdapter(max_retries=retry)
    elif adapter.max_retries is not retry:
        adapter.max_retries = retry
    for prefix in prefixes:
        session.mount(prefix, adapter)
    return session


def attempts_made(resp: requests.Response) -> int | None:
    """How many requests urllib3 sent for ``resp`` (the first try and its retries), if it can tell."""
    retries = getattr(resp.raw, "retries", None)
    history = getattr(retries, "history", None)
    return None if history is None else len(history) + 1
