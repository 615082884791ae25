"""Which currency a visitor is offered first.

In order, the first that names a currency the site sells wins:

1. ``?currency=PLN`` in the query string (remembered in the session for later pages);
2. the currency remembered in the session;
3. the visitor's country: the header a CDN sets (``PAYWALL["COUNTRY_HEADER"]``), else the
   region of the visitor's first Accept-Language with one (``de-AT`` -> ``AT``), looked up in
   ``PAYWALL["CURRENCY_BY_COUNTRY"]``;
4. the active language (``pt-br``, then ``pt``) in ``PAYWALL["CURRENCY_BY_LANGUAGE"]``;
5. ``PAYWALL["DEFAULT_CURRENCY"]``.

An unknown or unsold ``?currency=`` is ignored, never an error. A response whose content
depends on the choice must vary on what it read: :func:`vary_on_currency`.

See ``docs/wagtail.md`` (Local formats and currencies).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from django.core import checks
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header

from membership_sdk.currency import MINOR_UNITS

from . import conf

__all__ = [
    "SESSION_KEY",
    "check_settings",
    "country_of",
    "currency_links",
    "preferred_currency",
    "vary_on_currency",
]

#: Where the visitor's ``?currency=`` choice is remembered.
SESSION_KEY = "paywall_currency"


def _header_name(meta_key: str) -> str:
    """``HTTP_CF_IPCOUNTRY`` -> ``Cf-Ipcountry`` (the HTTP header a Vary names)."""
    name = meta_key.removeprefix("HTTP_")
    return "-".join(part.capitalize() for part in name.split("_"))


def country_of(request: HttpRequest) -> str:
    """The visitor's ISO 3166 country code (upper case), or ``""`` when unknown: the CDN's
    header when ``PAYWALL["COUNTRY_HEADER"]`` names one, else Accept-Language's region."""
    header = conf.get("COUNTRY_HEADER")
    if header:
        value = str(request.META.get(header, "")).strip().upper()
        # Cloudflare sends "XX" for unknown and "T1" for Tor.
        if len(value) == 2 and value.isalpha() and value != "XX":
            return value
    for lang, _q in parse_accept_lang_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")):
        _base, _sep, region = lang.partition("-")
        if len(region) == 2 and region.isalpha():
            return region.upper()
    return ""


def _mapping(name: str, key_case: str) -> dict[str, str]:
    """``PAYWALL[name]`` with its keys in ``key_case`` and its currencies upper case; empty
    when it is no mapping (check E025/E026 reports that, the page does not fail)."""
    value = conf.get(name)
    if not isinstance(value, Mapping):
        return {}
    return {getattr(str(k), key_case)(): str(v).upper() for k, v in value.items()}


def _by_language(language: str) -> str:
    mapping = _mapping("CURRENCY_BY_LANGUAGE", "lower")
    language = language.lower()
    return mapping.get(language) or mapping.get(language.split("-")[0], "")


def _session(request: HttpRequest) -> Any:
    return getattr(request, "session", None)


def preferred_currency(request: HttpRequest | None, sold: Collection[str]) -> str:
    """The currency of ``sold`` to offer ``request``'s visitor first; ``""`` when ``sold``
    is empty. Records a valid ``?currency=`` in the session; when the choice came from the
    visitor rather than the URL, marks ``request.paywall_currency_by_visitor`` for
    :func:`vary_on_currency`."""
    if not sold:
        return ""
    sold = {c.upper() for c in sold}
    if request is not None:
        asked = str(request.GET.get("currency", "")).strip().upper()
        session = _session(request)
        if asked in sold:
            if session is not None and session.get(SESSION_KEY) != asked:
                session[SESSION_KEY] = asked
            return asked
        if len(sold) > 1:
            request.paywall_currency_by_visitor = True  # type: ignore[attr-defined]
        remembered = str(session.get(SESSION_KEY, "")) if session is not None else ""
        if remembered in sold:
            return remembered
        country = country_of(request)
        by_country = _mapping("CURRENCY_BY_COUNTRY", "upper")
        if by_country.get(country) in sold:
            return by_country[country]
    language = _by_language(translation.get_language() or "")
    if language in sold:
        return language
    default = str(conf.get("DEFAULT_CURRENCY") or "").upper()
    return default if default in sold else sorted(sold)[0]


