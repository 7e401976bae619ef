"""Keep this process under the statbank's call limit: at most ``max_calls`` requests per rolling window.

SSB counts calls per IP address, so every client in the process shares one :class:`RateLimiter` per API host
(:func:`limiter_for`). This is pacing, not retrying: the limiter never sends a request again. The retries are
urllib3's (the rule in :mod:`pipeline.http`), and they take a slot too: :class:`ThrottledRetry` is that
``Retry`` whose ``sleep`` (run before every retry, after any ``Retry-After`` wait) acquires a slot for the
next attempt.

A slot counts from the moment it is taken until ``window`` seconds after its request *finished*. The server
stamps a request somewhere between our send and the end of its response, so holding the slot until
``finish + window`` means the server can never see more than ``max_calls`` of our requests in any window,
whatever the latency.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pipeline.http import HttpRetry

__all__ = ["RateLimiter", "ThrottledRetry", "host_key", "limiter_for"]

DEFAULT_MAX_CALLS = 30
DEFAULT_WINDOW_SECONDS = 60.0


@dataclass
class _Slot:
    taken: float
    finished: float | None = None


class RateLimiter:
    """A thread-safe rolling-window limiter: ``acquire`` blocks until a call may be made."""

    def __init__(self, max_calls: int = DEFAULT_MAX_CALLS, window_seconds: float = DEFAULT_WINDOW_SECONDS):
        self._cond = threading.Condition()
        self._slots: list[_Slot] = []
        self._local = threading.local()
        self.max_calls = 0
        self.window_seconds = 0.0
        self.configure(max_calls, window_seconds)

    def configure(self, max_calls: int, window_seconds: float) -> None:
        """Adopt the limits the server announces (its config endpoint)."""
        if int(max_calls) < 1:
            raise ValueError(f"max_calls must be at least 1, got {max_calls!r}")
        if float(window_seconds) <= 0:
            raise ValueError(f"window_seconds must be positive, got {window_seconds!r}")
        with self._cond:
            self.max_calls = int(max_calls)
            self.window_seconds = float(window_seconds)
            self._cond.notify_all()

    def acquire(self) -> None:
        """Wait for a free slot and take it for the calling thread's next request."""
        with self._cond:
            while True:
                now = time.monotonic()
                horizon = now - self.window_seconds
                self._slots = [s for s in self._slots if s.finished is None or s.finished > horizon]
                if len(self._slots) < self.max_calls:
                    break
                finished = [s.finished for s in self._slots if s.finished is not None]
                # When every slot is still in flight, only a release can free one.
                timeout = (min(finished) - horizon) if finished else None
                self._cond.wait(timeout)
            slot = _Slot(taken=now)
            self._slots.append(slot)
            self._local.slot = slot

    def release(self) -> None:
        """Mark the calling thread's current request as finished; its slot expires one window later."""
        slot = getattr(self._local, "slot", None)
        if slot is None:
            return
        with self._cond:
            slot.finished = time.monotonic()
            self._local.slot = None
            self._cond.notify_all()

    def in_window(self) -> int:
        """How many slots count against the limit right now."""
        with self._cond:
            horizon = time.monotonic() - self.window_seconds
            return sum(1 for s in self._slots if s.finished is None or s.finished > horizon)


_registry: dict[str, RateLimiter] = {}
_registry_lock = threading.Lock()


def host_key(url: str) -> str:
    """``scheme://host:port``: the unit SSB limits (v0 and v2 live on the same host and share the quota)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}".lower()


def limiter_for(url: str) -> RateLimiter:
    """The process-wide limiter for the API host of ``url`` (created with SSB's default limits)."""
    key = host_key(url)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = RateLimiter()
        return limiter


class ThrottledRetry(HttpRetry):
    """The retry rule of :mod:`pipeline.http` whose every retry first waits for (and takes) a slot in the
    host's limiter.

    ``sleep`` runs after the failed attempt has completed, so it finishes that attempt's slot, waits the
    backoff or the server's ``Retry-After``, then takes a slot for the attempt that follows. It decides
    nothing about whether to retry: urllib3 does.
    """

    def __init__(self, *args: Any, limiter: RateLimiter | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limiter = limiter

    def new(self, **kw: Any) -> ThrottledRetry:
        kw.setdefault("limiter", self.limiter)
        return super().new(**kw)

    def sleep(self, response: Any = None) -> None:
        if self.limiter is not None:
            self.limiter.release()
        super().sleep(response)
        if self.limiter is not None:
            self.limiter.acquire()
