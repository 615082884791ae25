"""Deliveries: a tier that includes something physical (a print edition, a box) shipped
on a schedule of issues the publisher sets.

A tier includes a :class:`DeliveryProduct` through an entitlement whose key starts with
``delivery.`` (``delivery.print-edition``), so a member holds it from every grant that
gives entitlements: a paid membership of the tier, a trial, a comp, a gift, a team seat,
or a grant of the entitlement itself. An :class:`Issue` of a product ships on a day
(``ships_on``) and has a cut-off before it: who receives the issue, and where, is decided
*as things stood at the cut-off* by one pure function, :func:`decide_delivery`, and the
adapter freezes the outcome (the manifest) once the cut-off has passed. A change after the
cut-off (a new address, a pause, a cancellation, a plan change) applies from the next issue.

The rules (``docs/deliveries.md`` has them as a table):

1. The member must hold the product's entitlement at the cut-off, through a membership
   that started by then or a grant active then. A membership or grant that ended (or was
   canceled to end, or revoked) before the cut-off gives nothing.
2. What gives it must still run when the ship day begins (:attr:`Issue.ships_at`): a
   cancellation (or a grant's end) effective by then means :attr:`DeliveryStatus.ENDED`;
   one effective later, or a renewing membership, ships.
3. A membership paused at the cut-off with its pause still on when the ship day begins
   is skipped (:attr:`DeliveryStatus.PAUSED`); a pause that ends earlier is no pause for
   this issue.
4. A cancellation requested or a pause started *after* the cut-off is undone for this
   issue (the member was still in at the cut-off): see :func:`as_at_cutoff`. A plan
   change after the cut-off (``price_since`` later than it) counts from the next issue:
   the membership holds the tier of the price it had at the cut-off, as the caller's
   history tells (:func:`tier_at_cutoff`); where the history cannot say, the membership
   gives nothing for this issue (an upgrade after the cut-off must not ship it).
5. The address is the one valid at the cut-off (:func:`address_at`): an address kept
   later applies to the next issue. A member who qualifies without one is listed
   apart (:attr:`DeliveryStatus.MISSING_ADDRESS`), so staff can chase them.

Of several memberships and grants, the best outcome counts (receives, then paused, then
ended).

Addresses are validated here (:meth:`ShippingAddress.create`): every field is checked
and all problems are reported together in :class:`AddressError`, per field; postcodes
follow their country's format (:data:`POSTCODE_FORMATS`) and are normalised
(``1234ab`` -> ``1234 AB`` in the Netherlands).

Errors::

    MembershipError
    └── DeliveryError            a delivery product, issue or address is invalid
        ├── AddressError         an address fails validation; ``errors`` per field
        └── IssueNotDue          a manifest is asked for before the issue's cut-off
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from .catalog import Catalog
from .entitlements import Entitlement
from .errors import CatalogError, MembershipError
from .membership import Grant, Membership, Status

#: Entitlement keys of delivery products start with this.
PREFIX = "delivery."


class DeliveryError(MembershipError):
    """A delivery product, issue or address is invalid, or an issue cannot be frozen."""


class AddressError(DeliveryError, ValueError):
    """An address fails validation. :attr:`errors` maps each bad field to why."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(
            "invalid shipping address: "
            + "; ".join(f"{name}: {why}" for name, why in self.errors.items())
        )


class IssueNotDue(DeliveryError):
    """An issue's manifest was asked to be frozen before its cut-off."""


