"""Generate the deterministic demo release: synthetic values in SSB's real table structure.

The demo has the real municipality codes of each year (old codes are separate series with '.' outside their
validity), the KOSTRA aggregates (EAK, EAKUO, EKGnn) computed from the municipalities, every table the
indicator catalogue reads, both vintages of every cell (March unrevised, June revised), SSB's status symbols,
and a set of planted anomalies listed in ``anomalies.json``. Values are synthetic but plausible and internally
consistent: ratio cells are numerator / denominator * scale of the base cells of the same vintage.

Everything is vectorised over (code × year) arrays; the same seed gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.reference import catalogue, seeds
from pipeline.ssb import calendar

STATUS_NA = "."  # not applicable: code outside its validity
STATUS_MISSING = ".."
STATUS_SUPPRESSED = ":"
REVISION_SHARE = 0.04  # share of base cells whose March figure differs from June's
MISSING_SHARE = 0.002
SUPPRESSED_SECTORS = {"barnevern", "sosiale_tjenester", "pleie_omsorg_0_66", "pleie_omsorg_67_pluss"}
VINTAGES = ("unrevised", "revised")

# Rough sizes (inhabitants) of the big cities by municipality_id, so the ASSS members look like themselves.
KNOWN_SIZES = {
    "0301": 690_000,
    "4601": 285_000,
    "5001": 205_000,
    "1103": 140_000,
    "3201": 127_000,
    "4204": 112_000,
    "3301": 101_000,
    "3203": 94_000,
    "3205": 86_000,
    "3107": 82_000,
    "1108": 80_000,
    "5501": 76_000,
}

# Fine age partition: (name, national share). Every published age group is a sum of these parts.
AGE_PARTS = [
    ("0", 0.011),
    ("1_2", 0.022),
    ("3_5", 0.034),
    ("6_15", 0.120),
    ("16_17", 0.024),
    ("18_19", 0.024),
    ("20", 0.013),
    ("21_24", 0.052),
    ("25_66", 0.540),
    ("67_79", 0.110),
    ("80p", 0.046),
]
AGE_PART_YEARS = {
    "0": [0],
    "1_2": [1, 2],
    "3_5": [3, 4, 5],
    "6_15": list(range(6, 16)),
    "16_17": [16, 17],
    "18_19": [18, 19],
    "20": [20],
    "21_24": list(range(21, 25)),
    "25_66": list(range(25, 67)),
    "67_79": list(range(67, 80)),
    "80p": list(range(80, 106)),
}

# Accounts: (sector, driver series, 2015 net kr per driver unit, share per function, gross/net per function).
ACCOUNT_SECTORS = {
    "grunnskole": (
        "gs_elever",
        108_000,
        {"202": 0.78, "213": 0.04, "215": 0.03, "222": 0.13, "223": 0.02},
        {"202": 1.12, "213": 1.8, "215": 2.6, "222": 1.15, "223": 1.05},
    ),
    "barnehage": (
        "pop_1_5",
        135_000,
        {"201": 0.86, "211": 0.05, "221": 0.09},
        {"201": 1.18, "211": 1.1, "221": 1.05},
    ),
    "barnevern": (
        "pop_0_17",
        9_500,
        {"244": 0.30, "251": 0.17, "252": 0.53},
        {"244": 1.08, "251": 1.1, "252": 1.15},
    ),
    "kommunehelse": (
        "pop_total",
        3_200,
        {"232": 0.28, "233": 0.07, "241": 0.65},
        {"232": 1.2, "233": 1.3, "241": 1.35},
    ),
    "sosial": (
        "pop_20_66",
        3_600,
        {"242": 0.38, "243": 0.10, "273": 0.14, "276": 0.10, "281": 0.28},
        {"242": 1.25, "243": 1.3, "273": 1.6, "276": 1.2, "281": 1.05},
    ),
}
PO_SHARES = {"253": 0.46, "254": 0.48, "261": 0.06}
PO_GROSS = {"253": 1.3, "254": 1.2, "261": 1.05}

# Base counts: driver series, rate, effect sd, yearly trend.
RATES = {
    "gs_elever": ("pop_6_15", 0.965, 0.01, 0.0),
    "gs_elever_spes": ("gs_elever", 0.078, 0.18, -0.01),
    "gs_timer_spes": ("gs_elever_spes", 140.0, 0.2, 0.0),
    "bh_barn_1_2": ("pop_1_2", 0.89, 0.03, 0.003),
    "bh_barn_3_5": ("pop_3_5", 0.97, 0.01, 0.0),
    "bv_barn_tiltak_ikke_plassert": ("pop_0_17", 0.024, 0.25, -0.02),
    "bv_barn_tiltak_plassert": ("pop_0_17", 0.011, 0.25, -0.01),
    "bv_barn_undersokt": ("pop_0_17", 0.045, 0.2, 0.0),
    "po_brukere_hjemmetj_0_66": ("pop_0_66", 0.016, 0.2, 0.02),
    "po_brukere_hjemmetj_67_pluss": ("pop_67_pluss", 0.14, 0.15, -0.01),
    "po_brukere_31des_0_66": ("po_brukere_hjemmetj_0_66", 1.25, 0.05, 0.0),
    "po_brukere_31des_67_pluss": ("po_brukere_hjemmetj_67_pluss", 1.35, 0.05, 0.0),
    "po_brukere_aar_0_66": ("po_brukere_31des_0_66", 1.22, 0.04, 0.0),
    "po_brukere_aar_67_pluss": ("po_brukere_31des_67_pluss", 1.30, 0.04, 0.0),
    "po_timer_uke_0_66": ("po_brukere_hjemmetj_0_66", 11.5, 0.2, 0.01),
    "po_timer_uke_67_pluss": ("po_brukere_hjemmetj_67_pluss", 5.8, 0.15, 0.01),
    "po_brukere_null_timer_0_66": ("po_brukere_hjemmetj_0_66", 0.02, 0.4, 0.0),
    "po_brukere_null_timer_67_pluss": ("po_brukere_hjemmetj_67_pluss", 0.02, 0.4, 0.0),
    "po_brukere_omfattende_0_66": ("po_brukere_31des_0_66", 0.12, 0.2, 0.0),
    "po_brukere_omfattende_67_pluss": ("po_brukere_31des_67_pluss", 0.16, 0.2, 0.0),
    "po_bistandsbehov_poeng_0_66": ("po_brukere_31des_0_66", 1.65, 0.05, 0.0),
    "po_bistandsbehov_poeng_67_pluss": ("po_brukere_31des_67_pluss", 1.85, 0.05, 0.0),
    "po_langtid_dager_0_66": ("pop_0_66", 0.08, 0.3, 0.0),
    "po_langtid_dager_67_pluss": ("pop_80_pluss", 38.0, 0.2, -0.01),
    "po_praktisk_timer_0_66": ("po_timer_uke_0_66", 0.35, 0.15, 0.0),
    "po_praktisk_timer_67_pluss": ("po_timer_uke_67_pluss", 0.2, 0.15, 0.0),
    "po_brukere_ttu_0_66": ("pop_0_66", 0.0006, 0.3, 0.0),
    "po_brukere_ttu_67_pluss": ("pop_67_pluss", 0.012, 0.25, 0.0),
    "helse_lege_aarsverk": ("pop_total", 0.0011, 0.2, 0.015),
    "helse_fysio_hjemler": ("pop_total", 0.0009, 0.2, 0.005),
    "helse_ergo_aarsverk": ("pop_total", 0.0007, 0.2, 0.01),
    "helse_hs_aarsverk": ("pop_0_20", 0.005, 0.2, 0.02),
    "sos_mottakere_18_24": ("pop_18_24", 0.045, 0.3, -0.01),
    "sos_mottakere_25_66": ("pop_25_66", 0.025, 0.3, 0.0),
    "sos_langtid": ("sos_mottakere", 0.35, 0.15, 0.0),
    "sos_med_barn": ("sos_mottakere", 0.28, 0.15, 0.0),
}
# Published figures without a base in the catalogue: (2015 level, effect sd (relative), trend, lo, hi).
LEVELS = {
    "gs_gruppestorrelse": (15.5, 0.12, 0.0, 6, 22),
    "gs_nasjonale_prover": (72.0, 0.06, 0.002, 40, 95),
    "gs_nde_per_innb_6_15": (104_000.0, 0.1, 0.03, 70_000, 200_000),
    "frie_inntekter_per_innb": (58_000.0, 0.1, 0.035, 45_000, 150_000),
    "bv_kost_per_barn_ikke_plassert": (52_000.0, 0.25, 0.02, 10_000, 200_000),
    "bv_kost_per_barn_plassert": (560_000.0, 0.2, 0.03, 150_000, 1_500_000),
    "gs_grunnskolepoeng": (41.0, 0.03, 0.003, 35, 48),
    "bh_andel_styrere_ped": (88.0, 0.06, 0.005, 50, 100),
    "bh_barn_per_ansatt": (6.0, 0.06, -0.01, 4, 8),
    "bh_kost_per_time": (58.0, 0.1, 0.03, 35, 95),
    "bv_us_innen_3mnd": (84.0, 0.1, 0.0, 30, 100),
    "bv_andel_tiltaksplan": (82.0, 0.1, 0.005, 30, 100),
    "po_nde_per_innb_0_66": (8_500.0, 0.2, 0.04, 2_000, 30_000),
    "po_nde_per_innb_67_pluss": (118_000.0, 0.15, 0.03, 50_000, 250_000),
    "po_dekning_hjemmetj_80": (31.0, 0.2, -0.01, 10, 60),
    "po_dekning_inst_80": (11.5, 0.25, -0.02, 3, 30),
}
INTEGER_UNITS = {"personer", "elever", "barn", "brukere", "mottakere", "årstimer", "døgn", "1000 kr", "poeng"}


@dataclass
class GeneratedDemo:
    out_dir: Path
    releases: list[calendar.Release]
    anomalies: list[dict]
    tables: dict[str, Path]
    rows: dict[str, int]  # stored rows (one per cell and year, both vintages) per table
    served_cells: int  # cells summed over every release (each shows all years up to its data year)
    sha256: dict[str, str] = field(default_factory=dict)


@dataclass
class _Series:
    values: dict[str, np.ndarray]  # vintage -> (n_regions, n_years) float, NaN where no number
    status: dict[str, np.ndarray]  # vintage -> (n_regions, n_years) object (None or symbol)


def _stable_seed(seed: int, name: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


class _Builder:
    def __init__(self, seed: int, first_year: int, last_year: int):
        self.seed = seed
        self.years = list(range(first_year, last_year + 1))
        self.t = np.arange(len(self.years), dtype=float)
        munis = seeds.municipalities()
        to = munis["valid_to_year"].fillna(9999).astype(int)
        fr = munis["valid_from_year"].astype(int)
        keep = (fr <= last_year) & (to >= first_year)
        munis = munis[keep].sort_values("municipality_code").reset_index(drop=True)
        self.munis = munis
        self.codes = munis["municipality_code"].tolist()
        self.ids = munis["municipality_id"].tolist()
        self.valid = self._valid_sorted(munis, np.array(self.years))
        uniq = sorted(set(self.ids))
        self.id_index = np.array([uniq.index(i) for i in self.ids])
        self.n_ids = len(uniq)
        self.M = len(self.codes)
        self.Y = len(self.years)
        self.cat = catalogue.load_catalogue()
        self.rows = {r["indicator_id"]: r for r in self.cat.to_dict("records")}
        self.raw: dict[str, dict[str, np.ndarray]] = {}  # indicator/atomic -> vintage -> M×Y values

    @staticmethod
    def _valid_sorted(munis: pd.DataFrame, yrs: np.ndarray) -> np.ndarray:
        fr = munis["valid_from_year"].astype(int).to_numpy()[:, None]
        to = munis["valid_to_year"].fillna(9999).astype(int).to_numpy()[:, None]
        return (fr <= yrs) & (to >= yrs)

    def rng(self, name: str) -> np.random.Generator:
        return _stable_seed(self.seed, name)

    def effect(self, name: str, sd: float) -> np.ndarray:
        """A persistent municipality effect shared by every code of one harmonised series (M×1)."""
        return self.rng("effect:" + name).normal(0.0, sd, self.n_ids)[self.id_index][:, None]

    def noise(self, name: str, sd: float) -> np.ndarray:
        return self.rng("noise:" + name).normal(0.0, sd, (self.M, self.Y))

    # -- population -------------------------------------------------------------------------------------
    def sizes(self) -> np.ndarray:
        """Inhabitants per code and year; predecessors share their successor's size (M×Y)."""
        rng = self.rng("sizes")
        m = self.munis
        idx = {c: i for i, c in enumerate(self.codes)}
        base = np.exp(rng.normal(np.log(5200), 1.05, self.M)).clip(200, 60_000)
        size = np.full(self.M, np.nan)
        self_share = np.ones(self.M)
        to = m["valid_to_year"].fillna(9999).astype(int).to_numpy()
        succ = m["successor_code"].tolist()
        for i in np.argsort(-to, kind="stable"):
            code = self.codes[i]
            if not np.isnan(size[i]):
                continue
            s = succ[i]
            if not s or s not in idx or np.isnan(size[idx[s]]):
                size[i] = KNOWN_SIZES.get(code, base[i]) if to[i] == 9999 else base[i]
                continue
        # Predecessors of each successor split its size (the same-named one gets the biggest share).
        for j in np.argsort(-to, kind="stable"):
            scode = self.codes[j]
            preds = [i for i, s in enumerate(succ) if s == scode]
            if not preds:
                continue
            if np.isnan(size[j]):
                size[j] = base[j]
            members = preds + (
                [j] if int(m["valid_from_year"].iloc[j]) < min(to[p] for p in preds) + 1 else []
            )
            alpha = np.array([4.0 if m["name"].iloc[k] == m["name"].iloc[j] else 1.0 for k in members])
            shares = rng.dirichlet(alpha)
            for k, sh in zip(members, shares, strict=True):
                if k == j:
                    self_share[j] = sh
                else:
                    size[k] = size[j] * sh
        size = np.where(np.isnan(size), base, size)
        growth = (1.0 + self.rng("growth").normal(0.007, 0.006, self.n_ids)[self.id_index])[:, None] ** self.t
        pop = size[:, None] * growth / growth[:, -1:]
        # A surviving code that absorbed others was smaller before the merger.
        from_y = m["valid_from_year"].astype(int).to_numpy()
        for j in np.flatnonzero(self_share < 1):
            merge_year = min(to[i] for i, s in enumerate(succ) if s == self.codes[j]) + 1
            before = np.array(self.years) < merge_year
            pop[j, before & (np.array(self.years) >= from_y[j])] *= self_share[j]
        return pop

    def population(self) -> None:
        """Inhabitants by sex and single year of age (07459's real layout); age groups are their sums."""
        pop = self.sizes()
        shares = np.array([s for _, s in AGE_PARTS])
        small = (pop[:, :1] < 5000).astype(float)
        tilt = np.zeros(len(AGE_PARTS))
        tilt[[9, 10]] = 0.25  # small municipalities are older
        tilt[[1, 2, 3]] = -0.08
        raw = np.empty((len(AGE_PARTS), self.M, self.Y))
        for k, (name, _) in enumerate(AGE_PARTS):
            eff = self.effect("age:" + name, 0.08)
            raw[k] = shares[k] * np.exp(eff + small * tilt[k] + self.noise("age:" + name, 0.01))
        raw /= raw.sum(axis=0, keepdims=True)
        self.pop_cells: dict[tuple[str, str, str], dict[str, np.ndarray]] = {}
        keys, exact = [], []
        for k, (name, _) in enumerate(AGE_PARTS):
            ages = AGE_PART_YEARS[name]
            # Within a part the oldest years thin out (80+ strongly, the rest hardly).
            decay = 0.12 if name == "80p" else 0.002
            within = np.exp(-decay * np.arange(len(ages)))
            within /= within.sum()
            male = 0.505 if ages[0] < 67 else (0.47 if ages[0] < 80 else 0.40)
            for a, w in zip(ages, within, strict=True):
                age_code = "105+" if a == 105 else f"{a:03d}"
                total = pop * raw[k] * w
                for sex, share in (("1", male), ("2", 1 - male)):
                    keys.append(("07459", sex, age_code))
                    exact.append(total * share)
        # Round the running total, not each cell: a small municipality keeps its inhabitants (rounding 212
        # cells of a few people each would make it empty).
        running = np.round(np.cumsum(np.stack(exact), axis=0))
        counts = np.diff(running, axis=0, prepend=0.0)
        for key, v in zip(keys, counts, strict=True):
            self.pop_cells[key] = {"revised": v, "unrevised": v.copy()}
        for iid, row in self.rows.items():
            if row["table_id"] != "07459":
                continue
            ages = catalogue.split_codes(row["alder"])
            v = sum(self.pop_cells[("07459", sex, a)]["revised"] for sex in ("1", "2") for a in ages)
            self.raw[iid] = {"revised": v, "unrevised": v.copy()}

    # -- bases, levels, accounts ----------------------------------------------------------------------
    def rate(self, iid: str) -> None:
        driver, level, sd, trend = RATES[iid]
        drv = self.raw[driver]["revised"]
        v = drv * level * np.exp(self.effect(iid, sd) + self.noise(iid, 0.03)) * (1 + trend) ** self.t
        self.raw[iid] = {"revised": v}

    def build_bases(self) -> None:
        self.population()
        order = [
            "gs_elever",
            "gs_elever_spes",
            "gs_timer_spes",
            "bh_barn_1_2",
            "bh_barn_3_5",
            "bv_barn_tiltak_ikke_plassert",
            "bv_barn_tiltak_plassert",
            "bv_barn_undersokt",
        ]
        for grp in ("0_66", "67_pluss"):
            order += [
                f"po_brukere_hjemmetj_{grp}",
                f"po_brukere_31des_{grp}",
                f"po_brukere_aar_{grp}",
                f"po_timer_uke_{grp}",
                f"po_brukere_null_timer_{grp}",
                f"po_brukere_omfattende_{grp}",
                f"po_bistandsbehov_poeng_{grp}",
                f"po_langtid_dager_{grp}",
                f"po_praktisk_timer_{grp}",
                f"po_brukere_ttu_{grp}",
            ]
        order += [
            "helse_lege_aarsverk",
            "helse_fysio_hjemler",
            "helse_ergo_aarsverk",
            "helse_hs_aarsverk",
            "sos_mottakere_18_24",
            "sos_mottakere_25_66",
        ]
        for iid in order:
            self.rate(iid)
            if iid in ("bh_barn_1_2", "bh_barn_3_5"):
                cap = self.raw["pop_1_2" if iid.endswith("1_2") else "pop_3_5"]["revised"]
                self.raw[iid]["revised"] = np.minimum(self.raw[iid]["revised"], cap * 0.995)
            if iid == "sos_mottakere_25_66":
                total = (self.raw["sos_mottakere_18_24"]["revised"] + self.raw[iid]["revised"]) * 1.03
                self.raw["sos_mottakere"] = {"revised": total}
                self.rate("sos_langtid")
                self.rate("sos_med_barn")
        self.raw["bh_barn_1_5"] = {
            "revised": self.raw["bh_barn_1_2"]["revised"] + self.raw["bh_barn_3_5"]["revised"]
        }
        self.raw["bv_barn_tiltak"] = {
            "revised": self.raw["bv_barn_tiltak_ikke_plassert"]["revised"]
            + self.raw["bv_barn_tiltak_plassert"]["revised"]
        }
        for iid, (lvl, sd, trend, lo, hi) in LEVELS.items():
            v = lvl * np.exp(self.effect(iid, sd) + self.noise(iid, sd / 4)) * (1 + trend) ** self.t
            self.raw[iid] = {"revised": np.clip(v, lo, hi)}
        self.accounts()

    def accounts(self) -> None:
        price = 1.03**self.t
        self.atomic: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        for sector, (driver, per_unit, shares, gross) in ACCOUNT_SECTORS.items():
            total = self.raw[driver]["revised"] * per_unit / 1000.0 * price
            total = total * np.exp(self.effect("acc:" + sector, 0.1) + self.noise("acc:" + sector, 0.03))
            for f, sh in shares.items():
                net = total * sh * np.exp(self.noise("accf:" + f, 0.04))
                self.atomic[(f, "AGD2")] = {"revised": net}
                self.atomic[(f, "AGD10")] = {
                    "revised": net * gross[f] * np.exp(self.noise("gross:" + f, 0.02))
                }
        po_total = (
            self.raw["po_nde_per_innb_0_66"]["revised"] * self.raw["pop_0_66"]["revised"]
            + self.raw["po_nde_per_innb_67_pluss"]["revised"] * self.raw["pop_67_pluss"]["revised"]
        ) / 1000.0
        for f, sh in PO_SHARES.items():
            net = po_total * sh * np.exp(self.noise("accf:" + f, 0.04))
            self.atomic[(f, "AGD2")] = {"revised": net}
            self.atomic[(f, "AGD10")] = {
                "revised": net * PO_GROSS[f] * np.exp(self.noise("gross:" + f, 0.02))
            }

    # -- vintages, rounding, anomalies, ratios, statuses ----------------------------------------------
    def decimals(self, iid: str) -> int:
        unit = self.rows[iid]["unit"]
        return 0 if unit in INTEGER_UNITS else catalogue.decimals_for(unit)

    def revise(self) -> None:
        """March figures: a few percent of base cells differ slightly from June's (never population)."""
        for key, d in list(self.raw.items()) + [((f"{k[0]}|{k[1]}"), v) for k, v in self.atomic.items()]:
            if isinstance(key, str) and key.startswith("pop_"):
                d["revised"] = np.round(d["revised"])
                d["unrevised"] = d["revised"].copy()
                continue
            name = key if isinstance(key, str) else str(key)
            dec = 0 if "|" in name else self.decimals(name)
            rev = np.round(d["revised"], dec)
            rng = self.rng("revise:" + name)
            mask = rng.random(rev.shape) < REVISION_SHARE
            factor = 1 + rng.normal(0, 0.02, rev.shape)
            unrev = np.where(mask, np.round(rev * factor, dec), rev)
            d["revised"], d["unrevised"] = rev, unrev

    def identities(self) -> None:
        """Identities every vintage obeys before anomalies are planted (March revisions may break them)."""
        for grp in ("0_66", "67_pluss"):
            # IPLOS: year-end users never exceed users during the year.
            for v in VINTAGES:
                aar, des = self.raw[f"po_brukere_aar_{grp}"][v], self.raw[f"po_brukere_31des_{grp}"][v]
                self.raw[f"po_brukere_aar_{grp}"][v] = np.maximum(aar, des)
                hj, null = (
                    self.raw[f"po_brukere_hjemmetj_{grp}"][v],
                    self.raw[f"po_brukere_null_timer_{grp}"][v],
                )
                self.raw[f"po_brukere_null_timer_{grp}"][v] = np.minimum(hj, null)
        for v in VINTAGES:
            # Hours of special education need pupils who receive it (a tiny school rounds to none).
            none = self.raw["gs_elever_spes"][v] == 0
            self.raw["gs_timer_spes"][v] = np.where(none, 0.0, self.raw["gs_timer_spes"][v])
        for (f, art), d in self.atomic.items():
            if art == "AGD2":
                for v in VINTAGES:
                    # Net never exceeds gross (revenue is non-negative).
                    d[v] = np.minimum(d[v], self.atomic[(f, "AGD10")][v])

    def derive_sums(self) -> None:
        """Catalogue accounts rows and function totals from the atomic function cells, per vintage."""
        for total, parts in seeds.function_totals().items():
            for art in ("AGD2", "AGD10"):
                self.atomic[(total, art)] = {
                    v: sum(self.atomic[(p, art)][v] for p in parts) for v in VINTAGES
                }
        for iid, row in self.rows.items():
            if row["table_id"] != "12367":
                continue
            fs = catalogue.split_codes(row["funksjon"])
            self.raw[iid] = {v: sum(self.atomic[(f, row["art"])][v] for f in fs) for v in VINTAGES}
        for iid, parts in (
            ("bh_barn_1_5", ("bh_barn_1_2", "bh_barn_3_5")),
            ("bv_barn_tiltak", ("bv_barn_tiltak_ikke_plassert", "bv_barn_tiltak_plassert")),
            ("sos_mottakere", ("sos_mottakere_18_24", "sos_mottakere_25_66")),
        ):
            if iid == "sos_mottakere":
                continue  # includes recipients outside the two age groups
            self.raw[iid] = {v: sum(self.raw[p][v] for p in parts) for v in VINTAGES}

    def ratio(self, iid: str, vintage: str) -> np.ndarray:
        row = self.rows[iid]
        num = self.raw[row["numerator_id"]][vintage]
        den = self.raw[row["denominator_id"]][vintage]
        with np.errstate(divide="ignore", invalid="ignore"):
            v = num / den * row["scale"]
        v[~np.isfinite(v)] = np.nan
        return np.round(v, catalogue.decimals_for(row["unit"]))


