"""``decide()`` on a resolved context, against Django's ``User.has_perm`` (warm cache).

Targets, for every ``decide()`` case: a median of at most 2 µs, and at least 3x faster
than ``has_perm`` measured in the same run. ``resolve_context`` is shown, without a target.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from benchlib import Check, Row, find, interleaved

from membership_sdk import (
    AnyOf,
    Catalog,
    Grant,
    GrantKind,
    HasEntitlement,
    Interval,
    Membership,
    Metered,
    MinTier,
    Price,
    Purchase,
    Resource,
    Status,
    Tier,
    decide,
    resolve_context,
)

GROUP = "decide"
BASELINE = "django"
MAX_DECIDE_US = 2.0
MIN_RATIO = 3.0
#: Every case is measured once per round; the rounds' samples are pooled.
ROUNDS = 3

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)


def _catalog() -> Catalog:
    return Catalog(
        tiers=[
            Tier("free", "Free", rank=0),
            Tier("basic", "Basic", rank=1, entitlements=("content.basic",)),
            Tier(
                "premium",
                "Premium",
                rank=2,
                entitlements=("content.premium", "downloads: 10 per month"),
            ),
        ],
        prices=[
            Price("basic-monthly", 500, "EUR", tier="basic"),
            Price("premium-monthly", 1500, "EUR", tier="premium"),
            Price("premium-yearly", 15000, "EUR", Interval.YEAR, tier="premium"),
            Price("ebook", 900, "EUR", Interval.ONE_OFF, item="ebook:python"),
        ],
    )


def _member(catalog: Catalog, tier: str | None, **extra: object) -> object:
    memberships = []
    if tier is not None:
        memberships.append(
            Membership(
                id="m1",
                member_id="alice",
                tier=tier,
                status=Status.ACTIVE,
                provider="fake",
                started_at=NOW - timedelta(days=90),
                current_period_end=NOW + timedelta(days=20),
            )
        )
    return resolve_context(catalog, NOW, member_id="alice", memberships=memberships, **extra)  # type: ignore[arg-type]


def cases() -> list[tuple[str, Callable[[], object], str]]:
    catalog = _catalog()
    premium = _member(catalog, "premium", usage={"downloads": {f"doc:{i}": NOW for i in range(4)}})
    basic = _member(
        catalog,
        "basic",
        grants=[
            Grant("g1", "alice", GrantKind.PURCHASE, NOW - timedelta(days=3), item="ebook:python")
        ],
    )
    reader = _member(
        catalog,
        None,
        usage={"articles": {f"page:{i}": NOW - timedelta(days=i) for i in range(3)}},
    )
    min_basic = Resource("page:1", MinTier("basic"))
    min_premium = Resource("page:2", MinTier("premium"))
    metered = Resource("page:1", Metered(MinTier("premium"), free=5))
    download = Resource("doc:2", HasEntitlement("downloads"))
    any_of = Resource("doc:9", AnyOf(MinTier("premium"), Purchase("ebook:python")))
    return [
        ("min tier, allowed", lambda: decide(min_basic, premium), "premium member, MinTier(basic)"),
        ("min tier, denied", lambda: decide(min_premium, basic), "with offers"),
        ("metered, re-read", lambda: decide(metered, reader), "3 of 5 free reads used"),
        ("entitlement + quota", lambda: decide(download, premium), "4 of 10 downloads used"),
        ("AnyOf(tier, purchase)", lambda: decide(any_of, basic), "allowed by the purchase"),
    ]


def _has_perm() -> Callable[[], object] | None:
    """A warm ``User.has_perm`` on an in-memory Django, or ``None`` without Django."""
    try:
        import django
        from django.conf import settings
    except ImportError:
        return None
    if not settings.configured:
        settings.configure(
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
            USE_TZ=True,
        )
        django.setup()
    from django.contrib.auth.models import Group, Permission, User
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    group, _ = Group.objects.get_or_create(name="editors")
    group.permissions.add(Permission.objects.get(codename="view_user"))
    user, _ = User.objects.get_or_create(username="bench")
    user.groups.add(group)
    user = User.objects.get(pk=user.pk)  # fresh instance, no caches yet
    assert user.has_perm("auth.view_user")  # warms user._perm_cache
    return lambda: user.has_perm("auth.view_user")


def _resolve() -> Callable[[], object]:
    """Resolving a context from one membership and two grants (done once per request)."""
    catalog = _catalog()
    membership = Membership(
        id="m1",
        member_id="alice",
        tier="basic",
        status=Status.ACTIVE,
        provider="fake",
        started_at=NOW - timedelta(days=90),
        current_period_end=NOW + timedelta(days=20),
    )
    grants = [
        Grant("g1", "alice", GrantKind.PURCHASE, NOW - timedelta(days=3), item="ebook:python"),
        Grant("g2", "alice", GrantKind.COMP, NOW - timedelta(days=3), tier="premium"),
    ]
    return lambda: resolve_context(
        catalog, NOW, member_id="alice", memberships=[membership], grants=grants
    )


def run() -> list[Row]:
    """decide() cases, resolve_context and has_perm, measured in turn over a few rounds."""
    measured: list[tuple[str, str, Callable[[], object], str]] = [
        (GROUP, name, func, note) for name, func, note in cases()
    ]
    measured.append(("resolve", "resolve_context", _resolve(), "1 membership, 2 grants"))
    has_perm = _has_perm()
    if has_perm is not None:
        measured.append((BASELINE, "User.has_perm (warm cache)", has_perm, "group permission"))
    return interleaved(measured, ROUNDS)


def checks(rows: list[Row]) -> list[Check]:
    """Each decide() case: median ≤ 2 µs, and ≥ 3x faster than has_perm."""
    decided = find(rows, GROUP)
    baseline = find(rows, BASELINE)
    out: list[Check] = []
    for r in decided:
        out.append(
            Check(
                f"decide ≤ {MAX_DECIDE_US:g} µs: {r.name}",
                f"{r.median_us:.3f} µs",
                f"≤ {MAX_DECIDE_US:g} µs",
                r.median_us <= MAX_DECIDE_US,
            )
        )
    for r in decided:
        if not baseline:
            out.append(Check(f"vs has_perm: {r.name}", "Django not installed", "measured", False))
            continue
        ratio = baseline[0].median_us / r.median_us
        out.append(
            Check(
                f"{MIN_RATIO:g}x faster than has_perm: {r.name}",
                f"{ratio:.1f}x",
                f"≥ {MIN_RATIO:g}x",
                ratio >= MIN_RATIO,
            )
        )
    return out
