"""The Hidiroglou–Berthelot year-over-year outlier test, as SSB runs it on KOSTRA (ssb-kostra ``hb``).

For units with a value > 0 in both years, r = x_t / x_{t-1} is centred on the stratum's median ratio
(s = 1 - r_M / r below the median, r / r_M - 1 above), scaled by the unit's size (E = s · max(x_t, x_{t-1})^pU),
and E is compared with the stratum's quartiles: outside [E_M - pC·d_Q1, E_M + pC·d_Q3] with
d_Q1 = max(E_M - E_Q1, |pA·E_M|) and d_Q3 = max(E_Q3 - E_M, |pA·E_M|) is an outlier.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def hb_frame(
    df: pd.DataFrame, by: list[str], *, pu: float = 0.5, pa: float = 0.05, pc: float = 20.0
) -> pd.DataFrame:
    """Add ``ratio``, ``hb_e``, ``hb_lower``, ``hb_upper`` and ``hb_outlier`` to ``df`` (columns x0, x1).

    Rows where either value is missing or not > 0 are not tested (``hb_outlier`` False, bounds NaN).
    Vectorised over all strata ``by`` at once.
    """
    for col in ("x0", "x1"):
        if col not in df.columns:
            raise ValueError(f"hb_frame: the frame needs column {col!r} (x0 = last year, x1 = this year)")
    out = df.copy()
    ok = (out["x0"] > 0) & (out["x1"] > 0)
    t = out.loc[ok].copy()
    t["ratio"] = t["x1"] / t["x0"]
    g = t.groupby(by, sort=False, dropna=False)
    r_med = g["ratio"].transform("median")
    s = np.where(t["ratio"] < r_med, 1 - r_med / t["ratio"], t["ratio"] / r_med - 1)
    t["hb_e"] = s * np.maximum(t["x0"], t["x1"]) ** pu
    g = t.groupby(by, sort=False, dropna=False)["hb_e"]
    e_med = g.transform("median")
    # groupby().quantile is vectorised; a transform with a lambda would loop over strata in Python.
    quart = pd.DataFrame({"_q1": g.quantile(0.25), "_q3": g.quantile(0.75)})
    joined = t[by].join(quart, on=by)
    e_q1, e_q3 = joined["_q1"].to_numpy(), joined["_q3"].to_numpy()
    floor = (pa * e_med).abs()
    d_q1 = np.maximum(e_med - e_q1, floor)
    d_q3 = np.maximum(e_q3 - e_med, floor)
    t["hb_lower"] = e_med - pc * d_q1
    t["hb_upper"] = e_med + pc * d_q3
    t["hb_outlier"] = (t["hb_e"] < t["hb_lower"]) | (t["hb_e"] > t["hb_upper"])
    for col in ("ratio", "hb_e", "hb_lower", "hb_upper"):
        out[col] = np.nan
        out.loc[ok, col] = t[col]
    out["hb_outlier"] = False
    out.loc[ok, "hb_outlier"] = t["hb_outlier"]
    out["hb_outlier"] = out["hb_outlier"].astype(bool)
    return out


def hb(x0, x1, *, pu: float = 0.5, pa: float = 0.05, pc: float = 20.0) -> np.ndarray:
    """Outlier flags for one stratum: ``x0`` last year's values, ``x1`` this year's."""
    df = pd.DataFrame({"x0": np.asarray(x0, dtype=float), "x1": np.asarray(x1, dtype=float), "s": 0})
    return hb_frame(df, ["s"], pu=pu, pa=pa, pc=pc)["hb_outlier"].to_numpy()
