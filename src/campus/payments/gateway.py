"""Stripe, through the official ``stripe`` library: one :class:`StripeGateway` per app.

The gateway holds a ``StripeClient`` with an asynchronous HTTPX transport, so calls to
Stripe never block the event loop. ``CAMPUS_STRIPE_API_BASE`` replaces Stripe's API address
(a loopback server speaking Stripe's API in tests). Library errors become CampusErrors here,
so the service and the HTTP layer see one error tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe

from campus.config import Settings
from campus.errors import BadGateway, Conflict, ServiceUnavailable
from campus.log import get_logger

logger = get_logger("campus.payments")

NOT_CONFIGURED = "Payments are not configured on this server (CAMPUS_STRIPE_SECRET_KEY is not set)."


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    id: str
    url: str


class StripeGateway:
    def __init__(self, settings: Settings) -> None:
        if settings.stripe_secret_key is None:
            raise ValueError("StripeGateway needs CAMPUS_STRIPE_SECRET_KEY")
        self._http = stripe.HTTPXClient(timeout=settings.stripe_timeout_seconds)
        base_addresses: Any = (
            {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        )
        self._client = stripe.StripeClient(
            settings.stripe_secret_key,
            base_addresses=base_addresses,
            http_client=self._http,
            # The library retries network failures and 409/5xx answers itself, with the
            # same Idempotency-Key, so a retried create never makes a second session.
            max_network_retries=2,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeGateway | None:
        """A gateway, or None when no secret key is configured (checkout answers 503)."""
        return cls(settings) if settings.stripe_secret_key else None

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def create_checkout_session(
        self, params: dict[str, Any], *, idempotency_key: str
    ) -> CheckoutSession:
        try:
            created = await self._client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]  # a plain dict of the documented params
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _campus_error(exc, "create a checkout session") from exc
        if not created.url:
            raise BadGateway("Stripe answered without a checkout URL.")
        return CheckoutSession(id=created.id, url=created.url)

    async def session_ids_for_payment_intent(self, payment_intent_id: str) -> list[str]:
        """The Checkout Sessions that created a payment intent (normally one)."""
        try:
            found = await self._client.v1.checkout.sessions.list_async(
                {"payment_intent": payment_intent_id, "limit": 3}
            )
        except stripe.StripeError as exc:
            raise _campus_error(exc, "look up a checkout session") from exc
        return [item.id for item in found.data]


def _campus_error(exc: stripe.StripeError, doing: str) -> Exception:
    logger.error(
        "stripe_request_failed",
        doing=doing,
        error=type(exc).__name__,
        http_status=exc.http_status,
        request_id=exc.request_id,
        stripe_code=exc.code,
    )
    if isinstance(exc, stripe.IdempotencyError):
        return Conflict(
            "A checkout with the same Idempotency-Key but other details is in progress.",
            code="idempotency-conflict",
        )
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return ServiceUnavailable(
            "Payments are misconfigured: Stripe refused the API key.",
            code="payments-not-configured",
        )
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return ServiceUnavailable(
            "The payment provider cannot be reached right now; try again in a minute.",
            code="payment-provider-unavailable",
            headers={"Retry-After": "30"},
        )
    if isinstance(exc, stripe.InvalidRequestError):
        return BadGateway(
            f"Stripe refused the request: {exc.user_message or 'invalid request'}",
            code="payment-provider-error",
        )
    return BadGateway("The payment provider failed; try again.", code="payment-provider-error")
