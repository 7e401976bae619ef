"""HTTP client for SSB's KLASS API: code lists and code changes of one classification (131 = municipalities).

Endpoints used (``{root}/classifications/{id}/...``):
``codesAt?date=YYYY-MM-DD`` (codes valid on a date), ``codes?from=&to=`` (codes valid in a range) and
``changes?from=&to=`` (code changes). Responses are JSON: ``{"codes": [{code, parentCode, level, name,
shortName, presentationName, validFrom, validTo, notes}]}`` and ``{"codeChanges": [{oldCode, oldName,
newCode, newName, changeOccurred}]}``. Transient failures (429, 5xx, time-outs, dropped connections) are
retried with backoff by urllib3's Retry, honouring Retry-After: the same rule as the statbank client's
(:mod:`pipeline.http`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import orjson
import requests

from pipeline.config import KLASS_ROOT
from pipeline.http import http_retry, mount_retry

MUNICIPALITIES = 131
KOSTRA_GROUPS = 112  # kommunegrupper; 112 → 131 correspondences give the members by year


class KlassError(RuntimeError):
    """KLASS answered with an error, or with a body that is not the expected JSON."""


@dataclass(frozen=True)
class KlassCode:
    code: str
    name: str
    level: str
    parent_code: str | None
    valid_from: dt.date | None
    valid_to: dt.date | None
    notes: str = ""  # SSB's free-text history of the code ("I 1980 ble del av 0231 Skedsmo overført ...")


@dataclass(frozen=True)
class KlassChange:
    old_code: str
    old_name: str
    new_code: str
    new_name: str
    change_occurred: dt.date


def _date(value: str | dt.date, param: str) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise KlassError(f"{param} must be a date or YYYY-MM-DD, got {value!r}") from None


def _opt_date(value) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if value else None


def parse_codes(body: dict, endpoint: str = "codesAt") -> list[KlassCode]:
    """The ``codes`` of a KLASS code-list body (``codesAt`` or ``codes``), as the client returns them.

    Public so that a recorded KLASS response (or a CSV export with the same column names) is read exactly
    as a live one: ``pipeline.reference.klass.build_reference`` uses it for the recorded code lists.
    """
    if not isinstance(body, dict) or "codes" not in body:
        keys = sorted(body) if isinstance(body, dict) else type(body).__name__
        raise KlassError(f"KLASS {endpoint} response has no 'codes' list (keys: {keys})")
    try:
        return [
            KlassCode(
                code=str(c["code"]),
                name=str(c["name"]).strip(),
                level=str(c.get("level") or "1"),
                parent_code=c.get("parentCode") or None,
                valid_from=_opt_date(c.get("validFrom") or c.get("validFromInRequestedRange")),
                valid_to=_opt_date(c.get("validTo") or c.get("validToInRequestedRange")),
                notes=str(c.get("notes") or "").strip(),
            )
            for c in body["codes"]
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise KlassError(f"KLASS {endpoint} response has a malformed code: {exc!r}") from exc


@dataclass(frozen=True)
class KlassCorrespondence:
    source_code: str
    source_name: str
    target_code: str
    target_name: str


def parse_correspondence(body: dict, endpoint: str = "correspondsAt") -> list[KlassCorrespondence]:
    """The ``correspondenceItems`` of a KLASS correspondence body, live or recorded."""
    if not isinstance(body, dict) or not isinstance(body.get("correspondenceItems"), list):
        keys = sorted(body) if isinstance(body, dict) else type(body).__name__
        raise KlassError(f"KLASS {endpoint} response has no 'correspondenceItems' list (keys: {keys})")
    try:
        return [
            KlassCorrespondence(
                source_code=str(c["sourceCode"]),
                source_name=str(c.get("sourceName") or "").strip(),
                target_code=str(c["targetCode"]),
                target_name=str(c.get("targetName") or "").strip(),
            )
            for c in body["correspondenceItems"]
        ]
    except (KeyError, TypeError, AttributeError) as exc:
        raise KlassError(f"KLASS {endpoint} response has a malformed item: {exc!r}") from exc


class KlassClient:
    """Reads one KLASS classification. ``root`` may point at a local test server."""

    def __init__(
        self,
        root: str = KLASS_ROOT,
        classification_id: int = MUNICIPALITIES,
        *,
        language: str = "nb",
        retries: int = 4,
        backoff_factor: float = 0.5,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ):
        self.root = root.rstrip("/")
        self.classification_id = classification_id
        self.language = language
        self.timeout = timeout
        self.session = mount_retry(
            session or requests.Session(), http_retry(retries, backoff_factor=backoff_factor)
        )
        self.session.headers.setdefault("Accept", "application/json")

    def _get(self, endpoint: str, params: dict[str, str]) -> dict:
        url = f"{self.root}/classifications/{self.classification_id}/{endpoint}"
        try:
            resp = self.session.get(url, params={**params, "language": self.language}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise KlassError(f"KLASS request failed: {url}: {exc}") from exc
        if resp.status_code != 200:
            raise KlassError(f"KLASS answered {resp.status_code} for {resp.url}: {resp.text[:200]}")
        try:
            body = orjson.loads(resp.content)
        except orjson.JSONDecodeError as exc:
            raise KlassError(f"KLASS sent a body that is not JSON for {resp.url}: {exc}") from exc
        if not isinstance(body, dict):
            raise KlassError(f"KLASS sent {type(body).__name__}, not an object, for {resp.url}")
        return body

    def _codes(self, endpoint: str, params: dict[str, str]) -> list[KlassCode]:
        return parse_codes(self._get(endpoint, params), endpoint)

    def codes_at(self, date: str | dt.date) -> list[KlassCode]:
        """Codes valid on ``date``."""
        return self._codes("codesAt", {"date": _date(date, "date")})

    def codes(self, from_date: str | dt.date, to_date: str | dt.date) -> list[KlassCode]:
        """Codes valid at some time in ``[from_date, to_date)``."""
        return self._codes("codes", {"from": _date(from_date, "from_date"), "to": _date(to_date, "to_date")})

    def corresponds_at(self, target_classification_id: int, date: str | dt.date) -> list[KlassCorrespondence]:
        """This classification's codes against another's on ``date`` (112 → 131: each KOSTRA group's
        municipalities), from ``correspondsAt?targetClassificationId=…&date=…``."""
        body = self._get(
            "correspondsAt",
            {"targetClassificationId": str(int(target_classification_id)), "date": _date(date, "date")},
        )
        return parse_correspondence(body)

    def changes(self, from_date: str | dt.date, to_date: str | dt.date) -> list[KlassChange]:
        """Code changes (renumbering, mergers, splits) that took effect in ``[from_date, to_date]``."""
        body = self._get("changes", {"from": _date(from_date, "from_date"), "to": _date(to_date, "to_date")})
        if "codeChanges" not in body:
            raise KlassError(f"KLASS changes response has no 'codeChanges' list (keys: {sorted(body)})")
        try:
            return [
                KlassChange(
                    old_code=str(c["oldCode"]),
                    old_name=str(c.get("oldName") or "").strip(),
                    new_code=str(c["newCode"]),
                    new_name=str(c.get("newName") or "").strip(),
                    change_occurred=dt.date.fromisoformat(c["changeOccurred"][:10]),
                )
                for c in body["codeChanges"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise KlassError(f"KLASS changes response has a malformed change: {exc!r}") from exc