def _index_of(builder: _Builder, code: str, year: int) -> tuple[int, int]:
    return builder.codes.index(code), builder.years.index(year)


def _plant(b: _Builder, rng: np.random.Generator) -> list:
    """Apply the planted anomalies to the base arrays; return their manifest entries."""
    from pipeline.demo.anomalies import Anomaly, choose_municipalities

    picks = choose_municipalities(rng, b.codes, b.valid, b.years, b.raw["pop_total"]["revised"], 8)
    years = b.years
    out: list[Anomaly] = []

    def src(iid: str) -> tuple[str, str]:
        """Where the catalogue reads an indicator: (table id, contents code)."""
        return b.rows[iid]["table_id"], b.rows[iid]["contents_code"]

    iplos_table = src("po_timer_uke_67_pluss")[0]

    def both(iid, i, y, fn):
        for v in VINTAGES:
            b.raw[iid][v][i, y] = fn(b.raw[iid][v][i, y], v)

    # 1. IPLOS users with zero hours: every home-service user has no hours.
    code, year = picks[0]
    i, y = _index_of(b, code, year)
    users = b.raw["po_brukere_hjemmetj_67_pluss"]["revised"][i, y]
    both("po_timer_uke_67_pluss", i, y, lambda x, v: 0.0)
    both("po_brukere_null_timer_67_pluss", i, y, lambda x, v: b.raw["po_brukere_hjemmetj_67_pluss"][v][i, y])
    out.append(
        Anomaly(
            "demo-a01",
            "iplos_zero_hours",
            *src("po_timer_uke_67_pluss"),
            code,
            year,
            "both",
            {},
            f"Alle {int(users)} hjemmetjenestebrukere 67 år og over har null tildelte timer (IPLOS-feil).",
            "iplos_users_without_hours",
        )
    )
    # 2. Implausible hours per user (> 168 a week), in an ASSS member.
    code, year = "0301", years[-3]
    i, y = _index_of(b, code, year)
    both("po_timer_uke_0_66", i, y, lambda x, v: b.raw["po_brukere_hjemmetj_0_66"][v][i, y] * 190.0)
    out.append(
        Anomaly(
            "demo-a02",
            "implausible_hours",
            *src("po_timer_uke_0_66"),
            code,
            year,
            "both",
            {},
            "Tildelte timer per hjemmetjenestebruker 0-66 år er over 168 i uka (flere timer enn uka har).",
            "iplos_hours_per_user_implausible",
        )
    )
    # 3. Users at year end exceed users during the year.
    code, year = picks[1]
    i, y = _index_of(b, code, year)
    both(
        "po_brukere_31des_67_pluss",
        i,
        y,
        lambda x, v: np.round(b.raw["po_brukere_aar_67_pluss"][v][i, y] * 1.2 + 5),
    )
    out.append(
        Anomaly(
            "demo-a03",
            "year_end_exceeds_year",
            *src("po_brukere_31des_67_pluss"),
            code,
            year,
            "both",
            {},
            "Brukere per 31.12. (67 år og over) er flere enn brukere i løpet av året.",
            "iplos_year_end_le_during_year",
        )
    )
    # 4. SSB copied last year's figures for a municipality that did not report (IPLOS table, all cells).
    code, year = picks[2]
    i, y = _index_of(b, code, year)
    for iid, row in b.rows.items():
        if row["table_id"] == iplos_table:
            both(iid, i, y, lambda x, v, iid=iid: b.raw[iid][v][i, y - 1])
    out.append(
        Anomaly(
            "demo-a04",
            "copied_previous_year",
            *src("po_brukere_hjemmetj_67_pluss"),
            code,
            year,
            "both",
            {},
            f"Alle IPLOS-tall for {year} er identiske med {year - 1}: kommunen rapporterte ikke og SSB kopierte fjorårets tall.",
            "values_identical_to_previous_year",
            {"all_contents": True},
        )
    )
    # 5. Year-over-year jump (series break) in an ASSS member. Not in 2020: Stavanger took in Finnøy and
    # Rennesøy that year, and a change across a reform is reported once as a break, never as an outlier.
    code, year = "1103", (years[-4] if years[-4] != 2020 else years[-3])
    i, y = _index_of(b, code, year)
    both("helse_lege_aarsverk", i, y, lambda x, v: np.round(x * 3.0, 1))
    out.append(
        Anomaly(
            "demo-a05",
            "yoy_jump",
            *src("helse_lege_aarsverk"),
            code,
            year,
            "both",
            {},
            "Legeårsverk tredobles fra året før og faller tilbake året etter (brudd i serien).",
            "hidiroglou_berthelot_outlier",
        )
    )
    # 6. Large March→June revision of net expenditure on f202.
    code, year = picks[3]
    i, y = _index_of(b, code, year)
    b.atomic[("202", "AGD2")]["unrevised"][i, y] = np.round(b.atomic[("202", "AGD2")]["revised"][i, y] * 0.6)
    out.append(
        Anomaly(
            "demo-a06",
            "large_revision",
            "12367",
            "KOSbelop0000",
            code,
            year,
            "unrevised",
            {"KOKregnskapsomfa0000": "A", "KOKfunksjon0000": "202", "KOKart0000": "AGD2"},
            "Netto driftsutgifter grunnskole (202) ble revidert opp med om lag 67 prosent fra mars til juni.",
            "large_revision",
        )
    )
    # 7. A status that appears in June: a number in March, '..' in the revised figures.
    code, year = picks[4]
    out.append(
        Anomaly(
            "demo-a07",
            "status_in_june",
            *src("gs_grunnskolepoeng"),
            code,
            year,
            "revised",
            {},
            "Grunnskolepoeng hadde tall i mars, men er '..' (mangler) i junipubliseringen.",
            "status_changed_between_vintages",
            {"iid": "gs_grunnskolepoeng", "status": STATUS_MISSING},
        )
    )
    # 8. Net expenditure above gross on f254.
    code, year = picks[5]
    i, y = _index_of(b, code, year)
    for v in VINTAGES:
        b.atomic[("254", "AGD2")][v][i, y] = np.round(b.atomic[("254", "AGD10")][v][i, y] * 1.3)
    out.append(
        Anomaly(
            "demo-a08",
            "net_exceeds_gross",
            "12367",
            "KOSbelop0000",
            code,
            year,
            "both",
            {"KOKregnskapsomfa0000": "A", "KOKfunksjon0000": "254", "KOKart0000": "AGD2"},
            "Netto driftsutgifter på funksjon 254 er høyere enn brutto driftsutgifter.",
            "net_le_gross",
        )
    )
    # 9. Function total (FGK13) that does not equal 244 + 251 + 252: applied after the sums are derived.
    code, year = picks[6]
    out.append(
        Anomaly(
            "demo-a09",
            "total_not_sum",
            "12367",
            "KOSbelop0000",
            code,
            year,
            "both",
            {"KOKregnskapsomfa0000": "A", "KOKfunksjon0000": "FGK13", "KOKart0000": "AGD2"},
            "Funksjonsgruppe FGK13 Barnevern er ikke lik summen av funksjon 244, 251 og 252.",
            "function_total_equals_sum",
            {"add": 4321.0},
        )
    )
    # 10. Denominator of 0: no pupils recorded although the school spends money.
    code, year = picks[7]
    i, y = _index_of(b, code, year)
    both("gs_elever", i, y, lambda x, v: 0.0)
    both("gs_elever_spes", i, y, lambda x, v: 0.0)
    both("gs_timer_spes", i, y, lambda x, v: 0.0)
    out.append(
        Anomaly(
            "demo-a10",
            "zero_denominator",
            *src("gs_elever"),
            code,
            year,
            "both",
            {},
            "Antall elever er 0 mens netto driftsutgifter til grunnskole er positive (nevner lik 0).",
            "denominator_zero",
        )
    )
    return out


