"""Metered reads of anonymous visitors, kept in a signed cookie.

The cookie holds ``{meter: {resource key: latest charge (unix seconds)}}``, signed with the
site's ``SECRET_KEY`` so a visitor cannot reset or forge it (deleting it is possible,
as with any cookie-based meter; registering moves the count into the database for good).
When a visitor signs in, :func:`wagtail_paywall.access.merge_cookie_reads` carries the
count over. See ``docs/wagtail.md`` (Metered reads and signing in).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from django.core import signing
from django.http import HttpRequest, HttpResponse

from . import conf

SALT = "wagtail_paywall.meter"
#: At most this many resources per meter are remembered (the oldest are dropped).
MAX_ENTRIES = 100

Usage = dict[str, dict[str, datetime]]


def _decode(raw: str | None) -> Usage:
    if not raw:
        return {}
    try:
        data = signing.loads(raw, salt=SALT, max_age=conf.get("METER_COOKIE_MAX_AGE"))
    except signing.BadSignature:
        return {}  # tampered or expired: the visitor starts from zero, never from more
    usage: Usage = {}
    if isinstance(data, dict):
        for meter, uses in data.items():
            if isinstance(meter, str) and isinstance(uses, dict):
                usage[meter] = {
                    str(key): datetime.fromtimestamp(int(ts), UTC)
                    for key, ts in uses.items()
                    if isinstance(ts, int | float)
                }
    return usage


def _encode(usage: Mapping[str, Mapping[str, datetime]], now: datetime) -> str:
    oldest = now - timedelta(days=conf.get("USAGE_LOOKBACK_DAYS"))
    data: dict[str, dict[str, int]] = {}
    for meter, uses in usage.items():
        recent = sorted(((w, k) for k, w in uses.items() if w >= oldest), reverse=True)
        if recent:
            data[meter] = {k: int(w.timestamp()) for w, k in recent[:MAX_ENTRIES]}
    return signing.dumps(data, salt=SALT, compress=True)


def cookie_usage(request: HttpRequest) -> Usage:
    """The anonymous visitor's usage, read from the cookie once per request."""
    usage: Usage | None = getattr(request, "_paywall_cookie_usage", None)
    if usage is None:
        usage = _decode(request.COOKIES.get(conf.get("METER_COOKIE")))
        request._paywall_cookie_usage = usage  # type: ignore[attr-defined]
    return usage


def record_cookie_use(request: HttpRequest, meter: str, key: str, when: datetime) -> None:
    """Count ``key`` against ``meter`` in the cookie the response will carry."""
    usage = cookie_usage(request)
    usage.setdefault(meter, {})[key] = when
    request._paywall_cookie_dirty = True  # type: ignore[attr-defined]


def clear_cookie(request: HttpRequest) -> None:
    """Forget the cookie's reads: the response deletes the cookie.

    For :func:`wagtail_paywall.access.merge_cookie_reads`, once it has moved the reads
    into a member's account.
    """
    request._paywall_cookie_usage = {}  # type: ignore[attr-defined]
    request._paywall_cookie_clear = True  # type: ignore[attr-defined]


def write_cookie(request: HttpRequest, response: HttpResponse) -> None:
    """Set or delete the meter cookie on ``response`` as the request left it."""
    name = conf.get("METER_COOKIE")
    if getattr(request, "_paywall_cookie_clear", False):
        if name in request.COOKIES:
            response.delete_cookie(name, samesite="Lax")
        return
    if not getattr(request, "_paywall_cookie_dirty", False):
        return
    now = datetime.now(UTC)
    response.set_cookie(
        name,
        _encode(cookie_usage(request), now),
        max_age=conf.get("METER_COOKIE_MAX_AGE"),
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
