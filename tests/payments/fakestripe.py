"""A loopback HTTP server that speaks the part of Stripe's API Campus uses, the way the
official ``stripe`` library calls it, plus Stripe's hosted checkout page and webhook
delivery with Stripe's signature scheme.

- ``POST /v1/checkout/sessions``: a form-encoded body (``line_items[0][price_data][currency]``),
  the secret key as a bearer token (else 401 as Stripe answers), ``Idempotency-Key`` honoured
  (the same key with the same parameters replays the first answer with
  ``Idempotent-Replayed: true``; with other parameters a 400 ``idempotency_error``), and a
  Checkout Session object shaped like Stripe's.
- ``GET /v1/checkout/sessions/{id}`` and ``GET /v1/checkout/sessions?payment_intent=...``.
- ``GET /c/pay/{id}``: the "hosted checkout" page with a Pay button; paying completes the
  session, assigns a payment intent, redirects to the session's ``success_url`` and delivers
  the signed ``checkout.session.completed`` event to the configured webhook URL.

Events are signed as Stripe signs them: ``Stripe-Signature: t=<unix time>,v1=<hex
HMAC-SHA256 of "<t>.<payload>" keyed with the endpoint secret>``.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

SECRET_KEY = "sk_test_campus_loopback_0123456789"
WEBHOOK_SECRET = "whsec_campus_loopback_0123456789"
_KEY = re.compile(r"([^\[\]]+)|\[([^\[\]]*)\]")


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload``, as Stripe computes it."""
    t = int(time.time()) if timestamp is None else timestamp
    signed = f"{t}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def parse_form(body: bytes) -> dict[str, Any]:
    """Stripe's form encoding back into nested dicts and lists (``a[b][0][c]=v``)."""
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(body.decode(), keep_blank_values=True):
        parts = [m.group(1) or m.group(2) for m in _KEY.finditer(raw_key)]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    """Dicts whose keys are 0..n-1 become lists (Stripe's array encoding)."""
    if isinstance(node, dict):
        fixed = {k: _lists(v) for k, v in node.items()}
        if fixed and all(k.isdigit() for k in fixed):
            return [fixed[k] for k in sorted(fixed, key=int)]
        return fixed
    return node


def _error(status: int, type_: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"type": type_, "message": message, **extra}}, status_code=status)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, Any]