def _aggregates(b: _Builder) -> tuple[list[str], list[str], np.ndarray]:
    """Aggregate region codes, labels and membership (n_agg × M × Y)."""
    aggs = seeds.aggregate_regions()
    groups = seeds.kostra_groups()
    codes = aggs["region_code"].tolist()
    labels = aggs["name"].tolist()
    member = np.zeros((len(codes), b.M, b.Y), dtype=bool)
    idx = {c: i for i, c in enumerate(b.codes)}
    oslo = idx.get("0301")
    for a, code in enumerate(codes):
        if code == "EAK":
            member[a] = b.valid
        elif code == "EAKUO":
            member[a] = b.valid
            if oslo is not None:
                member[a, oslo] = False
    for r in groups.to_dict("records"):
        if r["kostra_group"] not in codes or r["municipality_code"] not in idx:
            continue
        a, i = codes.index(r["kostra_group"]), idx[r["municipality_code"]]
        hi = 9999 if pd.isna(r["year_to"]) else int(r["year_to"])
        yrs = np.array(b.years)
        member[a, i] |= (yrs >= int(r["year_from"])) & (yrs <= hi) & b.valid[i]
    return codes, labels, member


def generate(
    out_dir: Path, *, seed: int = 20240617, first_year: int = 2015, last_year: int = 2024, regions=None
) -> GeneratedDemo:
    """Write the demo release to ``out_dir`` (see docs/architecture.md, "Demo release")."""
    # The planted anomalies need four years: a jump in the fourth-last year that falls back after it, copied
    # IPLOS figures, and a year before each to compare with.
    if last_year < first_year + 3:
        raise ValueError(f"the demo needs at least four years, got {first_year}-{last_year}")
    out_dir = Path(out_dir)
    b = _Builder(seed, first_year, last_year)
    b.build_bases()
    b.revise()
    b.identities()
    anomalies = _plant(b, b.rng("anomalies"))
    b.derive_sums()
    for a in anomalies:
        if a.kind == "total_not_sum":
            i, y = _index_of(b, a.region_code, a.year)
            for v in VINTAGES:
                b.atomic[("FGK13", "AGD2")][v][i, y] += a.params["add"]

    # Statuses on municipality cells (before aggregation, which uses the underlying numbers).
    invalid = ~b.valid
    rng_missing = b.rng("missing")
    status: dict[str, dict[str, np.ndarray]] = {}
    base_ids = [i for i, r in b.rows.items() if r["kind"] == "base" or not r["numerator_id"]]
    for iid in base_ids:
        row = b.rows[iid]
        st = np.full((b.M, b.Y), None, dtype=object)
        if row["sector"] not in ("befolkning", "regnskap"):
            st[rng_missing.random((b.M, b.Y)) < MISSING_SHARE] = STATUS_MISSING
        sts = {}
        for v in VINTAGES:
            s = st.copy()
            if row["sector"] in SUPPRESSED_SECTORS and row["kind"] == "base":
                s[(b.raw[iid][v] <= 3) & (s == None)] = STATUS_SUPPRESSED  # noqa: E711
            s[invalid] = STATUS_NA
            sts[v] = s
        status[iid] = sts
    for a in anomalies:
        if a.kind == "status_in_june":
            i, y = _index_of(b, a.region_code, a.year)
            status[a.params["iid"]]["revised"][i, y] = a.params["status"]
            status[a.params["iid"]]["unrevised"][i, y] = None
    # Anomaly cells keep their numbers: a planted error must stay visible, not be hidden by a status.
    for a in anomalies:
        if a.kind == "copied_previous_year":
            i, y = _index_of(b, a.region_code, a.year)
            for iid, row in b.rows.items():
                if row["table_id"] == a.table_id and iid in status:
                    for v in VINTAGES:
                        status[iid][v][i, y] = status[iid][v][i, y - 1]
        if a.kind in ("zero_denominator", "iplos_zero_hours"):
            i, y = _index_of(b, a.region_code, a.year)
            for iid, row in b.rows.items():
                if row["table_id"] == a.table_id and iid in status:
                    for v in VINTAGES:
                        status[iid][v][i, y] = None

    # Aggregates.
    agg_codes, agg_labels, member = _aggregates(b)
    weight = b.raw["pop_total"]["revised"]

    def agg_sum(x: np.ndarray) -> np.ndarray:
        return np.einsum("amy,my->ay", member, np.nan_to_num(x))

    has_members = member.any(axis=1)
    full_vals: dict[str, dict[str, np.ndarray]] = {}
    full_status: dict[str, dict[str, np.ndarray]] = {}
    for iid in base_ids:
        row = b.rows[iid]
        full_vals[iid], full_status[iid] = {}, {}
        for v in VINTAGES:
            muni = b.raw[iid][v]
            if row["kind"] == "base":
                agg = agg_sum(muni)
            else:
                ok = status[iid][v] == None  # noqa: E711
                w = np.where(ok, weight, 0.0)
                with np.errstate(invalid="ignore", divide="ignore"):
                    agg = np.einsum("amy,my->ay", member, np.where(ok, muni, 0.0) * w) / agg_sum(w)
                agg = np.round(agg, b.decimals(iid) if row["unit"] not in INTEGER_UNITS else 0)
            ast = np.where(has_members, None, STATUS_NA).astype(object)
            agg = np.where(has_members, agg, np.nan)
            mv = np.where(status[iid][v] == None, muni, np.nan)  # noqa: E711
            full_vals[iid][v] = np.vstack([agg, mv])
            full_status[iid][v] = np.vstack([ast, status[iid][v]])
    # Atomic cells: accounts by function and art, population by sex and single year of age.
    atomic_vals, atomic_status = {}, {}
    for key, d in [*b.atomic.items(), *b.pop_cells.items()]:
        atomic_vals[key], atomic_status[key] = {}, {}
        for v in VINTAGES:
            st = np.where(invalid, STATUS_NA, None).astype(object)
            agg = np.where(has_members, agg_sum(d[v]), np.nan)
            atomic_vals[key][v] = np.vstack([agg, np.where(invalid, np.nan, d[v])])
            atomic_status[key][v] = np.vstack([np.where(has_members, None, STATUS_NA).astype(object), st])
    # Ratios from the (aggregated) bases of the same vintage; a missing base makes the ratio missing.
    for iid, row in b.rows.items():
        if not row["numerator_id"]:
            continue
        full_vals[iid], full_status[iid] = {}, {}
        for v in VINTAGES:
            num_raw = np.vstack([agg_sum(b.raw[row["numerator_id"]][v]), b.raw[row["numerator_id"]][v]])
            den_raw = np.vstack([agg_sum(b.raw[row["denominator_id"]][v]), b.raw[row["denominator_id"]][v]])
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.round(num_raw / den_raw * row["scale"], catalogue.decimals_for(row["unit"]))
            st = np.full(r.shape, None, dtype=object)
            for ref in (row["numerator_id"], row["denominator_id"]):
                rs = full_status[ref][v]
                st = np.where((st == None) & (rs != None), rs, st)  # noqa: E711
            st = np.where((st == None) & ~np.isfinite(r), STATUS_MISSING, st)  # noqa: E711
            full_vals[iid][v] = np.where(st == None, r, np.nan)  # noqa: E711
            full_status[iid][v] = st

    # Regions to write.
    region_codes = agg_codes + b.codes
    region_labels = agg_labels + [seeds.ssb_label(c, as_of=last_year, with_code=False) for c in b.codes]
    keep = np.ones(len(region_codes), dtype=bool)
    if regions is not None:
        wanted = set(regions)
        unknown = wanted - set(region_codes)
        if unknown:
            raise ValueError(f"generate(regions=...): unknown region codes {sorted(unknown)}")
        keep = np.array([c in wanted for c in region_codes])

    out_tables = out_dir / "tables"
    out_tables.mkdir(parents=True, exist_ok=True)
    specs = catalogue.tables()
    years_str = [str(y) for y in b.years]
    rows_written: dict[str, int] = {}
    years_of: dict[str, list[int]] = {}
    paths: dict[str, Path] = {}
    for table_id, spec in specs.items():
        combos, series = _combos(b, spec, full_vals, full_status, atomic_vals, atomic_status)
        # A table publishes only the years it serves (12210 ends in 2021, its successor starts in 2022).
        in_years = np.array([spec.serves(y) for y in b.years])
        series = [
            ({v: x[v][:, in_years] for v in VINTAGES}, {v: st[v][:, in_years] for v in VINTAGES})
            for x, st in series
        ]
        table_years = [y for y, ok in zip(years_str, in_years, strict=True) if ok]
        years_of[table_id] = [int(y) for y in table_years]
        n_years = len(table_years)
        R = int(keep.sum())
        C = len(combos)
        cols: dict[str, pa.Array] = {}
        reg = np.array(region_codes, dtype=object)[keep]
        cols[spec.region_dimension] = pa.array(np.repeat(reg, C * n_years).tolist(), pa.string())
        for k, dim_id in enumerate(_combo_dimensions(spec)):
            col = [c[k] for c in combos]
            cols[dim_id] = pa.array(
                np.tile(np.repeat(np.array(col, dtype=object), n_years), R).tolist(), pa.string()
            )
        cols["Tid"] = pa.array(np.tile(np.array(table_years, dtype=object), R * C).tolist(), pa.string())
        for v in VINTAGES:
            vals = np.stack([s[0][v][keep] for s in series], axis=1).reshape(-1)
            sts = np.stack([s[1][v][keep] for s in series], axis=1).reshape(-1)
            cols[f"value_{v}"] = pa.array(vals, pa.float64(), mask=np.isnan(vals))
            cols[f"status_{v}"] = pa.array(sts.tolist(), pa.string())
        order = [spec.region_dimension, *_combo_dimensions(spec), "Tid"]
        order += ["value_unrevised", "status_unrevised", "value_revised", "status_revised"]
        tbl = pa.table({k: cols[k] for k in order})
        path = out_tables / f"{table_id}.parquet"
        pq.write_table(tbl, path, compression="zstd", use_dictionary=True, write_statistics=False)
        paths[table_id] = path
        rows_written[table_id] = tbl.num_rows
        _write_json(
            out_tables / f"{table_id}.json",
            _table_meta(
                spec,
                reg.tolist(),
                [lbl for lbl, k in zip(region_labels, keep, strict=True) if k],
                table_years,
            ),
        )

    rels = calendar.releases(first_year, last_year)
    _write_json(out_dir / "releases.json", [r.as_dict() for r in rels])
    manifest = [a.manifest() for a in anomalies]
    _write_json(out_dir / "anomalies.json", manifest)
    (out_dir / "README.md").write_text(_readme(seed, first_year, last_year, rows_written), encoding="utf-8")
    per_year = {t: n // max(1, len(years_of[t])) for t, n in rows_written.items()}
    served = sum(
        per_year[t] * sum(1 for r in rels for y in years_of[t] if y <= r.data_year) for t in per_year
    )
    sums = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out_dir.rglob("*")) if p.is_file()
    }
    return GeneratedDemo(out_dir, rels, manifest, paths, rows_written, served, sums)


