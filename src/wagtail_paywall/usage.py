"""Usage-based add-ons on a Wagtail site (``docs/usage.md``).

A site developer records use from their own view with one call::

    from wagtail_paywall.usage import record_usage

    record_usage(request.user, "datasets.download", idempotency_key=f"download-{doc.pk}-{nonce}")

Units within the member's included quota cost nothing; each unit beyond it is billed
through the membership's provider (see :mod:`membership_sdk.usage`): reported to Stripe
and the ``fake`` provider once the transaction commits, invoiced by bank transfer
(``manual``) when the period ends (``manage.py paywall_usage``, which also retries
failed reports). The account page shows the member's use this period.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core import checks
from django.db import DatabaseError, transaction
from django.utils.translation import gettext as _

from membership_sdk import usage as core
from membership_sdk.catalog import Catalog
from membership_sdk.entitlements import Period
from membership_sdk.membership import Membership
from membership_sdk.providers import UsageInvoicing, UsageReporting
from membership_sdk.usage import (
    MAX_QUANTITY,
    NotEntitled,
    PeriodClosed,
    UnknownMeter,
    UsageError,
    UsageLimitReached,
    UsageRecord,
    UsageSummary,
)

from .models import DjangoUsage
from .program import get_program

__all__ = [
    "MAX_QUANTITY",
    "NotEntitled",
    "PeriodClosed",
    "UnknownMeter",
    "UsageError",
    "UsageLimitReached",
    "billing",
    "close_periods",
    "record_usage",
    "report_pending",
    "usage_summaries",
]


def billing() -> core.UsageBilling:
    """The core's :class:`~membership_sdk.usage.UsageBilling` on the site's program and
    database."""
    return core.UsageBilling(get_program(), DjangoUsage())


def _member_id(member: Any) -> str:
    if isinstance(member, str):
        return member
    if getattr(member, "is_authenticated", False) and getattr(member, "pk", None) is not None:
        return str(member.pk)
    raise NotEntitled(f"{member!r} is not a signed-in member; only members record use")


def record_usage(
    member: Any,
    meter: str,
    quantity: int = 1,
    *,
    idempotency_key: str,
    when: datetime | None = None,
) -> UsageRecord:
    """Record ``quantity`` units of ``meter`` used by ``member`` (a user, or a member id).

    ``idempotency_key`` names this one use: a retried request passes the same key and
    is counted once. Units beyond the included quota are reported to the membership's
    provider when the surrounding transaction commits (a failed report is retried by
    ``manage.py paywall_usage``). ``quantity`` is at most :data:`MAX_QUANTITY`.

    :raises UsageError: bad input (the message names it); nothing was recorded.
    :raises PeriodClosed: ``when`` falls in a period that was closed (billed) already.
    :raises UnknownMeter: no usage rate has ``meter``.
    :raises NotEntitled: the member has no membership that includes ``meter``; gate the
        view with the access rules first.
    :raises UsageLimitReached: the period's most extra units would be passed.
    """
    usage = billing()
    record = usage.record(
        _member_id(member), meter, quantity, idempotency_key, when=when, report=False
    )
    if record.extra and record.reported_at is None:
        transaction.on_commit(lambda: billing().report(record))
    return record


def usage_summaries(
    member: Any, memberships: Sequence[Membership] | None = None
) -> tuple[UsageSummary, ...]:
    """The member's use of each meter this period (what the account page shows)."""
    return billing().summaries(_member_id(member), memberships=memberships)


def report_pending() -> core.ReportRun:
    """Report every record's extra units a provider has not taken yet."""
    return billing().report_pending()


def close_periods(now: datetime | None = None) -> core.CloseRun:
    """Close the periods that ended: invoice their extra use where the provider invoices
    it on its own (bank transfer), once."""
    return billing().close_periods(now)


# -- system checks E046 to E049 -----------------------------------------------------------------
def _catalog() -> Catalog | None:
    try:
        return get_program().catalog
    except DatabaseError:  # no tables yet (before migrate): nothing to check
        return None


def check_settings(databases: Sequence[str] | None = None) -> list[checks.CheckMessage]:
    """E046 to E049: usage rates every provider selling their tiers can bill. They read
    the catalog from the database, so they run when Django checks it (``migrate``,
    ``check --database default``, the test runner)."""
    if not databases:
        return []
    catalog = _catalog()
    if catalog is None or not catalog.usage_rates:
        return []
    program = get_program()
    errors: list[checks.CheckMessage] = []
    for tier in catalog.tiers:
        rates = catalog.usage_rates_for_tier(tier.slug)
        prices = [p for p in catalog.prices_for_tier(tier.slug) if p.recurring]
        for rate in rates:
            held = next(e for e in tier.entitlements if e.key == rate.meter)
            for price in prices:
                errors += _price_errors(program, tier.slug, rate, price, held.quota)
    return errors


def _price_errors(
    program: Any, tier: str, rate: core.UsageRate, price: Any, quota: Any
) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    where = {"meter": rate.meter, "tier": tier, "price": price.id}
    for name in price.provider_ids:
        provider = program.providers.get(name)
        if provider is None:
            continue
        if isinstance(provider, UsageReporting) and name == "stripe":
            priced = core.metered_price(rate, name, price.interval)
            if not priced or name not in rate.provider_meters:
                errors.append(
                    checks.Error(
                        _(
                            "Usage rate %(meter)r has no Stripe metered price or meter, but "
                            "tier %(tier)r, which includes it, is sold on Stripe (price "
                            "%(price)r): extra use could not be billed."
                        )
                        % where,
                        hint=_(
                            'Set the rate\'s metered prices to {"stripe": "price_..."} and its '
                            'provider meters to {"stripe": "<meter event name>"}; see '
                            "docs/usage.md."
                        ),
                        id="wagtail_paywall.E046",
                    )
                )
        elif not isinstance(provider, UsageReporting | UsageInvoicing):
            errors.append(
                checks.Error(
                    _(
                        "Tier %(tier)r includes the usage add-on %(meter)r and is sold on "
                        "provider %(provider)r (price %(price)r), which can neither report "
                        "nor invoice usage."
                    )
                    % {**where, "provider": name},
                    hint=_(
                        "Sell the tier on a provider that bills usage, or take the meter off "
                        "the tier; see docs/usage.md."
                    ),
                    id="wagtail_paywall.E048",
                )
            )
    if price.currency != rate.currency and "stripe" in price.provider_ids:
        errors.append(
            checks.Error(
                _(
                    "Usage rate %(meter)r is in %(rate)s, but price %(price)r of tier %(tier)r, "
                    "which includes it, is sold on Stripe in %(currency)s: a Stripe "
                    "subscription cannot mix currencies."
                )
                % {**where, "rate": rate.currency, "currency": price.currency},
                hint=_("Give the rate the currency of the tier's prices; see docs/usage.md."),
                id="wagtail_paywall.E047",
            )
        )
    if quota is not None and (
        quota.period not in (Period.MONTH, Period.YEAR)
        or (quota.period is Period.YEAR and str(price.interval) == "month")
    ):
        errors.append(
            checks.Error(
                _(
                    "Tier %(tier)r includes %(meter)r per %(period)s, which does not divide "
                    "into the billing periods of price %(price)r (%(interval)s)."
                )
                % {**where, "period": quota.period, "interval": price.interval},
                hint=_(
                    "Write the included quota per month (or per year on yearly prices), "
                    "e.g. '%(meter)s: 10 per month'; see docs/usage.md."
                )
                % where,
                id="wagtail_paywall.E049",
            )
        )
    return errors
