"""Payment schemas (API.md §8)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from campus.kit.schemas import Schema
from campus.models.payments import PaymentStatus

__all__ = [
    "CheckoutRead",
    "PaymentAdminRead",
    "PaymentRead",
    "PaymentStatus",
    "StripeEventIn",
    "WebhookAck",
]


class CheckoutRead(Schema):
    checkout_url: str = Field(description="Send the buyer here (Stripe Checkout).")
    session_id: str = Field(description="The Stripe Checkout Session id.")


class PaymentRead(Schema):
    id: int
    course_id: int
    amount_cents: int = Field(description="The price paid, in hundredths of `currency`.")
    currency: str
    status: PaymentStatus
    created_at: datetime


class PaymentAdminRead(PaymentRead):
    user_id: int
    checkout_session_id: str
    payment_intent_id: str | None
    updated_at: datetime
    paid_at: datetime | None
    refunded_at: datetime | None


class WebhookAck(Schema):
    received: bool = True
    outcome: str = Field(
        description=(
            "What the event did: `paid`, `failed`, `refunded`, `pending`, `duplicate` (an "
            "event already processed), `ignored` (a type Campus does not handle), `unchanged`, "
            "`unknown` (no such payment; logged) or `mismatch` (amount, currency or metadata "
            "differ from the payment; logged, nothing granted)."
        )
    )


class _StripeEventData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    object: dict[str, Any]


class StripeEventIn(BaseModel):
    """The part of a Stripe event (a signed webhook body) Campus reads; the rest is ignored."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=100)
    data: _StripeEventData