def _combo_dimensions(spec: catalogue.TableSpec) -> list[str]:
    """The table's dimensions other than region and time, in SSB order."""
    return [d[0] for d in spec.dimensions if d[0] not in (spec.region_dimension, "Tid")]


def _combos(b, spec, full_vals, full_status, atomic_vals, atomic_status):
    """The table's non-region, non-time cells in SSB order, each with its (values, statuses) arrays."""
    dims = [d for d in spec.dimensions if d[0] not in (spec.region_dimension, "Tid")]
    grids = (
        np.array(np.meshgrid(*[np.arange(len(d[1])) for d in dims], indexing="ij")).reshape(len(dims), -1).T
    )
    lookup = {}
    for row in b.cat[b.cat["table_id"] == spec.table_id].to_dict("records"):
        f = catalogue.cell_filters(row)
        key = tuple(f[d[0]][0] if d[0] in f else row["contents_code"] for d in dims)
        lookup[key] = row["indicator_id"]
    combos, series = [], []
    for g in grids:
        combo = tuple(dims[k][1][g[k]] for k in range(len(dims)))
        combos.append(combo)
        d = dict(zip([x[0] for x in dims], combo, strict=True))
        if spec.table_id == "12367":
            key = (d["KOKfunksjon0000"], d["KOKart0000"])
            series.append((atomic_vals[key], atomic_status[key]))
        elif spec.table_id == "07459":
            key = ("07459", d["Kjonn"], d["Alder"])
            series.append((atomic_vals[key], atomic_status[key]))
        elif combo in lookup:
            iid = lookup[combo]
            series.append((full_vals[iid], full_status[iid]))
        else:
            shape = next(iter(full_vals.values()))["revised"].shape
            na = {v: np.full(shape, np.nan) for v in VINTAGES}
            series.append((na, {v: np.full(shape, STATUS_NA, dtype=object) for v in VINTAGES}))
    return combos, series