# -- countries and postcodes ---------------------------------------------------------------
#: Every ISO 3166-1 alpha-2 country code.
COUNTRY_CODES = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN
    BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE
    DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN
    GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE
    KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK
    ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA
    PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK
    SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG
    UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW""".split()  # noqa: SIM905
)

#: Postcode formats by country: (pattern of the normalised postcode, how to normalise
#: what a reader typed, an example). Countries not listed accept 2 to 10 letters,
#: digits, spaces and dashes, or none.
POSTCODE_FORMATS: dict[str, tuple[str, str]] = {
    "DE": (r"\d{5}", "12345"),
    "NL": (r"[1-9]\d{3} [A-Z]{2}", "1234 AB"),
    "PL": (r"\d{2}-\d{3}", "12-345"),
    "DK": (r"\d{4}", "1234"),
    "AT": (r"\d{4}", "1234"),
    "BE": (r"\d{4}", "1234"),
    "CH": (r"\d{4}", "1234"),
    "LU": (r"\d{4}", "1234"),
    "NO": (r"\d{4}", "1234"),
    "FR": (r"\d{5}", "75001"),
    "IT": (r"\d{5}", "00184"),
    "ES": (r"\d{5}", "28001"),
    "FI": (r"\d{5}", "00100"),
    "SE": (r"\d{3} \d{2}", "123 45"),
    "CZ": (r"\d{3} \d{2}", "110 00"),
    "PT": (r"\d{4}-\d{3}", "1000-001"),
    "GB": (r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}", "SW1A 1AA"),
    "US": (r"\d{5}(-\d{4})?", "12345"),
}
_OTHER_POSTCODE = re.compile(r"[A-Z0-9][A-Z0-9 -]{0,8}[A-Z0-9]")


def normalize_postcode(country: str, text: str) -> str:
    """``text`` as ``country`` writes its postcodes: upper case, single spaces, and the
    space or dash where the country puts it (``"1234ab"`` -> ``"1234 AB"`` in NL,
    ``"12345"`` -> ``"12-345"`` in PL, ``"DK-1234"`` -> ``"1234"``)."""
    code = " ".join(str(text).upper().split())
    if country in ("DK", "AT", "BE", "CH", "LU", "NO", "DE", "FR", "IT", "ES", "FI"):
        code = re.sub(rf"^{country}[- ]?", "", code)  # a country prefix some write
    digits = code.replace(" ", "").replace("-", "")
    if country == "NL" and re.fullmatch(r"\d{4}[A-Z]{2}", digits):
        return f"{digits[:4]} {digits[4:]}"
    if country == "PL" and re.fullmatch(r"\d{5}", digits):
        return f"{digits[:2]}-{digits[2:]}"
    if country in ("SE", "CZ") and re.fullmatch(r"\d{5}", digits):
        return f"{digits[:3]} {digits[3:]}"
    if country == "PT" and re.fullmatch(r"\d{7}", digits):
        return f"{digits[:4]}-{digits[4:]}"
    if country == "GB" and re.fullmatch(r"[A-Z0-9]{5,7}", digits):
        return f"{digits[:-3]} {digits[-3:]}"
    known = POSTCODE_FORMATS.get(country)
    if known is not None and digits.isdigit() and re.fullmatch(known[0], digits):
        return digits  # "123 45" in Germany is 12345
    return code


def postcode_problem(country: str, postcode: str) -> str | None:
    """Why ``postcode`` (normalised) is no postcode of ``country``, or ``None``."""
    known = POSTCODE_FORMATS.get(country)
    if known is not None:
        pattern, example = known
        if not re.fullmatch(pattern, postcode):
            return f"{postcode!r} is not a postcode of {country}; expected one like {example!r}"
        return None
    if postcode and not _OTHER_POSTCODE.fullmatch(postcode):
        return f"{postcode!r} is not a postcode; expected 2 to 10 letters and digits"
    return None


#: The longest each field may be (the adapter's columns are as wide).
FIELD_LENGTHS = {"name": 200, "line1": 200, "line2": 200, "postcode": 16, "city": 100}


@dataclass(frozen=True, slots=True)
class ShippingAddress:
    """Where a member's deliveries go, from ``valid_from`` on (``None``: always).

    Build one from what a reader typed with :meth:`create`, which normalises and
    reports every problem at once; the constructor checks the same rules, so an invalid
    address never exists.
    """

    name: str
    line1: str
    postcode: str
    city: str
    country: str
    line2: str = ""
    valid_from: datetime | None = None

    def __post_init__(self) -> None:
        errors = address_errors(self)
        if errors:
            raise AddressError(errors)

    @classmethod
    def create(
        cls,
        *,
        name: str,
        line1: str,
        postcode: str,
        city: str,
        country: str,
        line2: str = "",
        valid_from: datetime | None = None,
        countries: Iterable[str] | None = None,
    ) -> ShippingAddress:
        """A normalised address (spaces trimmed, country and postcode upper case, the
        postcode in its country's format).

        :param countries: the countries the publisher ships to (``None``: any).
        :raises AddressError: naming every bad field and why; ``errors`` per field.
        """
        country_code = str(country).strip().upper()
        values = {
            "name": " ".join(str(name).split()),
            "line1": " ".join(str(line1).split()),
            "line2": " ".join(str(line2).split()),
            "city": " ".join(str(city).split()),
            "country": country_code,
            "postcode": normalize_postcode(country_code, postcode),
        }
        allowed = None if countries is None else {c.upper() for c in countries}
        if allowed is not None and country_code in COUNTRY_CODES and country_code not in allowed:
            raise AddressError(
                {
                    "country": f"we do not ship to {country_code!r}; we ship to "
                    + ", ".join(sorted(allowed))
                }
            )
        return cls(valid_from=valid_from, **values)

    @property
    def lines(self) -> tuple[str, ...]:
        """The address as printed on a label, one line each."""
        rows = (self.name, self.line1, self.line2, f"{self.postcode} {self.city}".strip())
        return (*(r for r in rows if r), self.country)

    def same_place(self, other: ShippingAddress | None) -> bool:
        """Whether ``other`` is this address (whenever it became valid)."""
        return other is not None and replace(other, valid_from=self.valid_from) == self


def address_errors(address: ShippingAddress) -> dict[str, str]:
    """Every problem of ``address``, per field (empty when it is valid)."""
    errors: dict[str, str] = {}
    for name in ("name", "line1", "city"):
        if not str(getattr(address, name)).strip():
            errors[name] = "this field is required"
    for name, longest in FIELD_LENGTHS.items():
        value = getattr(address, name)
        if not isinstance(value, str):
            errors[name] = f"expected text, got {type(value).__name__}"
        elif len(value) > longest:
            errors[name] = f"at most {longest} characters, got {len(value)}"
        elif any(ord(ch) < 32 for ch in value):
            errors[name] = "control characters (tabs, line breaks) are not allowed"
    country = address.country
    if country not in COUNTRY_CODES:
        errors["country"] = f"{country!r} is not an ISO 3166-1 alpha-2 country code such as 'DE'"
    elif "postcode" not in errors:
        problem = postcode_problem(country, address.postcode)
        if problem is not None:
            errors["postcode"] = problem
    if address.valid_from is not None and address.valid_from.tzinfo is None:
        errors["valid_from"] = "must be an aware datetime"
    return errors


def address_at(addresses: Iterable[ShippingAddress], when: datetime) -> ShippingAddress | None:
    """The address valid at ``when``: the latest one valid from ``when`` or before."""
    best: ShippingAddress | None = None
    for address in addresses:
        since = address.valid_from
        if since is not None and since > when:
            continue
        if best is None or (
            since is not None and (best.valid_from is None or since >= best.valid_from)
        ):
            best = address
    return best


# -- products and issues ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeliveryProduct:
    """Something shipped to members, included in a tier by its entitlement ``key``."""

    key: str
    name: str

    def __post_init__(self) -> None:
        try:
            Entitlement(self.key)
        except CatalogError as exc:
            raise DeliveryError(str(exc)) from None
        if not self.key.startswith(PREFIX) or len(self.key) == len(PREFIX):
            raise DeliveryError(
                f"delivery product key {self.key!r} must start with {PREFIX!r}, "
                "such as 'delivery.print-edition'"
            )
        if not str(self.name).strip():
            raise DeliveryError(f"delivery product {self.key!r} needs a name")


@dataclass(frozen=True, slots=True)
class Issue:
    """One shipment of a product: ``title`` (and ``number``) ships on ``ships_on``; who
    gets it is decided as things stand at ``cutoff``, an aware instant before the ship day.
    """

    id: str
    product: str
    title: str
    ships_on: date
    cutoff: datetime
    number: int | None = None

    def __post_init__(self) -> None:
        if not str(self.title).strip():
            raise DeliveryError(f"issue {self.id!r} of {self.product!r} needs a title")
        if self.cutoff.tzinfo is None:
            raise DeliveryError(f"issue {self.title!r}: the cut-off must be an aware datetime")
        if self.cutoff >= self.ships_at:
            raise DeliveryError(
                f"issue {self.title!r}: the cut-off {self.cutoff.isoformat()} must be before "
                f"the ship day {self.ships_on.isoformat()} begins"
            )

    @property
    def ships_at(self) -> datetime:
        """When the ship day begins (midnight UTC): what must still run then to ship."""
        return datetime.combine(self.ships_on, time.min, tzinfo=UTC)


def default_cutoff(ships_on: date, days: int) -> datetime:
    """The cut-off ``days`` whole days before ``ships_on`` (at midnight UTC)."""
    return datetime.combine(ships_on - timedelta(days=days), time.min, tzinfo=UTC)


def delivery_keys(catalog: Catalog) -> frozenset[str]:
    """The delivery products some tier of ``catalog`` includes."""
    return frozenset(
        e.key for tier in catalog.tiers for e in tier.entitlements if e.key.startswith(PREFIX)
    )


def tiers_including(catalog: Catalog, key: str) -> frozenset[str]:
    """The slugs of the tiers that include the product ``key``."""
    return frozenset(
        tier.slug for tier in catalog.tiers if any(e.key == key for e in tier.entitlements)
    )


# -- who receives an issue -------------------------------------------------------------------
class DeliveryStatus(StrEnum):
    """Where a member stands for one issue. Only ``receives`` ships."""

    RECEIVES = "receives"
    #: Entitled, but no address was kept at the cut-off: listed apart, to chase.
    MISSING_ADDRESS = "missing_address"
    #: A pause covers the ship day.
    PAUSED = "paused"
    #: The membership or grant that includes the product ends before the ship day.
    ENDED = "ended"
    #: Holds nothing that includes the product at the cut-off.
    NOT_ENTITLED = "not_entitled"


# The best outcome of several holdings wins: lower is better.
_RANK = {
    DeliveryStatus.RECEIVES: 0,
    DeliveryStatus.PAUSED: 1,
    DeliveryStatus.ENDED: 2,
    DeliveryStatus.NOT_ENTITLED: 3,
}


@dataclass(frozen=True, slots=True)
class DeliveryDecision:
    """Whether a member receives an issue, and where: :attr:`address` is set for
    ``receives``. :attr:`until` is when what includes the product ends (``ended``), and
    :attr:`resumes` when a pause ends (``paused``)."""

    status: DeliveryStatus
    address: ShippingAddress | None = None
    until: datetime | None = None
    resumes: datetime | None = None

    @property
    def receives(self) -> bool:
        return self.status is DeliveryStatus.RECEIVES


def as_at_cutoff(
    membership: Membership, cutoff: datetime, paused_since: datetime | None = None
) -> Membership:
    """``membership`` as it stood at ``cutoff`` as far as its snapshot tells: a
    cancellation requested after the cut-off (``canceled_at``) and a pause started after
    it (``paused_since``, which the caller knows from its history) are undone."""
    m = membership
    if m.canceled_at is not None and m.canceled_at > cutoff:
        if m.status in (Status.CANCELED, Status.EXPIRED):
            m = m.replace(status=Status.ACTIVE, cancel_at_period_end=False, canceled_at=None)
        else:
            m = m.replace(cancel_at_period_end=False, canceled_at=None)
    if m.status is Status.PAUSED and paused_since is not None and paused_since > cutoff:
        m = m.replace(status=Status.ACTIVE, paused_until=None)
    return m


def tier_at_cutoff(
    membership: Membership,
    cutoff: datetime,
    history: Iterable[tuple[datetime, str]] = (),
) -> str | None:
    """The tier ``membership`` held at ``cutoff``.

    Its current tier when its current price began by then (``price_since`` at or
    before ``cutoff``, or not known). When it moved to its price after the cut-off, the
    tier ``history`` gives for that moment: of its ``(since, tier)`` entries (the
    adapter reads them from the membership ledger), the latest one at or before
    ``cutoff``. ``None`` when the history cannot say: the membership then counts for
    nothing for this issue, so a move up after the cut-off never ships it (a move down
    is only shipped when the history shows the tier held at the cut-off)."""
    moved = membership.price_since
    if moved is None or moved <= cutoff:
        return membership.tier
    best: tuple[datetime, str] | None = None
    for since, tier in history:
        if since <= cutoff and (best is None or since >= best[0]):
            best = (since, tier)
    return None if best is None else best[1]


def _membership_outcome(
    m: Membership, issue: Issue, grace: timedelta, at: datetime
) -> tuple[DeliveryStatus, datetime | None, datetime | None]:
    # ``at`` is the cut-off, or for a forecast now: a renewing membership is taken to
    # renew, one set to end ends when it says.
    cutoff, ships_at = issue.cutoff, issue.ships_at
    if m.started_at is not None and m.started_at > cutoff:
        return DeliveryStatus.NOT_ENTITLED, None, None  # joined after the cut-off
    if m.status is Status.PAUSED:
        resumes = m.paused_until
        ends = m.current_period_end
        if m.cancel_at_period_end and ends is not None and ends <= cutoff:
            return DeliveryStatus.NOT_ENTITLED, None, None  # ended before the cut-off
        if resumes is None or resumes > ships_at:
            return DeliveryStatus.PAUSED, None, resumes
        # The pause ends before the ship day: it runs again by then.
    elif not m.grants_access(at, grace):
        return DeliveryStatus.NOT_ENTITLED, None, None
    ends = m.current_period_end if (m.status is Status.CANCELED or m.cancel_at_period_end) else None
    if ends is not None and ends <= ships_at:
        return DeliveryStatus.ENDED, ends, None
    return DeliveryStatus.RECEIVES, None, None


def _grant_outcome(
    g: Grant, issue: Issue, at: datetime
) -> tuple[DeliveryStatus, datetime | None, datetime | None]:
    if not g.active(at):
        return DeliveryStatus.NOT_ENTITLED, None, None
    # A revocation after the cut-off does not count for this issue; the end does.
    if g.ends_at is not None and g.ends_at <= issue.ships_at:
        return DeliveryStatus.ENDED, g.ends_at, None
    return DeliveryStatus.RECEIVES, None, None


def decide_delivery(
    issue: Issue,
    catalog: Catalog,
    *,
    memberships: Iterable[Membership] = (),
    grants: Iterable[Grant] = (),
    addresses: Iterable[ShippingAddress] = (),
    grace: timedelta = timedelta(0),
    paused_since: Mapping[str, datetime] | None = None,
    tier_history: Mapping[str, Sequence[tuple[datetime, str]]] | None = None,
    now: datetime | None = None,
) -> DeliveryDecision:
    """Whether one member receives ``issue`` (see the module's rules), from their
    memberships, grants and address history. Pure: ask it after the cut-off (with
    ``paused_since``: membership id -> when its current pause began) for the manifest,
    or before it with ``now`` for a forecast. ``tier_history`` (membership id -> its
    ``(since, tier)`` history, see :func:`tier_at_cutoff`) says which tier a membership
    that changed its price after the cut-off held at the cut-off.

    :param grace: the dunning grace, as for access: a past-due membership still in its
        grace at the cut-off ships.
    :param now: when the question is asked (``None``: at or after the cut-off). Before
        the cut-off the answer is a forecast from what the member holds ``now``: a
        renewing membership is taken to renew; one set to end, or a grant, ends when it
        says (``ended``, also when that is before the cut-off).
    """
    at = issue.cutoff if now is None or now >= issue.cutoff else now
    tiers = tiers_including(catalog, issue.product)
    paused_since = paused_since or {}
    tier_history = tier_history or {}
    best: tuple[DeliveryStatus, datetime | None, datetime | None] = (
        DeliveryStatus.NOT_ENTITLED,
        None,
        None,
    )

    def consider(outcome: tuple[DeliveryStatus, datetime | None, datetime | None]) -> None:
        nonlocal best
        if _RANK[outcome[0]] < _RANK[best[0]]:
            best = outcome

    for membership in memberships:
        tier = tier_at_cutoff(membership, issue.cutoff, tier_history.get(membership.id, ()))
        if tier is not None and tier in tiers:
            on_tier = membership if tier == membership.tier else membership.replace(tier=tier)
            then = as_at_cutoff(on_tier, issue.cutoff, paused_since.get(membership.id))
            consider(_membership_outcome(then, issue, grace, at))
    for grant in grants:
        held = grant.tier in tiers or any(e.key == issue.product for e in grant.entitlements)
        if held:
            consider(_grant_outcome(grant, issue, at))
    status, until, resumes = best
    if status is not DeliveryStatus.RECEIVES:
        return DeliveryDecision(status, until=until, resumes=resumes)
    address = address_at(addresses, issue.cutoff)
    if address is None:
        return DeliveryDecision(DeliveryStatus.MISSING_ADDRESS)
    return DeliveryDecision(DeliveryStatus.RECEIVES, address)


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """What :func:`build_manifest` needs of one member."""

    member_id: str
    memberships: Sequence[Membership] = ()
    grants: Sequence[Grant] = ()
    addresses: Sequence[ShippingAddress] = ()
    #: Membership id -> when its current pause began, where known.
    paused_since: Mapping[str, datetime] = field(default_factory=dict)
    #: Membership id -> its ``(since, tier)`` history, where a plan change after the
    #: cut-off needs it (see :func:`tier_at_cutoff`).
    tier_history: Mapping[str, Sequence[tuple[datetime, str]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ManifestLine:
    """One member's line in an issue's manifest: who gets what, where."""

    member_id: str
    status: DeliveryStatus
    address: ShippingAddress | None = None
    quantity: int = 1


def build_manifest(
    issue: Issue,
    catalog: Catalog,
    members: Iterable[MemberRecord],
    *,
    grace: timedelta = timedelta(0),
    now: datetime | None = None,
) -> tuple[ManifestLine, ...]:
    """The manifest of ``issue``: a line for every member entitled at the cut-off
    (receiving, missing an address, paused or ending before the ship day), by member id.
    Members not entitled at all have no line. With ``now`` before the cut-off, a
    forecast (see :func:`decide_delivery`)."""
    lines = []
    for record in members:
        decision = decide_delivery(
            issue,
            catalog,
            memberships=record.memberships,
            grants=record.grants,
            addresses=record.addresses,
            grace=grace,
            paused_since=record.paused_since,
            tier_history=record.tier_history,
            now=now,
        )
        if decision.status is not DeliveryStatus.NOT_ENTITLED:
            lines.append(ManifestLine(record.member_id, decision.status, decision.address))
    lines.sort(key=lambda line: line.member_id)
    return tuple(lines)
