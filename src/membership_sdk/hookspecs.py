"""Every hook of the membership SDK.

Implement hooks in a module or class and decorate each with
:data:`membership_sdk.hookimpl`. Hook names start with ``membership_`` so one module
can implement the hooks of several hosts without clashes.

Lifecycle hooks are called after the change they report was stored, exactly once per
real transition: a duplicated or stale event fires nothing. An exception a hook raises
reaches the caller of :meth:`~membership_sdk.MembershipProgram.apply`; a caller that
applies events inside its own transaction (as the Wagtail adapter's webhook inbox does)
rolls the change back and retries the event later, so no event is lost when a handler
fails. :func:`membership_access_changed` is always called before the lifecycle hook, so
a failing plugin never leaves a cached access context stale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from datetime import datetime

    from .events import ApplyResult, BillingEvent
    from .gifts import Gift
    from .loyalty import Award, LoyaltyReward, Tenure
    from .membership import Grant, Membership
    from .providers.base import Provider
    from .referrals import Referral
    from .services import ServiceRequest

hookspec = pluggy.HookspecMarker("membership_sdk")
hookimpl = pluggy.HookimplMarker("membership_sdk")


# -------------------------------------------------------------------------------------------
# Registration
# -------------------------------------------------------------------------------------------


@hookspec
def membership_register_providers(
    register: Callable[[Provider], None], config: Mapping[str, Mapping[str, Any]]
) -> None:
    """Register payment providers.

    Called once when a :class:`~membership_sdk.plugins.Providers` registry is built.
    Call ``register(provider)`` for each provider this plugin offers; the registry
    checks the provider satisfies :class:`~membership_sdk.providers.Provider`, declares
    its settings in a :class:`~membership_sdk.providers.SettingsSpec` (``settings_spec``)
    and that its name is unique, raising :class:`~membership_sdk.errors.PluginError`
    otherwise.

    :param register: callback taking one provider instance.
    :param config: settings per provider name, e.g. ``{"stripe": {"api_key": ...}}``;
        a provider reads only its own entry, only the keys its ``settings_spec``
        declares, and may skip registering when it has none.
    :returns: nothing; results are ignored. All implementations are called.
    """


# -------------------------------------------------------------------------------------------
# Membership lifecycle
# -------------------------------------------------------------------------------------------


@hookspec
def membership_activated(membership: Membership, event: BillingEvent | None) -> None:
    """A membership started giving access (it became trialing or active from a status
    that gave none, or was created in such a status).

    :param membership: the membership as stored after the change.
    :param event: the billing event that caused it, or ``None`` for a local change.
    :returns: nothing; results are ignored. All implementations are called.
    """


@hookspec
def membership_renewed(membership: Membership, event: BillingEvent | None) -> None:
    """An active membership's paid period was extended by a payment (a successful
    renewal, or a past-due one recovering): its ``paid_through`` moved past the period
    already paid. A provider merely starting a new period (Stripe does, an hour before it
    charges) is no renewal; if that charge fails, :func:`membership_payment_failed` fires
    alone.

    :param membership: the membership as stored after the change.
    :param event: the billing event that caused it, or ``None`` for a local change.
    :returns: nothing; results are ignored. All implementations are called.
    """


@hookspec
def membership_payment_failed(membership: Membership, event: BillingEvent | None) -> None:
    """A membership became past due: a renewal payment failed and dunning began. It keeps
    access until its last paid period ends plus the program's grace period.

    :param membership: the membership as stored after the change.
    :param event: the billing event that caused it, or ``None`` for a local change.
    :returns: nothing; results are ignored. All implementations are called.
    """


@hookspec
def membership_canceled(membership: Membership, event: BillingEvent | None) -> None:
    """A member asked to cancel: the membership ends at once, or at the end of the paid
    period. Fired once per cancellation; when a scheduled cancellation later takes
    effect, :func:`membership_expired` fires instead.

    :param membership: the membership as stored after the change; check
        ``cancel_at_period_end`` and ``status`` to tell which.
    :param event: the billing event that caused it, or ``None`` for a local change.
    :returns: nothing; results are ignored. All implementations are called.
    """


@hookspec
def membership_expired(membership: Membership, event: BillingEvent | None) -> None:
    """A membership ended for good: it expired, or a scheduled cancellation took effect.

    :param membership: the membership as stored after the change.
    :param event: the billing event that caused it, or ``None`` for a local change.
    :returns: nothing; results are ignored. All implementations are called.
    """


@hookspec
def membership_trial_ending(membership: Membership, event: BillingEvent | None) -> None:
    """A trialing membership's trial ends soon: the first payment is near.

    The core does not watch the clock; an adapter fires this once per trial, when a
    scheduled job finds the trial ending within its notice period (``wagtail_paywall``:
    the ``paywall_trial_reminders`` management command).

    :param membership: the trialing membership; ``trial_end`` says when the trial ends.
    :param event: the billing event that announced it, or ``None`` when a scheduled job
        found it.
    :returns: nothing; results are ignored. All implementations are called.
    """


@hookspec
def membership_duplicate_subscription(member_id: str, memberships: list[Membership]) -> None:
    """A member now holds more than one live subscription that will charge again.

    Fired once, right after :func:`membership_activated` of the subscription that made
    it more than one (a member who paid in two browser tabs, or bought a tier again
    instead of changing the one they had). Live means trialing, active or past due,
    with a provider subscription, and not set to cancel at the end of its period. The
    core keeps every subscription and changes nothing: refund and cancel the one to drop
    at the provider (its webhooks then end the membership). The Wagtail admin's member
    list flags such members as well.

    :param member_id: the member holding them.
    :param memberships: the member's live subscriptions as stored, the new one included.
    :returns: nothing; results are ignored. All implementations are called.
    """


@hookspec
def membership_changed(
    before: Membership | None, after: Membership, event: BillingEvent | None
) -> None:
    """A membership was stored with a change: every transition of stored state, whether
    or not it also fires one of the lifecycle hooks above (a plan change, a discount, a
    trial ending or a pause fire only this one).

    Fired after the change is stored, once per stored change: a duplicated webhook stores
    nothing and fires nothing, and an older snapshot arriving late is not stored, so a
    plugin keeping a history (``wagtail_paywall``: the membership ledger behind the
    metrics) records each change of stored state once, in the order it was stored.

    :param before: the membership as stored before the change, or ``None`` when it was
        just created.
    :param after: the membership as stored after the change.
    :param event: the billing event that caused it, or ``None`` for a local change.
    :returns: nothing; results are ignored. All implementations are called.
    """


@hookspec
def membership_access_changed(member_id: str) -> None:
    """Something that decides a member's access changed (a membership or a grant).

    Adapters use it to drop cached access contexts.

    :param member_id: the member whose access may have changed.
    :returns: nothing; results are ignored. All implementations are called.
    """


@hookspec
def membership_grant_changed(grant: Grant, action: str) -> None:
    """A grant was created, extended or revoked.

    :param grant: the grant as stored after the change.
    :param action: ``"created"``, ``"extended"`` or ``"revoked"``.
    :returns: nothing; results are ignored. All implementations are called.
    """


@hookspec
def membership_gift_purchased(gift: Gift) -> None:
    """A gift's payment arrived and its redeem code was made (once per gift; see
    :mod:`membership_sdk.gifts`). Adapters send the buyer the code, and the recipient
    theirs when no later day was chosen.

    :param gift: the gift as stored, with its ``code``.
    :returns: nothing; results are ignored. All implementations are called.
    """


@hookspec
def membership_service_requested(request: ServiceRequest) -> None:
    """A member requested a service and it took a slot of their quota (see
    :mod:`membership_sdk.services`): a plugin tells staff (an email, a ticket).

    Called once per request, after it was stored.

    :param request: the request as stored (``requested``), with the member's note.
    :returns: nothing; results are ignored. All implementations are called.
    """


@hookspec
def membership_service_closed(request: ServiceRequest) -> None:
    """A service request was redeemed (delivered) or declined by staff, or canceled by
    its member: a plugin tells the member, or staff of a cancellation.

    Called once per request, after the change was stored.

    :param request: the request as stored; its ``status`` says what happened
        (``redeemed``, ``declined`` or ``canceled``), ``staff_note`` what staff wrote.
    :returns: nothing; results are ignored. All implementations are called.
    """


@hookspec
def membership_loyalty_rewarded(
    member_id: str, reward: LoyaltyReward, award: Award, tenure: Tenure
) -> None:
    """A member received a loyalty reward for the months they paid (see
    :mod:`membership_sdk.loyalty`): a plugin congratulates them (an email with the
    coupon code or the access given) or tells a CRM.

    Called once per member and reward, after the award and its grant or personal coupon
    were stored (a job run twice, or two at once, fires it once).

    :param member_id: who received it.
    :param reward: the publisher's reward as it stood then.
    :param award: what was given: its ``grant_id`` (an entitlement) or ``coupon_code``
        (a personal single-use code), and ``paid_months`` at that moment.
    :param tenure: the member's standing (``member_since``, ``paid_months``).
    :returns: nothing; results are ignored. All implementations are called.
    """


@hookspec
def membership_at_risk(membership: Membership, reason: str, detected_at: datetime) -> None:
    """A membership was newly found at risk of churning, for ``reason``: a mail or CRM
    plugin reaches out to the member.

    Fired by an adapter's scheduled at-risk job (``wagtail_paywall``: ``manage.py
    paywall_at_risk``, see its ``docs/at-risk.md``) once per new mark: a membership may
    be marked for several reasons at once, and is marked again for a reason only after
    the previous mark for it was resolved (the member was saved or churned). A call that
    raises is logged and made again on the job's next run.

    :param membership: the membership as stored when the job ran.
    :param reason: why: ``"sleeper"`` (paying, no reads for days), ``"payment_failed"``,
        ``"canceling"`` (cancels at period end), ``"quiet_trial"`` (a trial with little
        reading), ``"downgrade"`` (moved to a lower-ranked tier) or ``"below_cohort"``
        (reads far below the median of members who joined the same month).
    :param detected_at: when the job found it.
    :returns: nothing; results are ignored. All implementations are called.
    """


@hookspec
def membership_referral_rewarded(referral: Referral, membership: Membership) -> None:
    """A referrer was rewarded for a friend who paid and stayed past the window (once per
    referral; see :mod:`membership_sdk.referrals`): a mail plugin thanks them.

    Fired by :func:`~membership_sdk.referrals.run_referrals` (``wagtail_paywall``:
    ``manage.py paywall_referrals``, see its ``docs/referrals.md``) after the discount
    was put on the referrer's subscription and the referral stored as rewarded.

    :param referral: the referral as stored, ``rewarded``, naming the referrer and friend.
    :param membership: the referrer's membership that got the discount, as stored after.
    :returns: nothing; results are ignored. All implementations are called.
    """


# -------------------------------------------------------------------------------------------
# Billing events
# -------------------------------------------------------------------------------------------


@hookspec
def membership_event_ignored(result: ApplyResult) -> None:
    """An event was not applied because it concerns something this site does not own
    (an unknown customer, a foreign price) or would be an invalid transition.

    :param result: the outcome, with ``detail`` naming the culprit.
    :returns: nothing; results are ignored. All implementations are called.
    """
