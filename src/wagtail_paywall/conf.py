"""The paywall's settings, read lazily from ``settings.PAYWALL``.

``PAYWALL`` is a dict and every key is optional; :data:`DEFAULTS` holds each default. Values
are looked up when used, never at import time, so ``override_settings(PAYWALL=...)`` in a test
is seen at once. A new key needs a default here (:func:`get` refuses unknown names) and a row
in the settings reference.

See ``docs/wagtail.md`` (Settings reference).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # provider name -> its settings, passed to providers as ``provider_config``.
    "PROVIDERS": {"fake": {}},
    "DEFAULT_PROVIDER": "fake",
    # Development mode: providers may verify webhooks with their public development
    # secrets (the fake provider without a secret, say). Counts only while DEBUG is on.
    "DEVELOPMENT_MODE": False,
    # Days a past-due or late-renewing membership keeps access after its period ended.
    "GRACE_DAYS": 3,
    # What a full refund / a lost chargeback of a subscription's payment does:
    # "keep_to_period_end" (access to the paid period's end, no renewal) or "end_now".
    "ON_REFUND": "keep_to_period_end",
    "ON_DISPUTE_LOST": "end_now",
    # Django cache alias holding resolved member contexts and the catalog.
    "CACHE_ALIAS": "default",
    # Seconds a resolved member context stays cached (it is also dropped on every change).
    "CACHE_TIMEOUT": 300,
    # Members whose rows each process also keeps in memory, under the same generation
    # token as the shared cache (0 turns the local copy off).
    "LOCAL_CACHE_SIZE": 1000,
    # Signed cookie carrying an anonymous visitor's metered reads.
    "METER_COOKIE": "paywall_meter",
    "METER_COOKIE_MAX_AGE": 60 * 60 * 24 * 400,
    # How far back meter and quota usage is loaded; covers a yearly quota.
    "USAGE_LOOKBACK_DAYS": 366,
    # Extra pluggy plugins to register on the program's plugin manager: dotted paths of
    # modules, or of objects in modules.
    "PLUGINS": (),
    # Webhook inbox retries: a failed event is due again after INBOX_RETRY_BASE seconds,
    # doubling per attempt up to INBOX_RETRY_MAX; after INBOX_MAX_ATTEMPTS it is "dead".
    "INBOX_MAX_ATTEMPTS": 10,
    "INBOX_RETRY_BASE": 30.0,
    "INBOX_RETRY_MAX": 6 * 60 * 60.0,
    # Webhook bodies larger than this many bytes are refused with 413 before being read.
    "WEBHOOK_MAX_BYTES": 1024 * 1024,
    # Dunning: days after a failed payment on which the fake provider charges again and
    # the manual provider reminds the member (rising whole days); Stripe retries itself.
    "DUNNING_RETRY_DAYS": (1, 3, 5),
    # Retention offers of the cancel flow: offer id -> {"kind": "discount" | "pause" |
    # "cheaper_plan", "reasons": [cancellation reasons], ...}; none by default.
    "RETENTION_OFFERS": {},
    # What a paused membership gives: "none" (no access while paused) or "paid_period"
    # (access until the period paid before the pause ends). See docs/lifecycle.md.
    "PAUSE_ACCESS": "paid_period",
    # Lawful cancellation (docs/cancellation.md; not legal advice), each off by default:
    # Germany §312k BGB: the "Cancel contracts here" button and its no-login page.
    "CANCELLATION_BUTTON": False,
    # EU Consumer Rights Directive Art. 11a: withdraw within 14 days, ended now, refunded.
    "WITHDRAWAL_BUTTON": False,
    # The Netherlands, Wet van Dam: trials end by themselves; at most one month's notice.
    "WET_VAN_DAM": False,
    # Germany §309 Nr. 9 BGB: a yearly plan renews on its tier's monthly price.
    "YEARLY_RENEWS_MONTHLY": False,
    # Declarations the no-login cancellation page takes per client address and per email
    # address in a window of seconds: (count, seconds).
    "CANCELLATION_RATE_LIMIT": (5, 3600),
    # The at-risk job's thresholds (docs/at-risk.md); a partial dict overrides those keys.
    "AT_RISK": {},
    # Referrals (docs/referrals.md): {} = off; a dict (each key optional) turns them on.
    "REFERRALS": {},
    # The largest members CSV the "Import members" admin screen accepts, in bytes.
    "IMPORT_MAX_BYTES": 20 * 1024 * 1024,
    # A private directory (never under MEDIA_ROOT) where the admin keeps an upload between
    # its dry run and its import, at most an hour; "" = a folder in the system temp dir.
    "IMPORT_UPLOAD_DIR": "",
    # The currency a visitor is offered first (docs/wagtail.md, Local formats and
    # currencies): by country (ISO 3166 code -> ISO 4217 code), then by language (Django
    # language code -> currency), else DEFAULT_CURRENCY; ``?currency=`` overrides them all.
    "CURRENCY_BY_COUNTRY": {
        "PL": "PLN",
        "US": "USD",
        **dict.fromkeys(("DK", "GL", "FO"), "DKK"),
        # The euro area.
        **dict.fromkeys(("AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR"), "EUR"),
        **dict.fromkeys(("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PT", "SI", "SK"), "EUR"),
    },
    "CURRENCY_BY_LANGUAGE": {"pl": "PLN", "da": "DKK", "de": "EUR", "nl": "EUR", "en-us": "USD"},
    "DEFAULT_CURRENCY": "EUR",
    # The request.META key of a country header a CDN sets (Cloudflare: "HTTP_CF_IPCOUNTRY");
    # None reads the country from Accept-Language's region (de-AT -> AT) only.
    "COUNTRY_HEADER": None,
    # Deliveries (docs/deliveries.md): the ISO 3166 countries shipped to (empty: any), and
    # how many days before its ship day an issue's cut-off falls when none is given.
    "DELIVERY_COUNTRIES": (),
    "DELIVERY_CUTOFF_DAYS": 7,
    # Services (docs/services.md): entitlement key -> the name members read, e.g.
    # {"service.consultation": _("Consultations")}; unnamed ones get one from the key.
    "SERVICES": {},
}


def get(name: str) -> Any:
    """The value of ``PAYWALL[name]``, or its default."""
    if name not in DEFAULTS:
        raise KeyError(f"unknown paywall setting {name!r}; known: {sorted(DEFAULTS)}")
    user: Mapping[str, Any] = getattr(settings, "PAYWALL", None) or {}
    return user.get(name, DEFAULTS[name])


def development_mode() -> bool:
    """Whether the site runs in development mode: ``PAYWALL["DEVELOPMENT_MODE"]`` is
    ``True`` *and* ``DEBUG`` is on. Only then may a provider verify webhooks with its
    public development secret; a site deployed with ``DEBUG`` off never does, whatever
    its ``PAYWALL`` says."""
    return bool(settings.DEBUG) and get("DEVELOPMENT_MODE") is True


def providers() -> dict[str, dict[str, Any]]:
    """``PAYWALL["PROVIDERS"]`` as a plain dict of dicts."""
    return {str(k): dict(v or {}) for k, v in get("PROVIDERS").items()}
