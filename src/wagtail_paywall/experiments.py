"""A/B tests of the paywall on a request: which variant a visitor sees, and exposures.

- The tests' set-up (the running test's variants, and the settings kept from the last
  test's winner) is read from the shared cache, loaded from the database only after an
  editor changed it: a warm page view costs no query for it.
- A member keeps their variant by their id (a hash, :func:`membership_sdk.experiments.assign`,
  so it is the same on every device); an anonymous visitor by a random id in a signed
  cookie (:data:`COOKIE`). A cookie that fails its signature, or belongs to another test,
  is ignored: the visitor is reassigned.
- An exposure (the paywall shown) is written once per visitor and test: an anonymous
  visitor's cookie remembers it was counted, a member's is remembered in the cache (and
  the database's unique constraint makes a second write change nothing).
- An anonymous visitor is counted only once they come back with the signed cookie: the
  first view without it only sets the cookie (marked "shown, not counted yet"), so
  crawlers and other clients that keep no cookies never write an exposure.
- A variant's meter size reaches the one access decision through
  :attr:`membership_sdk.AccessContext.meter_free` (:func:`with_meter`).
- Whatever a running test changes depends on the visitor, so a response that used it is
  marked gated: ``Cache-Control: private`` and ``Vary: Cookie``
  (:class:`~wagtail_paywall.middleware.PaywallMiddleware`).

See ``docs/experiments.md``.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass, replace
from typing import Any

from django.core import signing
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponseBase

from membership_sdk import AccessContext
from membership_sdk.experiments import ExperimentError, assign

from .caching import cache
from .models.experiments import SETUP_KEY, PaywallExposure, PaywallTest

logger = logging.getLogger(__name__)

#: The anonymous visitor's assignment cookie.
COOKIE = "paywall_ab"
SALT = "wagtail_paywall.ab"
#: A year: a test rarely runs longer, and a visitor keeps their variant throughout.
COOKIE_MAX_AGE = 365 * 24 * 3600
#: Marks a member's exposure as counted in the cache (the database holds the truth).
EXPOSED_KEY = "paywall:ab:exposed:{test}:{visitor}"


@dataclass(frozen=True, slots=True)
class VariantSettings:
    """What one variant changes; empty values keep the default."""

    id: int
    name: str
    weight: int
    heading: str = ""
    body: str = ""
    offers: tuple[str, ...] = ()
    first_price: str = ""
    meter_free: int | None = None

    def over(self, default: VariantSettings | None) -> VariantSettings:
        """These settings, with ``default``'s where this variant leaves a field blank."""
        if default is None:
            return self
        return replace(
            self,
            heading=self.heading or default.heading,
            body=self.body or default.body,
            offers=self.offers or default.offers,
            first_price=self.first_price or default.first_price,
            meter_free=self.meter_free if self.meter_free is not None else default.meter_free,
        )


@dataclass(frozen=True, slots=True)
class Setup:
    """The running test (``test_id``, its ``meter`` and ``variants``), if any, and the
    settings ``kept`` from the latest ended test's winner."""

    test_id: int | None = None
    meter: str = "articles"
    variants: tuple[VariantSettings, ...] = ()
    kept: VariantSettings | None = None
    kept_meter: str = "articles"


def _settings(variant: Any) -> VariantSettings:
    return VariantSettings(
        id=variant.pk,
        name=variant.name,
        weight=variant.weight,
        heading=variant.heading,
        body=variant.body,
        offers=variant.offer_slugs(),
        first_price=variant.first_price,
        meter_free=variant.meter_free,
    )


def load_setup() -> Setup:
    """The set-up as stored (two queries)."""
    running = (
        PaywallTest.objects.filter(status=PaywallTest.Status.RUNNING)
        .prefetch_related("variants")
        .order_by("-started_at", "-id")
        .first()
    )
    ended = (
        PaywallTest.objects.filter(status=PaywallTest.Status.ENDED, winner__isnull=False)
        .select_related("winner")
        .order_by("-ended_at", "-id")
        .first()
    )
    kept = _settings(ended.winner) if ended is not None and ended.winner else None
    if running is None:
        return Setup(kept=kept, kept_meter=ended.meter if ended else "articles")
    variants = tuple(_settings(v) for v in running.variants.all() if v.weight > 0)
    if not variants:
        return Setup(kept=kept, kept_meter=ended.meter if ended else "articles")
    return Setup(
        test_id=running.pk,
        meter=running.meter,
        variants=variants,
        kept=kept,
        kept_meter=ended.meter if ended else "articles",
    )


