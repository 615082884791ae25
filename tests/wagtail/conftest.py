"""Shared fixtures of the Wagtail adapter's tests: a seeded catalog, a member per
persona, the site's program and clean caches."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("wagtail")

from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.test import RequestFactory

from membership_sdk import GrantKind, MembershipProgram
from wagtail_paywall import program as program_module
from wagtail_paywall.access import local_rows
from wagtail_paywall.models import Price, Tier

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fresh_paywall() -> Iterator[None]:
    """Every test starts with empty caches and a program built for its own database."""
    prefix = f"paywall-test-{uuid.uuid4().hex}"
    for alias in caches:
        cache = caches[alias]
        if isinstance(cache, LocMemCache):
            cache.clear()
        else:
            # Never FLUSHDB a shared Redis: give this test keys of its own instead. Caches
            # are per thread: the settings' copy gives threads the test starts the same keys.
            cache.key_prefix = prefix
            caches.settings[alias]["KEY_PREFIX"] = prefix
    local_rows.clear()
    program_module.reset_program()
    yield
    program_module.reset_program()
    local_rows.clear()


@pytest.fixture
def catalog(db: Any) -> dict[str, Tier]:
    """Free, Supporter and Premium tiers, with monthly, yearly and one-off prices."""
    free = Tier.objects.create(slug="free", name="Free", rank=0)
    supporter = Tier.objects.create(
        slug="supporter", name="Supporter", rank=1, entitlements="content.supporter"
    )
    premium = Tier.objects.create(
        slug="premium",
        name="Premium",
        rank=2,
        entitlements="content.premium\ndownloads: 10 per month",
    )
    Price.objects.create(
        key="supporter-monthly",
        tier=supporter,
        amount=500,
        currency="EUR",
        interval=Price.Interval.MONTH,
        provider_ids={"fake": "fake_price_supporter_monthly"},
    )
    Price.objects.create(
        key="premium-monthly",
        tier=premium,
        amount=1200,
        currency="EUR",
        interval=Price.Interval.MONTH,
        trial_days=14,
        provider_ids={"fake": "fake_price_premium_monthly"},
    )
    Price.objects.create(
        key="premium-yearly",
        tier=premium,
        amount=12000,
        currency="EUR",
        interval=Price.Interval.YEAR,
        provider_ids={"fake": "fake_price_premium_yearly"},
    )
    Price.objects.create(
        key="report-2026",
        item="doc:annual-report",
        item_name="Annual report 2026",
        amount=900,
        currency="EUR",
        interval=Price.Interval.ONE_OFF,
        provider_ids={"fake": "fake_price_report"},
    )
    return {"free": free, "supporter": supporter, "premium": premium}


@pytest.fixture
def program(catalog: dict[str, Tier]) -> MembershipProgram:
    """The site's program, built (and its catalog loaded) before the test counts queries."""
    return program_module.get_program()


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    def make(username: str, **extra: Any) -> Any:
        return get_user_model().objects.create_user(
            username=username, email=f"{username}@example.com", password=PASSWORD, **extra
        )

    return make


@pytest.fixture
def reader(make_user: Callable[..., Any]) -> Any:
    """A registered member with no paid access."""
    return make_user("reader")


@pytest.fixture
def supporter(make_user: Callable[..., Any], program: MembershipProgram) -> Any:
    """A member holding the Supporter tier through a 30-day comp."""
    user = make_user("supporter")
    program.grant(str(user.pk), GrantKind.COMP, tier="supporter", days=30)
    return user


@pytest.fixture
def premium(make_user: Callable[..., Any], program: MembershipProgram) -> Any:
    """A member holding the Premium tier through a 30-day comp."""
    user = make_user("premium")
    program.grant(str(user.pk), GrantKind.COMP, tier="premium", days=30)
    return user


@pytest.fixture
def editor(make_user: Callable[..., Any]) -> Any:
    """A Wagtail superuser who manages the paywall."""
    return get_user_model().objects.create_superuser(
        username="editor", email="editor@example.com", password=PASSWORD
    )


@pytest.fixture
def rf() -> RequestFactory:
    return RequestFactory()


@pytest.fixture
def request_for(rf: RequestFactory) -> Callable[..., Any]:
    """A GET request as ``user`` (``None``: anonymous) would send it, with cookies."""
    from django.contrib.auth.models import AnonymousUser

    def build(user: Any = None, path: str = "/", cookies: dict[str, str] | None = None) -> Any:
        request = rf.get(path)
        request.user = user if user is not None else AnonymousUser()
        request.COOKIES.update(cookies or {})
        return request

    return build


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse a transactional test without ``serialized_rollback``: its flush empties
    tables the migrations filled (content types, the root page), and every later test on
    PostgreSQL then fails on a duplicate key far from the cause."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is None or not marker.kwargs.get("transaction"):
            continue
        if not marker.kwargs.get("serialized_rollback"):
            raise pytest.UsageError(
                f"{item.nodeid}: django_db(transaction=True) needs serialized_rollback=True "
                "in tests/wagtail (see the docstring of pytest_collection_modifyitems)"
            )
