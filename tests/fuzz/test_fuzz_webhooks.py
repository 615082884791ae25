"""Fuzz: malformed and forged webhooks against every provider's endpoint.

For each provider (``fake``, ``manual``, and ``stripe`` when its package is installed)
``FUZZ_REQUESTS`` (10,000 by default) requests are generated from a seeded random
(``FUZZ_SEED``): forged or missing signatures, bodies altered after signing, truncated
and non-JSON bodies (correctly signed, so the parser sees them), fields of the wrong type
or missing (correctly signed), replayed old and far-future timestamps, and bodies over
the size limit. Every answer must be a 4xx, none a 5xx, and no paywall table may gain or
lose a row.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("wagtail")

from django.apps import apps
from django.conf import settings
from django.test import Client, override_settings

from membership_sdk import Status
from membership_sdk.events import SubscriptionSnapshot
from membership_sdk.providers.webhooks import WebhookSigner, encode_event, utcnow
from wagtail_paywall import program as program_module

pytestmark = pytest.mark.django_db

REQUESTS = int(os.environ.get("FUZZ_REQUESTS", "10000"))
SEED = int(os.environ.get("FUZZ_SEED", "1312"))
MAX_BYTES = 64 * 1024
HUGE_EVERY = 500  # one body over the limit in this many requests (they are slow to build)
HAS_STRIPE = importlib.util.find_spec("stripe") is not None


@dataclass(frozen=True)
class Endpoint:
    name: str
    header: str
    secret: str
    body: Callable[[random.Random], bytes]
    #: JSON paths (top level, then inside data / data.object) and the type each must have
    fields: tuple[tuple[tuple[str, ...], str], ...]


def simulated_body(rng: random.Random) -> bytes:
    now = utcnow()
    snapshot = SubscriptionSnapshot(
        id=f"sub_{rng.randrange(10**6)}",
        customer_id=f"cus_{rng.randrange(10**6)}",
        price="fake_price_premium_monthly",
        status=Status.ACTIVE,
        version=rng.randint(1, 50),
        current_period_end=now,
        started_at=now,
    )
    return encode_event(
        f"evt_{rng.randrange(10**9)}", "subscription.updated", now, snapshot, member_id="1"
    )


SIMULATED_FIELDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("id",), "text"),
    (("type",), "string"),
    (("created",), "int"),
    (("livemode",), "flag"),
    (("data",), "object"),
    (("data", "object"), "kind"),
    (("data", "id"), "text"),
    (("data", "customer"), "text"),
    (("data", "price"), "text"),
    (("data", "status"), "text"),
    (("data", "version"), "int"),
    (("data", "client_reference_id"), "optional_string"),
    (("data", "current_period_end"), "optional_int"),
    (("data", "started_at"), "optional_int"),
    (("data", "cancel_at_period_end"), "flag"),
)


def stripe_body(rng: random.Random) -> bytes:
    now = int(time.time())
    event = {
        "id": f"evt_{rng.randrange(10**9)}",
        "object": "event",
        "type": "customer.subscription.updated",
        "created": now,
        "livemode": False,
        "data": {
            "object": {
                "id": f"sub_{rng.randrange(10**6)}",
                "object": "subscription",
                "customer": f"cus_{rng.randrange(10**6)}",
                "status": "active",
                "items": {"data": [{"price": {"id": "price_fuzz"}}]},
                "current_period_end": now + 86400,
            }
        },
    }
    return json.dumps(event).encode()


STRIPE_FIELDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("id",), "text"),
    (("object",), "kind"),
    (("type",), "string"),
    (("created",), "int"),
    (("livemode",), "flag"),
    (("data",), "object"),
    (("data", "object"), "object"),
    (("data", "object", "current_period_end"), "optional_int"),
    (("data", "object", "cancel_at_period_end"), "flag"),
)

ENDPOINTS = [
    Endpoint("fake", "Fake-Signature", "fuzz-fake-secret", simulated_body, SIMULATED_FIELDS),
    Endpoint("manual", "Manual-Signature", "fuzz-manual-secret", simulated_body, SIMULATED_FIELDS),
]
if HAS_STRIPE:
    ENDPOINTS.append(
        Endpoint(
            "stripe",
            "Stripe-Signature",
            "whsec_fuzz",
            stripe_body,
            STRIPE_FIELDS,
        )
    )


# -- mutations ---------------------------------------------------------------------------
def wrong_value(rng: random.Random, kind: str) -> Any:
    """A value that is not of ``kind``, nor one a reader could take for it."""
    options: dict[str, list[Any]] = {
        "text": [None, "", 0, 1.5, True, [], {}, ["x"]],
        "string": [None, 0, 2.5, False, [], {"a": 1}],
        "int": [None, "1767225600", 1.5, True, [], {}, "x"],
        "flag": [1, 0, "true", "yes", [], {}, 2.5],
        "object": [None, "x", 1, [], [{}], True],
        "kind": ["customer", "", None, 7, [], {"x": 1}],
        "optional_string": [0, 1.5, True, ["m"], {"m": 1}],
        "optional_int": ["1767225600", 1.5, True, [], {}, "soon"],
    }
    return rng.choice(options[kind])


def with_field(body: bytes, path: tuple[str, ...], value: Any, *, delete: bool) -> bytes:
    doc = json.loads(body)
    node = doc
    for key in path[:-1]:
        node = node[key]
    if delete:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return json.dumps(doc).encode()


def truncated(rng: random.Random, body: bytes) -> bytes:
    return body[: rng.randrange(0, len(body))]


def junk(rng: random.Random) -> bytes:
    return rng.choice(
        [
            lambda: rng.randbytes(rng.randrange(0, 300)),
            lambda: "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(50)).encode(),
            lambda: rng.choice([b"null", b"1", b'"event"', b"[]", b"[{}]", b"true", b"{}"]),
            lambda: b"\xff\xfe" + rng.randbytes(20),
            lambda: b"{" * rng.randrange(1, 5000),  # deeply nested, never closed
            lambda: (
                b'{"id": "evt_1", "object": "event", "type": "subscription.updated", '
                b'"created": 1e999, "data": {"object": "subscription"}}'
            ),
        ]
    )()


def requests_for(endpoint: Endpoint, count: int, seed: int) -> Iterator[tuple[str, bytes, str]]:
    """``count`` (kind, body, signature header) triples; an empty header means none."""
    rng = random.Random(f"{seed}-{endpoint.name}")
    signer = WebhookSigner(endpoint.secret, header=endpoint.header)
    other = WebhookSigner("not-the-secret", header=endpoint.header)

    def sign(body: bytes, t: int | None = None) -> str:
        return signer.sign(body, timestamp=t).headers[endpoint.header]

    for n in range(count):
        body = endpoint.body(rng)
        now = int(time.time())
        if n % HUGE_EVERY == HUGE_EVERY - 1:
            big = body + b" " * (MAX_BYTES + rng.randrange(1, 4096))
            yield "huge body", big, sign(big)
            continue
        kind = rng.randrange(9)
        if kind == 0:
            yield "signed with another secret", body, other.sign(body).headers[endpoint.header]
        elif kind == 1:
            yield (
                "forged signature header",
                body,
                rng.choice(
                    [
                        "",
                        "t=,v1=",
                        f"t={now}",
                        f"v1={rng.randbytes(32).hex()}",
                        f"t={now},v1={rng.randbytes(32).hex()}",
                        f"t={now},v0={sign(body).split('v1=')[1]}",
                        f"t=-{now},v1=00",
                        "x" * rng.randrange(1, 5000),
                        f"t={'9' * 400},v1=ab",
                        "t=1\x00,v1=\u00e9",
                    ]
                ),
            )
        elif kind == 2:
            signature = sign(body)
            altered = bytearray(body)
            altered[rng.randrange(len(altered))] ^= 1 << rng.randrange(8)
            yield "body altered after signing", bytes(altered), signature
        elif kind == 3:
            part = truncated(rng, body)
            yield "truncated body, signed", part, sign(part)
        elif kind == 4:
            part = junk(rng)
            yield "not JSON or not an object, signed", part, sign(part)
        elif kind in (5, 6):
            path, field_kind = rng.choice(endpoint.fields)
            delete = rng.random() < 0.2 and not field_kind.startswith(("optional", "flag"))
            value = wrong_value(rng, field_kind)
            changed = with_field(body, path, value, delete=delete)
            what = "missing" if delete else f"= {value!r}"
            yield (
                f"field of the wrong type or missing, signed: {'.'.join(path)} {what}",
                changed,
                sign(changed),
            )
        elif kind == 7:
            age = rng.choice([301, 600, 3600, 86400 * 30, 86400 * 3650])
            yield "replayed old timestamp", body, sign(body, now - age)
        else:
            ahead = rng.choice([360, 3600, 86400 * 365])  # 301 could pass a second later
            yield "timestamp from the future", body, sign(body, now + ahead)


# -- the run -----------------------------------------------------------------------------
def paywall_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_app_config("wagtail_paywall").get_models()
    }


@pytest.fixture
def fuzz_site(db: Any) -> Iterator[None]:
    providers = {
        "fake": {"secret": "fuzz-fake-secret"},
        "manual": {"secret": "fuzz-manual-secret"},
    }
    if HAS_STRIPE:
        # A closed loopback port: nothing reaches Stripe, even if an event got through.
        providers["stripe"] = {
            "api_key": "sk_test_fuzz",
            "webhook_secret": "whsec_fuzz",
            "api_base": "http://127.0.0.1:9",
            "max_network_retries": 0,
        }
    paywall = {**settings.PAYWALL, "PROVIDERS": providers, "WEBHOOK_MAX_BYTES": MAX_BYTES}
    with override_settings(PAYWALL=paywall):
        program_module.reset_program()
        yield
    program_module.reset_program()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_malformed_and_forged_webhooks_get_4xx_and_change_nothing(
    fuzz_site: None, endpoint: Endpoint
) -> None:
    client = Client(raise_request_exception=False)
    url = f"/paywall/webhooks/{endpoint.name}/"
    before = paywall_counts()
    answers: Counter[int] = Counter()
    kinds: Counter[str] = Counter()
    failures: list[str] = []
    failed_kinds: Counter[str] = Counter()
    started = time.monotonic()
    for kind, body, signature in requests_for(endpoint, REQUESTS, SEED):
        extra = (
            {f"HTTP_{endpoint.header.upper().replace('-', '_')}": signature} if signature else {}
        )
        response = client.post(url, data=body, content_type="application/json", **extra)
        answers[response.status_code] += 1
        kinds[kind.split(":")[0]] += 1
        if not 400 <= response.status_code < 500:
            failed_kinds[kind.split(":")[0]] += 1
            if len(failures) < 10:
                failures.append(f"{kind}: {response.status_code} for {body[:100]!r}")
    elapsed = time.monotonic() - started
    print(
        f"fuzz {endpoint.name}: requests={sum(answers.values())} "
        f"4xx={sum(c for s, c in answers.items() if 400 <= s < 500)} "
        f"5xx={sum(c for s, c in answers.items() if s >= 500)} answers={dict(answers)} "
        f"in {elapsed:.1f}s; kinds={dict(kinds)}"
    )
    assert not failures, (dict(failed_kinds), failures)
    assert paywall_counts() == before
    assert answers[413] >= REQUESTS // HUGE_EVERY