def _table_meta(
    spec: catalogue.TableSpec, regions: list[str], region_labels: list[str], years: list[str]
) -> dict:
    dims = []
    for dim_id, codes, labels in spec.dimensions:
        if dim_id == spec.region_dimension:
            codes, labels = regions, region_labels
        elif dim_id == "Tid":
            codes, labels = years, years
        dims.append(
            {
                "id": dim_id,
                "label": catalogue.DIMENSION_LABELS_NB.get(dim_id, dim_id),
                "codes": codes,
                "labels": labels,
                # SSB lets a query eliminate these (07459's Kjonn): the answer is their sum.
                "elimination": dim_id in spec.summed_dimensions,
            }
        )
    return {
        "table_id": spec.table_id,
        "title": spec.title_nb,
        "demo": True,
        "note": "DEMO DATA: syntetiske verdier i SSBs virkelige tabellstruktur",
        "notes": _table_notes(spec),
        "first_year": spec.first_year,
        "last_year": spec.last_year,
        "successor_table_id": spec.successor_table_id,
        "discontinued": spec.last_year is not None,
        "dimension_order": [d[0] for d in spec.dimensions],
        "dimensions": dims,
        "units": {c: {"base": unit, "decimals": dec} for c, _label, unit, dec in spec.contents},
        "roles": {"time": ["Tid"], "metric": ["ContentsCode"], "geo": [spec.region_dimension]},
    }