@dataclass
class FakeStripe:
    url: str = ""
    secret_key: str = SECRET_KEY
    webhook_secret: str = WEBHOOK_SECRET
    webhook_url: str | None = None
    webhook_delay: float = 0.0
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    deliveries: list[int] = field(default_factory=list)
    fail_next: int = 0  # answer the next N API calls with a 500 (the library retries)
    _idempotency: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- the API --------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        return auth == f"Bearer {self.secret_key}"

    async def create_session(self, request: Request) -> Response:
        body = await request.body()
        form = parse_form(body) if body else {}
        self.requests.append(Recorded("POST", request.url.path, dict(request.headers), form))
        if not self._authorized(request):
            return _error(401, "invalid_request_error", "Invalid API Key provided.")
        if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            return _error(400, "invalid_request_error", "Expected a form-encoded body.")
        if self.fail_next > 0:
            self.fail_next -= 1
            return _error(500, "api_error", "Something went wrong on Stripe's end.")
        key = request.headers.get("idempotency-key")
        fingerprint = json.dumps(form, sort_keys=True)
        with self._lock:
            if key is not None and key in self._idempotency:
                seen, response = self._idempotency[key]
                if seen != fingerprint:
                    return _error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with.",
                    )
                return JSONResponse(response, headers={"Idempotent-Replayed": "true"})
            missing = [p for p in ("mode", "line_items", "success_url") if p not in form]
            if missing:
                return _error(
                    400, "invalid_request_error", f"Missing required param: {missing[0]}.",
                    param=missing[0],
                )  # fmt: skip
            session = self._new_session(form)
            if key is not None:
                self._idempotency[key] = (fingerprint, session)
        return JSONResponse(session, headers={"Request-Id": "req_" + secrets.token_hex(8)})

    def _new_session(self, form: dict[str, Any]) -> dict[str, Any]:
        item = form["line_items"][0]
        price = item["price_data"]
        amount = int(price["unit_amount"]) * int(item.get("quantity", 1))
        session_id = "cs_test_" + secrets.token_hex(16)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": form.get("cancel_url"),
            "client_reference_id": form.get("client_reference_id"),
            "created": int(time.time()),
            "currency": price["currency"],
            "customer": None,
            "customer_email": form.get("customer_email"),
            "expires_at": int(form.get("expires_at", int(time.time()) + 86400)),
            "livemode": False,
            "metadata": form.get("metadata", {}),
            "mode": form["mode"],
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": form["success_url"],
            "url": f"{self.url}/c/pay/{session_id}",
            "line_items_name": price.get("product_data", {}).get("name"),
        }
        self.sessions[session_id] = session
        return dict(session)

    async def get_session(self, request: Request) -> Response:
        self.requests.append(Recorded("GET", request.url.path, dict(request.headers), {}))
        if not self._authorized(request):
            return _error(401, "invalid_request_error", "Invalid API Key provided.")
        found = self.sessions.get(request.path_params["session_id"])
        if found is None:
            return _error(
                404, "invalid_request_error", "No such checkout.session", code="resource_missing"
            )
        return JSONResponse(found)

    async def list_sessions(self, request: Request) -> Response:
        self.requests.append(
            Recorded("GET", request.url.path, dict(request.headers), dict(request.query_params))
        )
        if not self._authorized(request):
            return _error(401, "invalid_request_error", "Invalid API Key provided.")
        intent = request.query_params.get("payment_intent")
        data = [
            s for s in self.sessions.values() if intent is None or s["payment_intent"] == intent
        ]
        limit = int(request.query_params.get("limit", "10"))
        return JSONResponse(
            {"object": "list", "data": data[:limit], "has_more": len(data) > limit,
             "url": "/v1/checkout/sessions"}
        )  # fmt: skip

    # --- the hosted checkout page ------------------------------------------------------------

    async def pay_page(self, request: Request) -> Response:
        session = self.sessions.get(request.path_params["session_id"])
        if session is None:
            return HTMLResponse("<h1>No such checkout</h1>", status_code=404)
        amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
        name = html.escape(str(session.get("line_items_name")))
        return HTMLResponse(
            "<!doctype html><html><head><meta name='viewport' content='width=device-width'>"
            "<title>Fake Stripe Checkout</title></head><body>"
            f"<h1>Fake Stripe Checkout</h1><p>{name}</p><p id='amount'>{amount}</p>"
            f"<form method='post'><button type='submit'>Pay {amount}</button></form>"
            f"<p><a href='{html.escape(session['cancel_url'] or '')}'>Cancel</a></p>"
            "</body></html>"
        )

    async def pay(self, request: Request) -> Response:
        session_id = request.path_params["session_id"]
        if session_id not in self.sessions:
            return HTMLResponse("<h1>No such checkout</h1>", status_code=404)
        event = self.complete(session_id)
        if self.webhook_url:
            threading.Thread(target=self._deliver_later, args=(event,), daemon=True).start()
        success = self.sessions[session_id]["success_url"].replace(
            "{CHECKOUT_SESSION_ID}", session_id
        )
        return RedirectResponse(success, status_code=303)

    def _deliver_later(self, event: dict[str, Any]) -> None:
        time.sleep(self.webhook_delay)
        self.deliver(event)

    # --- test helpers --------------------------------------------------------------------------

    def mark_paid(self, session_id: str, *, paid: bool = True) -> dict[str, Any]:
        """The buyer paid on the checkout page: the session completes, a payment intent
        exists (no event is sent)."""
        session = self.sessions[session_id]
        session["status"] = "complete"
        session["payment_status"] = "paid" if paid else "unpaid"
        if session["payment_intent"] is None:
            session["payment_intent"] = "pi_test_" + secrets.token_hex(12)
        return dict(session)

    def complete(self, session_id: str, *, paid: bool = True) -> dict[str, Any]:
        """Pay and return the ``checkout.session.completed`` event."""
        return self.event("checkout.session.completed", self.mark_paid(session_id, paid=paid))

    def charge_refunded(
        self, session_id: str, *, amount_refunded: int | None = None
    ) -> dict[str, Any]:
        session = self.sessions[session_id]
        amount = session["amount_total"]
        refunded = amount if amount_refunded is None else amount_refunded
        charge = {
            "id": "ch_test_" + secrets.token_hex(12),
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": refunded,
            "currency": session["currency"],
            "paid": True,
            "payment_intent": session["payment_intent"],
            "refunded": refunded >= amount,
            "status": "succeeded",
            "metadata": {},
        }
        return self.event("charge.refunded", charge)

    @staticmethod
    def event(type_: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "evt_test_" + secrets.token_hex(12),
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type_,
        }

    def signed(
        self, event: dict[str, Any], *, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        payload = json.dumps(event).encode()
        headers = {
            "Stripe-Signature": sign(payload, self.webhook_secret, timestamp),
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        return payload, headers

    def deliver(self, event: dict[str, Any]) -> int:
        """POST a signed event to the webhook URL, as Stripe does; returns the status."""
        assert self.webhook_url is not None
        payload, headers = self.signed(event)
        status = httpx.post(
            self.webhook_url, content=payload, headers=headers, timeout=10
        ).status_code
        self.deliveries.append(status)
        return status

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/checkout/sessions", self.create_session, methods=["POST"]),
                Route("/v1/checkout/sessions", self.list_sessions, methods=["GET"]),
                Route("/v1/checkout/sessions/{session_id}", self.get_session, methods=["GET"]),
                Route("/c/pay/{session_id}", self.pay_page, methods=["GET"]),
                Route("/c/pay/{session_id}", self.pay, methods=["POST"]),
            ]
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_fake_stripe() -> Iterator[FakeStripe]:
    """The fake on a free loopback port, served by uvicorn in a thread."""
    fake = FakeStripe()
    port = free_port()
    fake.url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(
        fake.app(), host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-stripe", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake Stripe server did not start")
        time.sleep(0.02)
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)