_current: Setup | None = None


def reload(gen: str) -> Setup:
    """Load the set-up for the catalog generation ``gen`` (from the shared cache, else
    the database) and keep it in this process. :func:`wagtail_paywall.program.get_program`
    calls this whenever it reloads the catalog, which an editor's change of a test
    triggers (:func:`~wagtail_paywall.models.experiments.setup_changed`)."""
    global _current
    key = SETUP_KEY.format(gen=gen)
    found: Setup | None = cache().get(key)
    if not isinstance(found, Setup):
        try:
            with transaction.atomic():  # a savepoint: a failure leaves the request usable
                found = load_setup()
        except DatabaseError as exc:
            # The tables are not migrated yet (0018): run no test rather than stop the
            # paywall; the next catalog change tries again.
            logger.warning("paywall A/B tests not loaded: %s", exc)
            found = Setup()
        else:
            cache().set(key, found, None)
    _current = found
    return found


def setup() -> Setup:
    """The set-up this process holds: current as of the request's catalog check (every
    request asks :func:`~wagtail_paywall.program.get_program` before a decision), so it
    costs no query and no round trip."""
    found = _current
    if found is None:  # outside a program (a shell): read it as stored
        return load_setup()
    return found


# -- the visitor ----------------------------------------------------------------------------
@dataclass
class _Assignment:
    visitor: str
    variant: VariantSettings
    exposed: bool
    dirty: bool = False
    #: An anonymous visitor who presented a valid cookie of this test.
    from_cookie: bool = False
    #: Shown the paywall before presenting a cookie: counted when they come back with it.
    pending: bool = False


def _member_id(request: HttpRequest) -> str | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return str(user.pk)


def _read_cookie(request: HttpRequest, test_id: int) -> dict[str, Any] | None:
    raw = request.COOKIES.get(COOKIE)
    if not raw:
        return None
    try:
        data = signing.loads(raw, salt=SALT, max_age=COOKIE_MAX_AGE)
    except signing.BadSignature:
        return None  # forged or tampered: the visitor is assigned afresh
    if not isinstance(data, dict) or data.get("t") != test_id or not isinstance(data.get("u"), str):
        return None
    return data


def _assignment(request: HttpRequest) -> _Assignment | None:
    """The visitor's assignment in the running test (``None`` when none runs)."""
    cached = request.__dict__.get("_paywall_ab", False)
    if cached is not False:
        return cached  # type: ignore[no-any-return]
    found: _Assignment | None = None
    current = setup()
    if current.test_id is not None:
        weights = [v.weight for v in current.variants]
        member = _member_id(request)
        test_key = f"paywall-test:{current.test_id}"
        try:
            if member is not None:
                index = assign(member, test_key, weights)
                found = _Assignment(f"m:{member}", current.variants[index], exposed=False)
            else:
                data = _read_cookie(request, current.test_id)
                if data is not None:
                    uid = data["u"]
                    by_id = {v.id: v for v in current.variants}
                    variant = by_id.get(data.get("v"))  # type: ignore[arg-type]
                    if variant is None:  # a variant removed since: the hash decides again
                        variant = current.variants[assign(uid, test_key, weights)]
                    found = _Assignment(
                        f"a:{uid}",
                        variant,
                        exposed=bool(data.get("e")),
                        dirty=variant.id != data.get("v"),
                        from_cookie=True,
                    )
                    if data.get("p") and not found.exposed:
                        _count(found, current.test_id)  # came back: now it counts
                else:
                    uid = uuid.uuid4().hex
                    variant = current.variants[assign(uid, test_key, weights)]
                    found = _Assignment(f"a:{uid}", variant, exposed=False, dirty=True)
        except ExperimentError:
            found = None
        if found is not None:
            # What this response shows depends on the visitor's variant.
            request.paywall_gated = True  # type: ignore[attr-defined]
    request._paywall_ab = found  # type: ignore[attr-defined]
    return found