def _table_notes(spec: catalogue.TableSpec) -> list[str]:
    """Notes as SSB puts them on a table (JSON-stat2 ``note``), with the demo's own label first."""
    notes = [
        "DEMO DATA: syntetiske verdier i SSBs virkelige tabellstruktur. Tallene er ikke SSBs statistikk."
    ]
    if spec.last_year is not None:
        successor = f" Erstattet av tabell {spec.successor_table_id}." if spec.successor_table_id else ""
        notes.append(f"Avslutta serie: tabellen oppdateres ikke etter årgang {spec.last_year}.{successor}")
    notes += [
        ".. = Tallgrunnlag mangler. Tall er ikke kommet inn i våre databaser eller er for usikre til å publiseres.",
        ". = Ikke mulig å oppgi tall. Tall finnes ikke på dette tidspunktet fordi kategorien ikke var i bruk da "
        "tallene ble samlet inn.",
        ": = Vises ikke av konfidensialitetshensyn.",
    ]
    return notes


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _readme(seed: int, first_year: int, last_year: int, rows: dict[str, int]) -> str:
    lines = [
        "# DEMO DATA: synthetic values, real structure",
        "",
        "Every number in this folder is **synthetic**. It is not SSB's statistics and must never be used as such.",
        "The structure is real: SSB table ids and dimension codes, the real municipality codes of each year",
        "(old codes show '.' outside their validity), KOSTRA aggregates, March (unrevised) and June (revised)",
        "vintages and SSB's status symbols ('.', '..', ':').",
        "",
        f"Generated by `pipeline.demo.generate` with seed {seed}, data years {first_year}-{last_year}.",
        "`anomalies.json` lists the data errors planted on purpose; the warehouse's checks should find them.",
        "",
        "| table | rows (cells × years, both vintages per row) |",
        "| --- | --- |",
    ]
    lines += [f"| {t} | {n} |" for t, n in rows.items()]
    return "\n".join(lines) + "\n"
