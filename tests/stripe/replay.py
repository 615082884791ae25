"""Replaying recorded Stripe responses through the real ``stripe`` SDK.

:class:`ReplayClient` is a :class:`stripe.HTTPClient`: the provider builds its
``StripeClient`` as usual and every request goes through the SDK's own encoding, headers,
error handling and retries; only the network is replaced. Responses come from
``recordings/objects-2026-10-28.endive.json`` (see ``recordings/README.md``): objects in
the shape of API version 2026-10-28.endive, built from Stripe's OpenAPI fixtures.

Like Stripe, the client answers a repeated ``Idempotency-Key`` with the first answer, and
answers a reused key with other parameters with a 400 ``idempotency_error``.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

RECORDINGS = Path(__file__).parent / "recordings"
API_VERSION = "2026-10-28.endive"


def load_objects() -> dict[str, Any]:
    """The recorded objects of the current API version, by name (a fresh copy each call)."""
    with open(RECORDINGS / f"objects-{API_VERSION}.json") as f:
        return json.load(f)


def load_old_events() -> dict[str, Any]:
    with open(RECORDINGS / "events-2022-11-15.json") as f:
        return json.load(f)


Responder = Callable[["Request"], tuple[int, Mapping[str, Any]]]


@dataclass
class Request:
    """One request the SDK sent: method, path, decoded form or query, and headers."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