def vary_on_currency(response: HttpResponseBase, request: HttpRequest | None = None) -> None:
    """Keep a shared cache from serving one visitor's currency to another.

    ``response`` varies on everything :func:`preferred_currency` reads (the session cookie,
    Accept-Language, the CDN's country header); and when ``request``'s currency was chosen
    from the visitor rather than named in the URL, it is also ``Cache-Control: private``:
    caches do not all honour ``Vary`` (Django's page cache keys Accept-Language on the
    active language alone, so ``en-US`` and ``en-GB`` would share a page; CDNs often ignore
    ``Vary`` on HTML). A page with ``?currency=`` in its URL stays cacheable.
    """
    headers = ["Cookie", "Accept-Language"]
    header = conf.get("COUNTRY_HEADER")
    if header:
        headers.append(_header_name(str(header)))
    patch_vary_headers(response, headers)
    if getattr(request, "paywall_currency_by_visitor", False):
        patch_cache_control(response, private=True)


def currency_links(
    request: HttpRequest | None, currencies: Iterable[str], chosen: str
) -> list[dict[str, str]]:
    """The "Other currencies" switch: ``{"code", "url"}`` for each of ``currencies`` but
    ``chosen``, each this page with ``?currency=`` set (its other parameters kept)."""
    links = []
    for code in sorted({c.upper() for c in currencies} - {chosen.upper()}):
        if request is None:
            url = "?" + urlencode({"currency": code})
        else:
            params = request.GET.copy()
            params["currency"] = code
            url = f"{request.path}?{params.urlencode()}"
        links.append({"code": code, "url": url})
    return links


# -- E025 to E028: the settings above (checks.py registers them) ---------------------------

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
_META_HEADER = re.compile(r"^HTTP_[A-Z0-9_]+$")


def _mapping_errors(
    name: str, key_ok: re.Pattern[str], key_kind: str, check_id: str
) -> list[checks.CheckMessage]:
    value = conf.get(name)
    hint = _("See “Local formats and currencies” in docs/wagtail.md.")
    if not isinstance(value, Mapping):
        return [
            checks.Error(
                _("PAYWALL[%(name)r] is %(value)r; expected a dict of %(kind)s to currency.")
                % {"name": name, "value": value, "kind": key_kind},
                hint=hint,
                id=check_id,
            )
        ]
    errors: list[checks.CheckMessage] = []
    for key, currency in value.items():
        if not isinstance(key, str) or not key_ok.match(key):
            problem = _("%(key)r is not %(kind)s") % {"key": key, "kind": key_kind}
        elif not isinstance(currency, str) or currency.upper() not in MINOR_UNITS:
            problem = _("%(key)r maps to %(currency)r, which is no ISO 4217 currency code") % {
                "key": key,
                "currency": currency,
            }
        else:
            continue
        errors.append(
            checks.Error(
                _("PAYWALL[%(name)r] is wrong: %(problem)s.") % {"name": name, "problem": problem},
                hint=hint,
                id=check_id,
            )
        )
    return errors


def check_settings() -> list[checks.CheckMessage]:
    """E025 to E028: the currency-choice settings name real countries, languages, currencies
    and request headers."""
    errors = _mapping_errors(
        "CURRENCY_BY_COUNTRY",
        _COUNTRY,
        _("an upper-case ISO 3166 country code such as 'PL'"),
        "wagtail_paywall.E025",
    )
    errors += _mapping_errors(
        "CURRENCY_BY_LANGUAGE",
        _LANGUAGE,
        _("a lower-case Django language code such as 'pl' or 'en-us'"),
        "wagtail_paywall.E026",
    )
    default = conf.get("DEFAULT_CURRENCY")
    if not isinstance(default, str) or default.upper() not in MINOR_UNITS:
        errors.append(
            checks.Error(
                _("PAYWALL['DEFAULT_CURRENCY'] is %(value)r, which is no ISO 4217 currency code.")
                % {"value": default},
                hint=_("Use a code such as 'EUR'; see docs/wagtail.md."),
                id="wagtail_paywall.E027",
            )
        )
    header = conf.get("COUNTRY_HEADER")
    if header is not None and (not isinstance(header, str) or not _META_HEADER.match(header)):
        errors.append(
            checks.Error(
                _("PAYWALL['COUNTRY_HEADER'] is %(value)r; expected None or a request.META key.")
                % {"value": header},
                hint=_(
                    "Write the header as Django's request.META names it: CF-IPCountry is "
                    "'HTTP_CF_IPCOUNTRY'; see docs/wagtail.md."
                ),
                id="wagtail_paywall.E028",
            )
        )
    return errors
