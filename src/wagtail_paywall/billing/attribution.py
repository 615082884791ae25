"""Content attribution: which page (and paywall variant) a checkout started from.

The paywall on page X signs ``{page, variant}`` (:func:`sign_source`) into its checkout
forms and its link to the pricing page (``?from=``); the pricing page keeps a valid one
in the session, so its own checkout forms carry it on, also across signing in. The
checkout view reads it back (:func:`source_of`: a value that fails its signature or is
older than :data:`MAX_AGE` is ignored, never trusted) and writes an
:class:`~wagtail_paywall.models.Attribution` for the member who checks out
(:func:`record_checkout`), passing the page and variant to the provider as metadata.

When the provider's event arrives, this module's hooks link the attribution: the
membership's activation (``membership_activated``) or the purchase's grant
(``membership_grant_changed``) takes the member's latest open attribution for that price
started within :data:`WINDOW` (else for any price). Matching by member and time works the
same on every provider (card, bank transfer days later, a replayed webhook) without the
provider returning anything of ours; a conditional update links each attribution once.

See ``docs/experiments.md`` (Content attribution).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core import signing
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpRequest

from membership_sdk import Grant, GrantKind, Membership, Status, hookimpl
from membership_sdk.member_prices import price_for
from membership_sdk.metrics import monthly_recurring

from .. import experiments
from ..models import Attribution, PaywallVariant
from ..program import get_program

SALT = "wagtail_paywall.attribution"
#: How long a signed source stays valid (a reader may think it over for a day or two).
MAX_AGE = 7 * 24 * 3600
#: How long after a checkout started its membership or purchase still counts as converted
#: from it (a bank transfer may take weeks to arrive).
WINDOW = timedelta(days=45)
#: The session key the pricing page keeps a signed source under.
SESSION_KEY = "paywall_source"


def sign_source(page_id: int | None, variant_id: int | None) -> str:
    """The signed, timestamped source the paywall puts in its forms and links."""
    return signing.dumps({"p": page_id, "v": variant_id}, salt=SALT, compress=True)


def read_source(raw: str | None) -> tuple[int | None, int | None] | None:
    """``(page id, variant id)`` of a signed source, or ``None`` when it is missing,
    forged, tampered with or expired."""
    if not raw or len(raw) > 500:
        return None
    try:
        data = signing.loads(raw, salt=SALT, max_age=MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    page, variant = data.get("p"), data.get("v")
    if page is not None and not isinstance(page, int):
        return None
    if variant is not None and not isinstance(variant, int):
        return None
    if page is None and variant is None:
        return None
    return page, variant


def remember_source(request: HttpRequest) -> None:
    """Keep a valid ``?from=`` source in the session (the pricing page calls this)."""
    raw = request.GET.get("from")
    session = getattr(request, "session", None)
    if session is not None and read_source(raw) is not None:
        session[SESSION_KEY] = raw


def source_of(request: HttpRequest) -> tuple[int | None, int | None] | None:
    """The checkout's source: the form's signed ``source``, else the session's."""
    found = read_source(request.POST.get("source"))
    if found is None:
        session = getattr(request, "session", None)
        if session is not None:
            found = read_source(session.get(SESSION_KEY))
    return found


def checkout_metadata(request: HttpRequest) -> dict[str, str]:
    """What the provider keeps with the checkout about its source (Stripe shows it)."""
    found = source_of(request)
    if found is None:
        return {}
    page, variant = found
    meta = {}
    if page is not None:
        meta["source_page"] = str(page)
    if variant is not None:
        meta["paywall_variant"] = str(variant)
    return meta


