from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from campus.db import Base
from campus.kit.types import UTCDateTime
from campus.models._columns import created_at_column, str_enum, updated_at_column


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"  # a Checkout Session was opened; no money yet
    PAID = "paid"  # Stripe confirmed the payment; the buyer is enrolled
    FAILED = "failed"  # an asynchronous payment method failed
    REFUNDED = "refunded"  # the charge was refunded; the enrollment ended


class Payment(Base):
    """One purchase of a course through a Stripe Checkout Session.

    The amount and currency are the course's price when the session was opened: a later
    price change does not change what this payment is checked against.
    """

    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_user_id_created_at", "user_id", "created_at"),
        Index("ix_payments_course_id_status", "course_id", "status"),
        Index("ix_payments_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[PaymentStatus] = mapped_column(
        str_enum(PaymentStatus, "payment_status"), default=PaymentStatus.PENDING
    )
    checkout_session_id: Mapped[str] = mapped_column(String(255), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    checkout_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class StripeEvent(Base):
    """A Stripe event that took effect: its id is unique, so a redelivery does nothing."""

    __tablename__ = "stripe_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = created_at_column()