def variant_for(request: HttpRequest) -> VariantSettings | None:
    """The paywall settings for the visitor of ``request``: their variant of the running
    test over the kept winner's, or the kept winner's alone, or ``None`` (defaults)."""
    assignment = _assignment(request)
    kept = setup().kept
    if assignment is None:
        return kept
    return assignment.variant.over(kept)


def running_variant_id(request: HttpRequest) -> int | None:
    """The id of the running test's variant the visitor sees (for attribution)."""
    assignment = _assignment(request)
    return assignment.variant.id if assignment is not None else None


def with_meter(request: HttpRequest, ctx: AccessContext) -> AccessContext:
    """``ctx`` with the visitor's variant's meter size, if their variant sets one."""
    current = setup()
    kept_meter = current.kept is not None and current.kept.meter_free is not None
    if not kept_meter and all(v.meter_free is None for v in current.variants):
        return ctx  # no meter size to change: no assignment needed for the decision
    variant = variant_for(request)
    if variant is None or variant.meter_free is None:
        return ctx
    meter = current.meter if current.test_id is not None else current.kept_meter
    return replace(ctx, meter_free={**ctx.meter_free, meter: variant.meter_free})


def record_exposure(request: HttpRequest) -> None:
    """Count the visitor as shown the paywall in the running test: once per visitor."""
    assignment = _assignment(request)
    test_id = setup().test_id
    if assignment is None or assignment.exposed or test_id is None:
        return
    if assignment.visitor.startswith("a:"):
        if not assignment.from_cookie:
            # No cookie yet (a first visit, or a client that keeps none, as crawlers):
            # the cookie remembers the paywall was shown; it counts once presented.
            assignment.pending = assignment.dirty = True
            return
        _count(assignment, test_id)
        return
    assignment.exposed = True
    if not cache().add(
        EXPOSED_KEY.format(test=test_id, visitor=assignment.visitor), 1, COOKIE_MAX_AGE
    ):
        return
    _write_exposure(assignment, test_id)


def _count(assignment: _Assignment, test_id: int) -> None:
    """Count an anonymous visitor presenting their cookie (which then remembers it)."""
    assignment.exposed = assignment.dirty = True
    assignment.pending = False
    _write_exposure(assignment, test_id)


def _write_exposure(assignment: _Assignment, test_id: int) -> None:
    # A test deleted meanwhile: nothing to count (a savepoint keeps the request's
    # transaction usable on PostgreSQL).
    with contextlib.suppress(DatabaseError), transaction.atomic():
        PaywallExposure.objects.bulk_create(
            [
                PaywallExposure(
                    test_id=test_id, variant_id=assignment.variant.id, visitor=assignment.visitor
                )
            ],
            ignore_conflicts=True,
        )


def write_cookie(request: HttpRequest, response: HttpResponseBase) -> None:
    """Set the anonymous visitor's assignment cookie when it is new or changed."""
    assignment: _Assignment | None = request.__dict__.get("_paywall_ab") or None
    if assignment is None or not assignment.dirty or not assignment.visitor.startswith("a:"):
        return
    test_id = setup().test_id
    if test_id is None:
        return
    value = signing.dumps(
        {
            "t": test_id,
            "u": assignment.visitor[2:],
            "v": assignment.variant.id,
            "e": int(assignment.exposed),
            "p": int(assignment.pending),
        },
        salt=SALT,
    )
    response.set_cookie(
        COOKIE,
        value,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )


def shape_offers(
    variant: VariantSettings | None, offers: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The paywall's offers as ``variant`` shows them: only its offers (when it names any
    the decision has; never none), its first price first."""
    if variant is None:
        return offers
    shown = offers
    if variant.offers:
        wanted = [o for o in offers if o["slug"] in variant.offers]
        if wanted:
            shown = sorted(wanted, key=lambda o: variant.offers.index(o["slug"]))
    first = variant.first_price
    if first:
        shown = [
            {**o, "prices": sorted(o["prices"], key=lambda p: p["id"] != first)}
            for o in sorted(shown, key=lambda o: all(p["id"] != first for p in o["prices"]))
        ]
    return shown
