"""The loyalty job and the account page's standing (see ``docs/loyalty.md``).

:func:`give_due_rewards` gives every member the rewards their paid months earned (run by
``manage.py paywall_loyalty`` and the task
:func:`wagtail_paywall.tasks.give_loyalty_rewards`); :func:`member_standing` is what the
account page shows (``{% paywall_loyalty %}``), with :func:`code_uses` saying where each
personal code can be used; :func:`use_on_membership` puts one on the member's running
membership (the view ``paywall:loyalty_use``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from itertools import groupby

from membership_sdk import loyalty as core
from membership_sdk.membership import GRANTING, Status
from membership_sdk.membership import Membership as CoreMembership
from membership_sdk.referrals import reward_target

from ..models import CouponRedemption, Membership
from ..models.loyalty import DjangoLoyalty, LoyaltyAward, LoyaltyReward
from ..program import get_program

#: Members whose memberships are read per batch by :func:`give_due_rewards`.
BATCH = 1000


def active_rewards() -> list[core.LoyaltyReward]:
    """The rewards publishers set and left active (one query)."""
    return [row.to_core() for row in LoyaltyReward.objects.filter(active=True)]


def _batches(since: datetime) -> Iterator[list[tuple[str, list[Membership]]]]:
    """Members with a membership started before ``since`` (no one else can have paid
    enough), with all their memberships, :data:`BATCH` members at a time."""
    members = (
        Membership.objects.filter(started_at__lte=since)
        .exclude(status__in=[Status.INCOMPLETE.value, Status.UNKNOWN.value])
        .values_list("member_id", flat=True)
        .distinct()
        .order_by("member_id")
    )
    after = ""
    while True:
        ids = list(members.filter(member_id__gt=after)[:BATCH])
        if not ids:
            return
        rows = Membership.objects.filter(member_id__in=ids).order_by("member_id", "pk")
        yield [(member, list(group)) for member, group in groupby(rows, lambda r: r.member_id)]
        after = ids[-1]


def give_due_rewards(
    progress: Callable[[int, int], None] | None = None,
) -> list[core.Award]:
    """Give every member the rewards their paid months earned and they did not receive;
    returns the awards made. Costs about three queries per :data:`BATCH` members plus a
    few per reward given; running it twice, or twice at once, gives each reward once."""
    program = get_program()
    rewards = active_rewards()
    if not rewards:
        return []
    now = program.clock()
    fewest = min(r.after_months for r in rewards)
    # Calendar months are at least 28 days: nobody who started later has paid enough.
    since = now - timedelta(days=28 * fewest)
    loyalty = DjangoLoyalty()
    given: list[core.Award] = []
    seen = 0
    for batch in _batches(since):
        received: dict[str, set[str]] = {}
        for member, reward in LoyaltyAward.objects.filter(
            member_id__in=[m for m, _ in batch]
        ).values_list("member_id", "reward"):
            received.setdefault(member, set()).add(reward)
        for member, rows in batch:
            memberships = [row.to_core() for row in rows]
            given += core.give_rewards(
                program,
                loyalty,
                member,
                rewards,
                memberships=memberships,
                received=received.get(member, set()),
            )
        seen += len(batch)
        if progress is not None:
            progress(seen, len(given))
    return given


def member_standing(
    member_id: str, memberships: Sequence[CoreMembership] | None = None
) -> tuple[core.Standing, dict[str, core.LoyaltyReward]] | None:
    """The member's loyalty standing for the account page and every reward by key
    (inactive ones too: a reward received stays listed), or ``None`` for someone who
    never paid (then without a query when ``memberships``, core values, are given).
    Two queries otherwise; one on a site with no reward."""
    program = get_program()
    if memberships is None:
        memberships = list(program.store.memberships.for_member(member_id))
    tenure = core.tenure(memberships, program.clock())
    if not tenure.paid:
        return None
    rows = list(LoyaltyReward.objects.all())
    rewards = {row.key: row.to_core() for row in rows}
    active = [rewards[row.key] for row in rows if row.active]
    # No reward was ever set up: nobody holds an award (one query on such a site).
    awards = (
        [row.to_core() for row in LoyaltyAward.objects.filter(member_id=member_id)] if rows else []
    )
    return core.standing(active, tenure, awards), rewards


def code_uses(
    member_id: str, awards: Sequence[core.Award], memberships: Sequence[CoreMembership]
) -> dict[str, dict[str, str]]:
    """Where each personal code of ``awards`` can be used, by code: ``{"use": ...,
    "membership": id}``, ``use`` being ``redeemed`` (used already), ``membership`` (on
    the running membership ``membership``: the account page's button), one of
    :data:`~membership_sdk.loyalty.NOT_USABLE` for the member's running membership
    (``not_live``: it ends at its period's end), or ``checkout`` (no membership running:
    enter it at checkout). One query, none without a code."""
    codes = [a.coupon_code for a in awards if a.coupon_code]
    if not codes:
        return {}
    redeemed = set(
        CouponRedemption.objects.filter(
            member_id=member_id, code__in=codes, held_until__isnull=True
        ).values_list("code", flat=True)
    )
    program = get_program()
    running = [m for m in memberships if m.member_id == member_id and m.status in GRANTING]
    target = reward_target(running)
    if target is not None:
        blocked = core.why_not_on(program, target)
        where = {"use": blocked or "membership", "membership": target.id}
    elif running:
        where = {"use": "not_live", "membership": ""}
    else:
        where = {"use": "checkout", "membership": ""}
    return {code: {"use": "redeemed"} if code in redeemed else where for code in codes}


def use_on_membership(member_id: str, membership_id: str, code: str) -> CoreMembership:
    """Put ``member_id``'s personal ``code`` on their running membership (see
    :func:`membership_sdk.loyalty.use_on_membership`, whose errors it raises)."""
    return core.use_on_membership(get_program(), member_id, membership_id, code)