def record_checkout(
    request: HttpRequest, member_id: str, price_id: str, provider: str, checkout_id: str
) -> Attribution | None:
    """Store that ``member_id`` started a checkout of ``price_id`` from the request's
    source; nothing when it has none. A retry of the same checkout session writes no
    second row."""
    found = source_of(request)
    if found is None:
        return None
    page_id, variant_id = found
    from wagtail.models import Page

    if page_id is not None and not Page.objects.filter(pk=page_id).exists():
        page_id = None
    if variant_id is not None and not PaywallVariant.objects.filter(pk=variant_id).exists():
        variant_id = None
    if page_id is None and variant_id is None:
        return None
    if checkout_id:
        existing = Attribution.objects.filter(
            member_id=member_id, provider=provider, checkout_id=checkout_id
        ).first()
        if existing is not None:
            return existing
    price = next((p for p in get_program().catalog.prices if p.id == price_id), None)
    return Attribution.objects.create(
        member_id=member_id,
        currency=price.currency if price is not None else "",
        page_id=page_id,
        variant_id=variant_id,
        price_id=price_id,
        provider=provider,
        checkout_id=checkout_id,
        started_at=get_program().clock(),
    )


def _link(member_id: str, price_ids: list[str], **fields: Any) -> int | None:
    """Link the member's latest open attribution (for one of ``price_ids`` first)."""
    now = fields["converted_at"]
    candidates = (
        Attribution.objects.filter(
            member_id=member_id,
            converted_at__isnull=True,
            started_at__gte=now - WINDOW,
            started_at__lte=now + timedelta(minutes=5),
        )
        .annotate(
            same=Case(
                When(price_id__in=price_ids, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("same", "-started_at", "-id")
        .values_list("pk", flat=True)
    )
    for pk in candidates[:3]:
        # Conditional: two events linking at once link one attribution each, or none twice.
        if Attribution.objects.filter(pk=pk, converted_at__isnull=True).update(**fields):
            return pk
    return None


@hookimpl
def membership_activated(membership: Membership, event: Any) -> None:
    """A subscription arrived: link the checkout it came from (one query when the member
    has none open; the program fires this once per activation)."""
    if not membership.member_id:
        return
    program = get_program()
    now = program.clock()
    price = next((p for p in program.catalog.prices if p.id == membership.price_id), None)
    amount: int | None = None
    mrr: int | None = None
    currency = ""
    if price is not None:
        currency = price.currency
        trialing = membership.status is Status.TRIALING
        amount = 0 if trialing else membership.charged(price.amount, now)
        mrr = int(monthly_recurring(membership, price, now))
    _link(
        membership.member_id,
        [membership.price_id] if membership.price_id else [],
        membership_id=membership.id,
        converted_at=now,
        currency=currency,
        amount=amount,
        mrr=mrr,
    )


@hookimpl
def membership_grant_changed(grant: Grant, action: str) -> None:
    """A one-off purchase arrived: link the checkout it came from."""
    if action != "created" or grant.kind is not GrantKind.PURCHASE or not grant.item:
        return
    program = get_program()
    prices = {p.id: p for p in program.catalog.prices if p.item == grant.item}
    linked = _link(grant.member_id, list(prices), grant_id=grant.id, converted_at=program.clock())
    if linked is None:
        return
    attribution = Attribution.objects.get(pk=linked)
    price = prices.get(attribution.price_id) or next(iter(prices.values()), None)
    if price is not None:
        # A member price was charged when the buyer held its tier (it still does now, at
        # the payment's event): the amount they paid, not the list price.
        paid = price_for(price, program.context(grant.member_id, usage={})).amount
        Attribution.objects.filter(pk=linked).update(currency=price.currency, amount=paid, mrr=0)


def paywall_extras(request: HttpRequest | None, offers: list[dict[str, Any]]) -> dict[str, Any]:
    """What the paywall partial shows for the request's visitor besides the decision: the
    variant's heading, text and offers, and the signed source its forms and pricing link
    carry. Counts the visitor's exposure to a running test (once per visitor)."""
    if request is None:
        return {}
    variant = experiments.variant_for(request)
    experiments.record_exposure(request)
    page_id: int | None = getattr(request, "paywall_page_id", None)
    variant_id = experiments.running_variant_id(request)
    if variant_id is None and variant is not None:
        variant_id = variant.id  # the kept winner's: conversions still name it
    source = sign_source(page_id, variant_id) if page_id or variant_id else ""
    return {
        "offers": experiments.shape_offers(variant, offers),
        "variant_heading": variant.heading if variant is not None else "",
        "variant_body": variant.body if variant is not None else "",
        "source": source,
    }
