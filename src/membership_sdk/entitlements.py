"""Entitlements: string keys a member holds, some with a quota per period."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .errors import CatalogError

_KEY = re.compile(r"^[a-z0-9][a-z0-9_.:-]*$")
_SPEC = re.compile(
    r"^\s*(?P<key>[^:\s]+)\s*(?::\s*(?P<limit>\d+)\s+per\s+(?P<period>day|week|month|year)\s*)?$"
)


class Period(StrEnum):
    """A calendar period over which a quota or meter counts."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class Quota:
    """At most ``limit`` distinct resources per calendar ``period``."""

    limit: int
    period: Period = Period.MONTH

    def __post_init__(self) -> None:
        if not isinstance(self.limit, int) or isinstance(self.limit, bool) or self.limit < 1:
            raise CatalogError(f"quota limit must be a positive integer, got {self.limit!r}")


@dataclass(frozen=True, slots=True)
class Entitlement:
    """A capability such as ``content.premium`` or ``downloads`` (with a quota)."""

    key: str
    quota: Quota | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not _KEY.match(self.key):
            raise CatalogError(
                f"invalid entitlement key {self.key!r}; expected lower-case letters, digits "
                "and . _ : - such as 'content.premium'"
            )

    @classmethod
    def parse(cls, spec: str | Entitlement) -> Entitlement:
        """Parse ``"downloads: 10 per month"`` or ``"content.premium"``."""
        if isinstance(spec, Entitlement):
            return spec
        match = _SPEC.match(spec) if isinstance(spec, str) else None
        if match is None:
            raise CatalogError(
                f"invalid entitlement {spec!r}; expected 'key' or 'key: N per month'"
            )
        quota = None
        if match["limit"] is not None:
            quota = Quota(int(match["limit"]), Period(match["period"]))
        return cls(match["key"], quota)

    def __str__(self) -> str:
        if self.quota is None:
            return self.key
        return f"{self.key}: {self.quota.limit} per {self.quota.period}"


def merge_quotas(a: Quota | None, b: Quota | None) -> Quota | None:
    """Combine the quotas of one key held through two grants: unlimited wins, else the larger."""
    if a is None or b is None:
        return None
    if a.period != b.period:
        # Different periods cannot be summed honestly; the more generous per-day rate wins.
        per_day = {Period.DAY: 1, Period.WEEK: 7, Period.MONTH: 30, Period.YEAR: 365}
        return a if a.limit / per_day[a.period] >= b.limit / per_day[b.period] else b
    return a if a.limit >= b.limit else b
