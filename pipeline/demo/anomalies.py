"""Where the demo release plants its known data errors, and how each is described in anomalies.json.

Each planted anomaly mimics a real failure in KOSTRA data (IPLOS hours missing or absurd, SSB copying last
year's figures for a non-reporting municipality, accounting identities that do not hold, a large March→June
revision...) so the warehouse's checks have something true to find. The generator applies them to its
arrays; this module only decides *where* (deterministically from the seed) and writes the manifest entries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

# An ASSS member valid over the whole demo period, so at least one anomaly hits the network.
ASSS_ANCHORS = ("0301", "1103")


@dataclass
class Anomaly:
    anomaly_id: str
    kind: str
    table_id: str
    contents_code: str
    region_code: str
    year: int
    vintage: str  # "unrevised", "revised" or "both"
    dimensions: dict[str, str]
    description_nb: str
    expected_check: str
    # Extra facts the generator needs; not written to the manifest.
    params: dict = field(default_factory=dict, repr=False)

    def manifest(self) -> dict:
        d = asdict(self)
        d.pop("params")
        return d


def choose_municipalities(
    rng: np.random.Generator, codes: list[str], valid: np.ndarray, years: list[int], pop: np.ndarray, n: int
) -> list[tuple[str, int]]:
    """``n`` distinct (code, year) picks of mid-sized municipalities valid in the picked year and the year before."""
    picks: list[tuple[str, int]] = []
    used: set[str] = set()
    order = rng.permutation(len(codes))
    for i in order:
        code = codes[i]
        if code in used or code in ASSS_ANCHORS:
            continue
        ok = np.flatnonzero(valid[i, 1:] & valid[i, :-1]) + 1
        if ok.size == 0:
            continue
        y = int(ok[rng.integers(ok.size)])
        if not 3000 <= pop[i, y] <= 60000:
            continue
        picks.append((code, years[y]))
        used.add(code)
        if len(picks) == n:
            break
    if len(picks) < n:
        raise ValueError(f"demo anomalies: found only {len(picks)} of {n} suitable municipalities")
    return picks
