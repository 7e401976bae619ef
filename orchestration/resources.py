"""Resources shared by the asset groups: the warehouse home and where SSB's statbank is."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipeline.config import SSB_V0_ROOT, SSB_V2_ROOT, Home


class HomeResource(dg.ConfigurableResource):
    """The warehouse home folder (``KOSTRA_HOME`` or ``warehouse/``)."""

    root: str = ""

    def home(self) -> Home:
        return (Home(Path(self.root)) if self.root else Home.from_env()).ensure()


class StatbankResource(dg.ConfigurableResource):
    """Where the statbank API is: SSB itself, or the local demo server.

    The demo server can show the statbank as it was on a past release (``/asof/<release>/``), which the
    live API cannot: live, only the current release of a table can be fetched.

    ``retries``, ``backoff_factor`` and ``backoff_max`` configure the client's urllib3 retries of single
    requests (429 after ``Retry-After``, 5xx, time-outs); a whole step is retried by the ingest assets'
    Dagster retry policy.
    """

    v0_root: str = SSB_V0_ROOT
    v2_root: str = SSB_V2_ROOT
    asof_root: str = ""  # e.g. http://127.0.0.1:8765 for the demo server; empty = live SSB
    retries: int = 5
    backoff_factor: float = 1.0
    backoff_max: float = 120.0

    @property
    def is_live(self) -> bool:
        return not self.asof_root

    def roots_for(self, release_key: str) -> tuple[str, str]:
        if self.is_live:
            return self.v0_root, self.v2_root
        root = self.asof_root.rstrip("/")
        base = f"{root}/asof/{release_key}" if release_key else root  # no key: the statbank as it is now
        return f"{base}/api/v0", f"{base}/api/pxwebapi/v2"

    def client(self, release_key: str):
        from pipeline.ssb.client import SsbClient

        v0, v2 = self.roots_for(release_key)
        return SsbClient(
            v0,
            v2,
            retries=self.retries,
            backoff_factor=self.backoff_factor,
            backoff_max=self.backoff_max,
            progress=False,
        )
