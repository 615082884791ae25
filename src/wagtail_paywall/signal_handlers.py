"""Signal handlers: keep cached access and the catalog in step with the database.

Changes made through :class:`~membership_sdk.MembershipProgram` already drop the cache
through the ``membership_access_changed`` hook; these handlers also catch changes made
any other way (the Django admin, a shell, a data migration). See ``docs/wagtail.md``
(Caching and the query budget).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from .access import merge_cookie_reads
from .billing.language import remember_language
from .caching import invalidate_member
from .models import Coupon, Erasure, Grant, Membership, Price, Tier, UsageRate
from .privacy import erase_quietly
from .program import catalog_changed
from .rules import rule_memo


@receiver(post_save, sender=Grant, dispatch_uid="paywall_grant_saved")
@receiver(post_delete, sender=Grant, dispatch_uid="paywall_grant_deleted")
@receiver(post_save, sender=Membership, dispatch_uid="paywall_membership_saved")
@receiver(post_delete, sender=Membership, dispatch_uid="paywall_membership_deleted")
def access_row_changed(sender: type, instance: Grant | Membership, **kwargs: Any) -> None:
    member_id = instance.member_id
    invalidate_member(member_id)
    # Again after commit: a request that read the old rows while the transaction was
    # open must not leave them cached under the new generation.
    transaction.on_commit(lambda: invalidate_member(member_id))


@receiver(post_save, sender=Tier, dispatch_uid="paywall_tier_saved")
@receiver(post_delete, sender=Tier, dispatch_uid="paywall_tier_deleted")
@receiver(post_save, sender=Coupon, dispatch_uid="paywall_coupon_saved")
@receiver(post_delete, sender=Coupon, dispatch_uid="paywall_coupon_deleted")
@receiver(m2m_changed, sender=Coupon.tiers.through, dispatch_uid="paywall_coupon_tiers")
@receiver(m2m_changed, sender=Coupon.prices.through, dispatch_uid="paywall_coupon_prices")
@receiver(post_save, sender=Price, dispatch_uid="paywall_price_saved")
@receiver(post_delete, sender=Price, dispatch_uid="paywall_price_deleted")
@receiver(post_save, sender=UsageRate, dispatch_uid="paywall_usage_rate_saved")
@receiver(post_delete, sender=UsageRate, dispatch_uid="paywall_usage_rate_deleted")
def catalog_row_changed(sender: type, **kwargs: Any) -> None:
    catalog_changed()
    transaction.on_commit(catalog_changed)
    # A tier's slug may have changed: rebuild the page rules that depend on it.
    rule_memo.clear()


@receiver(user_logged_in, dispatch_uid="paywall_merge_meter_cookie")
def carry_over_anonymous_reads(
    sender: type, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    """Reads counted in the anonymous cookie count for the member who signs in or up."""
    if request is not None and hasattr(request, "COOKIES"):
        merge_cookie_reads(request, str(user.pk))


@receiver(user_logged_in, dispatch_uid="paywall_remember_language")
def remember_member_language(
    sender: type, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    """The language a member signs in with is the one their emails use (docs/i18n.md)."""
    if request is not None:
        remember_language(request, user)


@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="paywall_erase_deleted_user")
def erase_deleted_user(sender: type, instance: Any, **kwargs: Any) -> None:
    """A deleted user's paywall data is erased (``docs/privacy.md``); a provider outage
    leaves the erasure pending for ``paywall_erase_member --pending``, never blocks it."""
    if instance.pk is not None:
        email = getattr(instance, instance.get_email_field_name(), "") or ""
        erase_quietly(str(instance.pk), source=Erasure.Source.USER_DELETED, emails=[email])