@dataclass
class ReplayClient(stripe.HTTPClient):
    """Answers requests from registered routes; records every request it saw.

    ``routes`` maps ``"METHOD /path"`` to a list of answers given in turn (the last one
    repeats). ``unreachable`` lists routes (or ``"*"``) that fail as if the network were
    down.
    """

    name = "replay"
    routes: dict[str, list[Responder]] = field(default_factory=dict)
    unreachable: set[str] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)
    _idempotent: dict[str, tuple[dict[str, str], tuple[str, int, dict[str, str]]]] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        super().__init__()

    # -- set-up ----------------------------------------------------------------------------
    def on(self, route: str, *answers: Mapping[str, Any] | Responder, status: int = 200) -> None:
        """Answer ``route`` ("POST /v1/customers") with ``answers`` in turn."""
        responders: list[Responder] = []
        for answer in answers:
            if callable(answer):
                responders.append(answer)
            else:
                body = copy.deepcopy(dict(answer))
                responders.append(lambda _req, body=body: (status, body))
        self.routes[route] = responders

    def sent(self, route: str) -> list[Request]:
        method, path = route.split(" ", 1)
        return [r for r in self.requests if r.method == method and r.path == path]

    # -- stripe.HTTPClient -----------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        parts = urlsplit(url)
        body = post_data.decode() if isinstance(post_data, bytes) else (post_data or "")
        params = dict(parse_qsl(parts.query or body, keep_blank_values=True))
        req = Request(method.upper(), parts.path, params, dict(headers or {}))
        self.requests.append(req)
        route = f"{req.method} {req.path}"
        if "*" in self.unreachable or route in self.unreachable:
            raise stripe.APIConnectionError(
                "Connection refused (replayed outage)", should_retry=True
            )
        key = req.idempotency_key
        if key and key in self._idempotent:
            first_params, answer = self._idempotent[key]
            if first_params != params:
                return self._json(
                    400,
                    {
                        "error": {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only be used with the "
                            "same parameters they were first used with.",
                        }
                    },
                )
            return answer
        responders = self.routes.get(route)
        if not responders:
            status, payload = (
                404,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "resource_missing",
                        "message": f"Unrecognized request URL ({route}) in the replay recordings",
                    }
                },
            )
        else:
            responder = responders.pop(0) if len(responders) > 1 else responders[0]
            status, payload = responder(req)
        answer = self._json(status, payload)
        if key and status < 500:
            self._idempotent[key] = (params, answer)
        return answer

    @staticmethod
    def _json(status: int, payload: Mapping[str, Any]) -> tuple[str, int, dict[str, str]]:
        return json.dumps(payload), status, {"request-id": f"req_replay_{time.monotonic_ns()}"}

    def request_stream(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError("the Stripe provider never streams")

    def close(self) -> None:
        pass


def error(status: int, type_: str, message: str, code: str | None = None) -> Responder:
    """A responder answering with a Stripe error body."""
    body: dict[str, Any] = {"error": {"type": type_, "message": message}}
    if code:
        body["error"]["code"] = code
    return lambda _req: (status, body)


def sign(payload: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers as Stripe sends them with a webhook signed by ``secret``.

    Signed here, by Stripe's documented scheme (``t=<unix>,v1=<HMAC-SHA256 of
    "<t>.<payload>">``), not with the SDK's ``generate_signature_header``: that helper
    only exists in recent ``stripe`` releases, and the tests run on the oldest supported
    one too (tox env ``minimum``); the provider verifies with the SDK either way.
    """
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    header = f"t={t},v1={digest}"
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


def event(
    type_: str,
    obj: Mapping[str, Any],
    *,
    id: str,
    created: int,
    livemode: bool = False,
    api_version: str = API_VERSION,
) -> dict[str, Any]:
    """A webhook event around ``obj``, shaped as Stripe sends it."""
    return {
        "id": id,
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": {"object": copy.deepcopy(dict(obj))},
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
    }


class RecordedStripe(ReplayClient):
    """A small stateful Stripe built from the recorded objects, for whole flows.

    It keeps customers, Checkout Sessions and subscriptions made through it, each a copy
    of the recorded object of its kind with the request's values and the current time
    filled in; :meth:`complete_checkout` plays the customer paying on Stripe's page.
    Routes it does not know answer 404 like Stripe's ``resource_missing``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.objects = load_objects()
        self.customers: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self._n = 0

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_Rec{self._n:04d}"

    @staticmethod
    def _nested(params: Mapping[str, str], prefix: str) -> dict[str, str]:
        """``metadata[member_id]=x`` -> ``{"member_id": "x"}`` for ``prefix="metadata"``."""
        start = f"{prefix}["
        return {
            k[len(start) : -1]: v
            for k, v in params.items()
            if k.startswith(start) and k.endswith("]") and "][" not in k[len(start) :]
        }

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        path = urlsplit(url).path
        route = f"{method.upper()} {path}"
        if route not in self.routes:
            self.routes[route] = [self._answer]
        return super().request(method, url, headers, post_data, _usage=_usage)

    def _answer(self, req: Request) -> tuple[int, Mapping[str, Any]]:
        parts = req.path.strip("/").split("/")[1:]  # drop "v1"
        now = int(time.time())
        if parts == ["customers"] and req.method == "GET":
            email = req.params.get("email")
            data = [c for c in self.customers.values() if email in (None, c["email"])]
            return 200, {"object": "list", "data": data, "has_more": False}
        if parts == ["customers"] and req.method == "POST":
            customer = dict(
                self.objects["customer"],
                id=self._id("cus"),
                created=now,
                email=req.params.get("email"),
                metadata=self._nested(req.params, "metadata"),
            )
            self.customers[customer["id"]] = customer
            return 200, customer
        if parts == ["checkout", "sessions"] and req.method == "POST":
            sid = self._id("cs_test")
            session = dict(
                self.objects["checkout.session"],
                id=sid,
                created=now,
                customer=req.params.get("customer"),
                mode=req.params["mode"],
                client_reference_id=req.params.get("client_reference_id"),
                metadata=self._nested(req.params, "metadata"),
                url=f"https://checkout.stripe.com/c/pay/{sid}",
            )
            session["_price"] = req.params["line_items[0][price]"]
            self.sessions[sid] = session
            return 200, {k: v for k, v in session.items() if not k.startswith("_")}
        if parts == ["billing_portal", "sessions"] and req.method == "POST":
            return 200, dict(
                self.objects["billing_portal.session"],
                id=self._id("bps"),
                customer=req.params["customer"],
                created=now,
            )
        if len(parts) == 2 and parts[0] == "subscriptions" and parts[1] in self.subscriptions:
            sub = self.subscriptions[parts[1]]
            if req.method == "POST" and "cancel_at_period_end" in req.params:
                sub["cancel_at_period_end"] = req.params["cancel_at_period_end"] == "true"
            elif req.method == "DELETE":
                sub.update(status="canceled", canceled_at=now, ended_at=now)
            return 200, sub
        kind = parts[0] if parts else ""
        return 404, {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": f"No such {kind.rstrip('s')}: {parts[-1]!r}",
            }
        }

    def complete_checkout(self, session_id: str) -> dict[str, Any]:
        """The customer pays: the session completes and, for a subscription, Stripe
        creates it. Returns the ``checkout.session.completed`` event Stripe sends."""
        session = self.sessions[session_id]
        now = int(time.time())
        if session["mode"] == "subscription":
            sub_id = self._id("sub")
            sub = copy.deepcopy(self.objects["subscription"])
            price = dict(self.objects["price"], id=session["_price"])
            item = sub["items"]["data"][0]
            item.update(
                id=self._id("si"),
                price=price,
                subscription=sub_id,
                created=now,
                current_period_start=now,
                current_period_end=now + 31 * 86400,
            )
            sub.update(
                id=sub_id,
                customer=session["customer"],
                created=now,
                start_date=now,
                billing_cycle_anchor=now,
                metadata=dict(session["metadata"]),
            )
            self.subscriptions[sub_id] = sub
            session.update(subscription=sub_id)
        session.update(status="complete", payment_status="paid")
        public = {k: v for k, v in session.items() if not k.startswith("_")}
        return event("checkout.session.completed", public, id=self._id("evt"), created=now)
