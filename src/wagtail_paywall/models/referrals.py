"""Referrals (see :mod:`membership_sdk.referrals`): members' codes, friends' claims and the
referrals made from them, and :class:`DjangoReferrals`, the core's
:class:`~membership_sdk.referrals.ReferralStore` on them.

The monthly cap is a reservation: :meth:`DjangoReferrals.qualify` counts and reserves in
one transaction serialised per referrer (on PostgreSQL a transaction-scoped advisory
lock on ``referral:<referrer>``, on SQLite the database's write lock taken before the
count is read), so parallel jobs never reserve more than the cap. Every other change is
one conditional ``UPDATE``. See ``docs/referrals.md``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from secrets import token_hex
from typing import Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, models, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from membership_sdk import referrals as core

from .fields import MEMBER_ID_LENGTH, choices_of, member_id_field

ReferralStatus = choices_of(
    core.ReferralStatus,
    {
        core.ReferralStatus.PENDING: _("Pending"),
        core.ReferralStatus.QUALIFIED: _("Qualified"),
        core.ReferralStatus.REWARDED: _("Rewarded"),
        core.ReferralStatus.REJECTED: _("Rejected"),
    },
    qualname="Referral.Status",
)
ReferralRejection = choices_of(
    core.Rejection,
    {
        core.Rejection.SELF_REFERRAL: _("Self-referral"),
        core.Rejection.ALREADY_MEMBER: _("Already a member"),
        core.Rejection.CAP_REACHED: _("Monthly cap reached"),
        core.Rejection.REFUNDED: _("Refunded or withdrawn"),
        core.Rejection.NEVER_PAID: _("Never paid"),
        core.Rejection.CANCELED_IN_WINDOW: _("Canceled in the window"),
    },
    qualname="Referral.Reason",
)


class ReferralCode(models.Model):
    """A member's referral code: one per member, for good."""

    member_id = member_id_field(unique=True)
    code = models.CharField(_("code"), max_length=32, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("referral code")
        verbose_name_plural = _("referral codes")

    def __str__(self) -> str:
        return self.code


class ReferralClaim(models.Model):
    """A friend started a checkout through a referral link; their membership's arrival
    turns it into a :class:`Referral`."""

    friend_id = models.CharField(_("friend"), max_length=MEMBER_ID_LENGTH, unique=True)
    code = models.CharField(_("code"), max_length=32)
    claimed_at = models.DateTimeField(_("claimed at"))

    class Meta:
        verbose_name = _("referral claim")
        verbose_name_plural = _("referral claims")

    def __str__(self) -> str:
        return f"{self.friend_id} via {self.code}"


class Referral(models.Model):
    """A friend's membership that came through a referrer's link, and its reward."""

    Status = ReferralStatus
    Reason = ReferralRejection

    id = models.CharField(_("id"), max_length=32, primary_key=True)
    code = models.CharField(_("code"), max_length=32)
    referrer_id = models.CharField(_("referrer"), max_length=MEMBER_ID_LENGTH, db_index=True)
    friend_id = models.CharField(_("friend"), max_length=MEMBER_ID_LENGTH, unique=True)
    membership_id = models.CharField(_("friend's membership"), max_length=64)
    created_at = models.DateTimeField(_("joined at"), db_index=True)
    status = models.CharField(
        _("status"), max_length=16, choices=ReferralStatus.choices, default="pending"
    )
    reason = models.CharField(
        _("reason"), max_length=32, choices=ReferralRejection.choices, blank=True
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    #: The calendar month (its first day) whose cap the reward counts in.
    reward_month = models.DateField(_("reward month"), null=True, blank=True)
    #: A job holds the referral for rewarding until then (``None``: not held).
    held_until = models.DateTimeField(_("held until"), null=True, blank=True)
    rewarded_at = models.DateTimeField(_("rewarded at"), null=True, blank=True)
    reward_membership_id = models.CharField(_("rewarded membership"), max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        indexes = [
            models.Index(fields=["status", "created_at"], name="paywall_referral_status"),
            models.Index(fields=["referrer_id", "reward_month"], name="paywall_referral_cap"),
        ]

    def __str__(self) -> str:
        return f"{self.friend_id} referred by {self.referrer_id} ({self.status})"

    def to_core(self) -> core.Referral:
        return core.Referral(
            id=self.id,
            code=self.code,
            referrer_id=self.referrer_id,
            friend_id=self.friend_id,
            membership_id=self.membership_id,
            created_at=self.created_at,
            status=core.ReferralStatus(self.status),
            reason=self.reason,
            decided_at=self.decided_at,
            reward_month=self.reward_month,
            rewarded_at=self.rewarded_at,
            reward_membership_id=self.reward_membership_id,
        )


def erase_referrals(rows: QuerySet[Referral], subject: Any) -> None:
    """Erase a member from referrals (see :mod:`wagtail_paywall.privacy`): the rows stay
    for the publisher's report, the erased referrer or friend replaced by the erasure's
    random stand-in (``subject.anon``)."""
    rows.filter(referrer_id=subject.member_id).update(referrer_id=subject.anon)
    rows.filter(friend_id=subject.member_id).update(friend_id=subject.anon)


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


@contextmanager
def _serialised(referrer_id: str) -> Iterator[None]:
    """A transaction serialised per referrer (see the module's notes)."""
    conn = connections[DEFAULT_DB_ALIAS]
    with transaction.atomic():
        with conn.cursor() as cursor:
            if conn.vendor == "postgresql":
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s)", [_lock_id(f"referral:{referrer_id}")]
                )
            elif conn.vendor == "sqlite":
                table = conn.ops.quote_name(Referral._meta.db_table)
                cursor.execute(f"UPDATE {table} SET id = id WHERE 0 = 1")
        yield


class DjangoReferrals:
    """A :class:`membership_sdk.referrals.ReferralStore` on the models above."""

    def code_for(self, member_id: str) -> str:
        found = ReferralCode.objects.filter(member_id=member_id).values_list("code", flat=True)
        code = found.first()
        while code is None:
            try:
                with transaction.atomic():
                    ReferralCode.objects.create(member_id=member_id, code=core.new_code())
            except IntegrityError:
                pass  # made at the same moment elsewhere (or, once in 10^15, a code taken)
            code = found.first()
        return code

    def member_for_code(self, code: str) -> str | None:
        code = core.normalize_code(code)
        if not code:
            return None
        return ReferralCode.objects.filter(code=code).values_list("member_id", flat=True).first()

    def save_claim(self, claim: core.ReferralClaim) -> None:
        ReferralClaim.objects.update_or_create(
            friend_id=claim.friend_id,
            defaults={"code": claim.code, "claimed_at": claim.claimed_at},
        )

    def take_claim(self, friend_id: str, since: datetime) -> core.ReferralClaim | None:
        row = ReferralClaim.objects.filter(friend_id=friend_id).first()
        if row is None:
            return None
        # Conditional: of two activations taking one claim at once, one gets it.
        if not ReferralClaim.objects.filter(pk=row.pk).delete()[0]:
            return None
        if row.claimed_at < since:
            return None
        return core.ReferralClaim(row.friend_id, row.code, row.claimed_at)

    def create(self, referral: core.Referral) -> core.Referral:
        try:
            with transaction.atomic():
                Referral.objects.create(
                    id=referral.id,
                    code=referral.code,
                    referrer_id=referral.referrer_id,
                    friend_id=referral.friend_id,
                    membership_id=referral.membership_id,
                    created_at=referral.created_at,
                    status=referral.status.value,
                    reason=referral.reason,
                    decided_at=referral.decided_at,
                )
        except IntegrityError:
            pass  # the friend was referred before: theirs stays
        return Referral.objects.get(friend_id=referral.friend_id).to_core()

    def get(self, referral_id: str) -> core.Referral | None:
        row = Referral.objects.filter(pk=referral_id).first()
        return row.to_core() if row is not None else None

    def for_referrer(self, referrer_id: str) -> Sequence[core.Referral]:
        return [r.to_core() for r in Referral.objects.filter(referrer_id=referrer_id)]

    def in_status(self, status: core.ReferralStatus, limit: int) -> Sequence[core.Referral]:
        rows = Referral.objects.filter(status=status.value).order_by("created_at", "id")
        return [r.to_core() for r in rows[:limit]]

    def reject(
        self, referral_id: str, reason: core.Rejection, when: datetime
    ) -> core.Referral | None:
        changed = Referral.objects.filter(pk=referral_id, status="pending").update(
            status="rejected", reason=reason.value, decided_at=when
        )
        return self.get(referral_id) if changed else None

    def qualify(
        self, referral_id: str, month: date, cap: int | None, when: datetime
    ) -> core.Referral | None:
        row = Referral.objects.filter(pk=referral_id).only("referrer_id").first()
        if row is None:
            return None
        with _serialised(row.referrer_id):
            taken = Referral.objects.filter(
                referrer_id=row.referrer_id,
                reward_month=month,
                status__in=("qualified", "rewarded"),
            ).count()
            pending = Referral.objects.filter(pk=referral_id, status="pending")
            if cap is not None and taken >= cap:
                changed = pending.update(status="rejected", reason="cap_reached", decided_at=when)
            else:
                changed = pending.update(status="qualified", reward_month=month, decided_at=when)
        return self.get(referral_id) if changed else None

    def begin_reward(self, referral_id: str, when: datetime, lease: timedelta) -> bool:
        row = Referral.objects.filter(pk=referral_id).only("referrer_id").first()
        if row is None:
            return False
        with _serialised(row.referrer_id):
            if Referral.objects.filter(referrer_id=row.referrer_id, held_until__gt=when).exists():
                return False
            return bool(
                Referral.objects.filter(pk=referral_id, status="qualified").update(
                    held_until=when + lease
                )
            )

    def finish_reward(self, referral_id: str, membership_id: str, when: datetime) -> core.Referral:
        Referral.objects.filter(pk=referral_id).update(
            status="rewarded",
            rewarded_at=when,
            reward_membership_id=membership_id,
            held_until=None,
        )
        found = self.get(referral_id)
        assert found is not None
        return found

    def release_reward(self, referral_id: str) -> None:
        Referral.objects.filter(pk=referral_id).update(held_until=None)

    def new_id(self) -> str:
        return f"r{token_hex(6)}"

    # -- for the adapter's pages ------------------------------------------------------------
    @staticmethod
    def summary(referrer_id: str) -> dict[str, int]:
        """How many of the member's referrals are in each status (one query)."""
        counts = dict.fromkeys(("pending", "qualified", "rewarded", "rejected"), 0)
        rows = (
            Referral.objects.filter(referrer_id=referrer_id)
            .order_by()
            .values_list("status")
            .annotate(n=models.Count("id"))
        )
        for status, n in rows:
            counts[status] = n
        return counts
