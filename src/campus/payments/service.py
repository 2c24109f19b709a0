"""Payments: buying a course through Stripe Checkout, and Stripe's webhook events.

The flow (API.md §8):

1. ``start_checkout`` opens a Checkout Session for the course's *current* price and records a
   ``pending`` payment holding that amount and currency.
2. Stripe sends signed events to the webhook. ``handle_webhook`` verifies the signature,
   records the event id (unique: a redelivery does nothing) and applies it to the payment,
   whose row is locked, so concurrent events for one payment apply one after the other:
   ``checkout.session.completed`` / ``checkout.session.async_payment_succeeded`` with the
   session paid -> ``paid`` and the buyer enrolled (through the learning service, once);
   ``checkout.session.async_payment_failed`` -> ``failed``; ``charge.refunded`` (in full) ->
   ``refunded``, the enrollment ends and its certificate (if any) is revoked. ``refunded``
   is final, so a refund that arrives before its completion still ends refunded, whatever
   the order of delivery.
3. The buyer is told the result by mail (after commit) and by an in-app notification
   (:func:`notify_payment_result`, ``campus.notifications``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from campus.certificates import service as certificate_service
from campus.config import Settings
from campus.courses import service as course_service
from campus.db import connection_released
from campus.email import render_email, send_after_commit
from campus.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from campus.kit.clock import utcnow
from campus.kit.i18n import N_, current_locale, format_money, supported, use_locale
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams, make_page_params
from campus.learning import service as learning_service
from campus.log import get_logger
from campus.models.accounts import User, UserRole
from campus.models.payments import Payment, PaymentStatus
from campus.notifications import service as notifications_service
from campus.payments import repository
from campus.payments.gateway import NOT_CONFIGURED, StripeGateway
from campus.payments.money import to_stripe_amount
from campus.payments.schemas import StripeEventIn

logger = get_logger("campus.payments")

SORTS = tuple(repository.SORTS)
# Stripe's tolerance for the age of a signed event (its libraries' default): older is stale.
SIGNATURE_TOLERANCE_SECONDS = 300
# A double click within this window gets the same Checkout Session (same Idempotency-Key).
CHECKOUT_WINDOW_SECONDS = 15 * 60
# A session stays payable for an hour after its window (Stripe allows 30 min .. 24 h).
CHECKOUT_LIFETIME_SECONDS = 60 * 60
SESSION_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
    }
)
REFUND_EVENTS = frozenset({"charge.refunded"})
HANDLED_EVENTS = SESSION_EVENTS | REFUND_EVENTS


def payments_configured(settings: Settings) -> bool:
    """Whether buying is possible on this server (a Stripe secret key is set)."""
    return settings.stripe_secret_key is not None


# --- checkout ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckoutResult:
    checkout_url: str
    session_id: str


def _idempotency_key(actor: User, params: dict[str, Any], scope: str) -> str:
    """One key for one buyer, the same parameters (course, price, currency, title, URLs)
    and one ``scope`` (the 15-minute window, or the client's own Idempotency-Key): a double
    click or a retry opens one session, and any change (a new price) is a new key, which
    Stripe requires (a key reused with other parameters is refused)."""
    fingerprint = json.dumps(params, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(f"{actor.id}|{scope}|{fingerprint}".encode()).hexdigest()
    return f"campus-checkout-{digest[:48]}"


async def start_checkout(
    session: AsyncSession,
    settings: Settings,
    gateway: StripeGateway | None,
    actor: User,
    *,
    course_id: int,
    idempotency_key: str | None = None,
) -> CheckoutResult:
    """Open a Stripe Checkout Session for ``course_id`` at its current price.

    404 for a course the actor cannot see (or a draft), 409 when it is free, already
    bought or the actor is enrolled or manages it, 503 when payments are not configured.
    """
    course = await course_service.get_course(session, actor, course_id=course_id)
    if not course.is_published:
        raise NotFound(N_("Course not found."))
    if course.price_cents <= 0:
        raise Conflict(
            f"This course is free: enroll with POST /api/v1/courses/{course.id}/enrollment.",
            code="course-is-free",
        )
    if course_service.can_manage(actor, course):
        raise Conflict(N_("You manage this course; there is nothing to buy."), code="own-course")
    if await learning_service.is_enrolled(session, user_id=actor.id, course_id=course.id):
        raise Conflict(N_("You are already enrolled in this course."), code="already-enrolled")
    if await has_paid_for(session, user_id=actor.id, course_id=course.id):
        raise Conflict(
            "You have bought this course already: enroll again with "
            f"POST /api/v1/courses/{course.id}/enrollment.",
            code="already-purchased",
        )
    if gateway is None:
        raise ServiceUnavailable(NOT_CONFIGURED, code="payments-not-configured")
    currency = course.currency.upper()
    amount = to_stripe_amount(course.price_cents, currency)
    if amount is None:
        raise Conflict(
            f"The price cannot be charged in {currency}, which has no fractional unit.",
            code="price-not-chargeable",
        )
    now = utcnow()
    window = int(now.timestamp()) // CHECKOUT_WINDOW_SECONDS
    # Deterministic within the window, so a repeated request sends the same parameters
    # (Stripe refuses a reused Idempotency-Key with other parameters).
    expires_at = (window + 1) * CHECKOUT_WINDOW_SECONDS + CHECKOUT_LIFETIME_SECONDS
    metadata = {"campus_user_id": str(actor.id), "campus_course_id": str(course.id)}
    base = settings.base_url
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency.lower(),
                    "unit_amount": amount,
                    "product_data": {"name": course.title[:250]},
                },
            }
        ],
        "client_reference_id": f"user-{actor.id}-course-{course.id}",
        "customer_email": actor.email,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "success_url": f"{base}/courses/{course.id}/purchase?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{base}/courses/{course.id}/purchase/cancelled",
        "expires_at": expires_at,
    }
    # Earlier attempts that ended (failed, refunded) change the key: their session is over,
    # so the buyer gets a new one. A pending one does not: a double click reuses it.
    ended = await repository.count_ended(session, user_id=actor.id, course_id=course.id)
    scope = f"client:{idempotency_key}" if idempotency_key else f"window:{window}:{ended}"
    key = _idempotency_key(actor, params, scope)
    # No connection (nor SQLite's write lock) is held while Stripe answers.
    async with connection_released(session):
        created = await gateway.create_checkout_session(params, idempotency_key=key)
    await repository.insert_payment_if_absent(
        session,
        user_id=actor.id,
        course_id=course.id,
        amount_cents=course.price_cents,
        currency=currency,
        checkout_session_id=created.id,
        checkout_url=created.url,
        now=now,
    )
    logger.info("checkout_started", course_id=course.id, user_id=actor.id, session_id=created.id)
    return CheckoutResult(checkout_url=created.url, session_id=created.id)


async def has_paid_for(session: AsyncSession, *, user_id: int, course_id: int) -> bool:
    """Whether the user holds a paid (not refunded) purchase of the course."""
    paid = await repository.count_with_status(
        session, user_id=user_id, course_id=course_id, status=PaymentStatus.PAID
    )
    return paid > 0


# --- the webhook ------------------------------------------------------------------------------


def _parse_event(payload: bytes, signature: str | None, secret: str) -> StripeEventIn:
    """Verify ``Stripe-Signature`` with the library, then read the event. 400 when either
    fails; nothing has been read from or written to the database yet."""
    if not signature:
        raise BadRequest("The Stripe-Signature header is missing.", code="invalid-signature")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The event is not UTF-8 JSON.", code="invalid-payload") from None
    try:
        stripe.WebhookSignature.verify_header(
            text, signature, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError:
        raise BadRequest(
            "The Stripe-Signature is malformed, stale, or does not match the payload.",
            code="invalid-signature",
        ) from None
    try:
        return StripeEventIn.model_validate_json(text)
    except ValidationError:
        raise BadRequest(
            "The event is not a Stripe event (JSON).", code="invalid-payload"
        ) from None


def _string_id(value: Any) -> str | None:
    """A Stripe id field: a string, or an expanded object carrying ``id``."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and 0 < len(value) <= 255 else None


async def handle_webhook(
    session: AsyncSession,
    settings: Settings,
    gateway: StripeGateway | None,
    *,
    payload: bytes,
    signature: str | None,
) -> str:
    """Apply one signed Stripe event; returns what it did (see ``WebhookAck.outcome``)."""
    secret = settings.stripe_webhook_secret
    if secret is None:
        raise ServiceUnavailable(
            "The Stripe webhook is not configured (CAMPUS_STRIPE_WEBHOOK_SECRET is not set).",
            code="payments-not-configured",
        )
    event = _parse_event(payload, signature, secret)
    log = logger.bind(event_id=event.id, event_type=event.type)
    if event.type not in HANDLED_EVENTS:
        log.info("stripe_event_ignored")
        return "ignored"
    obj = event.data.object
    session_ids: list[str] = []
    if event.type in REFUND_EVENTS:
        intent = _string_id(obj.get("payment_intent"))
        # A refund that arrives before its checkout completed names a payment intent Campus
        # has not seen yet: ask Stripe which Checkout Session it belongs to (before anything
        # is written, so no connection is held meanwhile).
        session_ids = await _sessions_of_unseen_intent(session, gateway, intent)
    if not await repository.record_event(
        session, event_id=event.id, type_=event.type, now=utcnow()
    ):
        log.info("stripe_event_duplicate")
        return "duplicate"
    if event.type in SESSION_EVENTS:
        return await _apply_session_event(session, settings, event.type, obj, log)
    return await _apply_refund(session, settings, obj, session_ids, log)


async def _sessions_of_unseen_intent(
    session: AsyncSession, gateway: StripeGateway | None, intent: str | None
) -> list[str]:
    if intent is None or gateway is None:
        return []
    if await repository.get_by_payment_intent(session, intent) is not None:
        return []
    async with connection_released(session):
        return await gateway.session_ids_for_payment_intent(intent)


def _metadata_matches(obj: dict[str, Any], payment: Payment) -> bool:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return True  # Campus's own record is the authority; Stripe always echoes metadata
    user = metadata.get("campus_user_id")
    course = metadata.get("campus_course_id")
    return (user is None or user == str(payment.user_id)) and (
        course is None or course == str(payment.course_id)
    )


def _amount_matches(obj: dict[str, Any], payment: Payment) -> bool:
    expected = to_stripe_amount(payment.amount_cents, payment.currency)
    currency = obj.get("currency")
    return (
        isinstance(currency, str)
        and currency.upper() == payment.currency
        and obj.get("amount_total") == expected
    )


async def _apply_session_event(
    session: AsyncSession, settings: Settings, event_type: str, obj: dict[str, Any], log: Any
) -> str:
    session_id = _string_id(obj.get("id"))
    payment = (
        await repository.get_by_session_id(session, session_id, lock=True) if session_id else None
    )
    if payment is None:
        log.warning("stripe_unknown_session", session_id=session_id)
        return "unknown"
    log = log.bind(payment_id=payment.id, session_id=session_id)
    if not _metadata_matches(obj, payment):
        log.error("stripe_metadata_mismatch", metadata=obj.get("metadata"))
        return "mismatch"
    intent = _string_id(obj.get("payment_intent"))
    if intent and payment.payment_intent_id is None:
        payment.payment_intent_id = intent
    if payment.status == PaymentStatus.REFUNDED:
        await session.flush()
        log.info("stripe_session_event_after_refund")
        return "unchanged"
    if event_type == "checkout.session.async_payment_failed":
        if payment.status != PaymentStatus.PENDING:
            return "unchanged"
        payment.status = PaymentStatus.FAILED
        await session.flush()
        log.info("payment_failed")
        await _tell_buyer(session, settings, payment, "failed")
        return "failed"
    # Stripe always sends payment_status; an event without one is judged by its amount.
    if obj.get("payment_status", "paid") != "paid":
        # Completed with a delayed payment method: the money follows in
        # async_payment_succeeded (or _failed), which may also have arrived first.
        await session.flush()
        if payment.status != PaymentStatus.PENDING:
            return "unchanged"
        log.info("payment_awaiting_funds", payment_status=obj.get("payment_status"))
        return "pending"
    if not _amount_matches(obj, payment):
        log.error(
            "stripe_amount_mismatch",
            expected_amount=to_stripe_amount(payment.amount_cents, payment.currency),
            expected_currency=payment.currency,
            amount_total=obj.get("amount_total"),
            currency=obj.get("currency"),
        )
        await session.flush()
        return "mismatch"
    if payment.status == PaymentStatus.PAID:
        await session.flush()
        return "unchanged"
    payment.status = PaymentStatus.PAID
    payment.paid_at = utcnow()
    await session.flush()
    await learning_service.enroll_paid(
        session, user_id=payment.user_id, course_id=payment.course_id
    )
    log.info("payment_paid", course_id=payment.course_id, user_id=payment.user_id)
    await _tell_buyer(session, settings, payment, "paid")
    return "paid"


def _fully_refunded(charge: dict[str, Any]) -> bool:
    """``refunded`` is Stripe's flag for a charge refunded in full; a partial refund also
    sends ``charge.refunded`` with ``refunded: false``."""
    if charge.get("refunded") is True:
        return True
    amount, refunded = charge.get("amount"), charge.get("amount_refunded")
    if isinstance(amount, int) and isinstance(refunded, int):
        return refunded >= amount
    return charge.get("refunded") is None  # nothing says it was partial


async def _apply_refund(
    session: AsyncSession,
    settings: Settings,
    charge: dict[str, Any],
    session_ids: list[str],
    log: Any,
) -> str:
    intent = _string_id(charge.get("payment_intent"))
    if intent is None:
        log.warning("stripe_refund_without_payment_intent", charge_id=charge.get("id"))
        return "unknown"
    log = log.bind(payment_intent=intent)
    payment = await repository.get_by_payment_intent(session, intent, lock=True)
    for session_id in session_ids:
        if payment is not None:
            break
        payment = await repository.get_by_session_id(session, session_id, lock=True)
        if payment is not None and payment.payment_intent_id is None:
            payment.payment_intent_id = intent
    if payment is None:
        log.warning("stripe_unknown_payment_intent")
        return "unknown"
    log = log.bind(payment_id=payment.id)
    if not _fully_refunded(charge):
        await session.flush()
        log.info("stripe_partial_refund", amount_refunded=charge.get("amount_refunded"))
        return "unchanged"
    if payment.status == PaymentStatus.REFUNDED:
        await session.flush()
        return "unchanged"
    was_paid = payment.status == PaymentStatus.PAID
    payment.status = PaymentStatus.REFUNDED
    payment.refunded_at = utcnow()
    await session.flush()
    still_bought = await has_paid_for(session, user_id=payment.user_id, course_id=payment.course_id)
    if was_paid and not still_bought:
        await learning_service.end_paid_enrollment(
            session, user_id=payment.user_id, course_id=payment.course_id
        )
        # A certificate earned in a refunded course no longer holds.
        await certificate_service.revoke_for_refund(
            session, user_id=payment.user_id, course_id=payment.course_id
        )
    log.info("payment_refunded", enrollment_ended=was_paid and not still_bought)
    await _tell_buyer(session, settings, payment, "refunded")
    return "refunded"


# --- telling the buyer ------------------------------------------------------------------------


PAYMENT_NOTIFICATION_KINDS = {
    "paid": notifications_service.PAYMENT_SUCCEEDED,
    "failed": notifications_service.PAYMENT_FAILED,
    "refunded": notifications_service.PAYMENT_REFUNDED,
}


async def notify_payment_result(
    session: AsyncSession, payment: Payment, result: str, *, course_title: str
) -> None:
    """The in-app notification of a payment result (API.md §7: "a payment result";
    ``result`` is ``paid``, ``failed`` or ``refunded``): stored in this unit of work and
    delivered live by the notifications domain after the commit. The mail is sent by
    :func:`_tell_buyer`."""
    await notifications_service.notify(
        session,
        user_id=payment.user_id,
        kind=PAYMENT_NOTIFICATION_KINDS[result],
        data={"course_title": course_title, "payment_id": payment.id},
        link=f"/courses/{payment.course_id}",
    )


async def _tell_buyer(
    session: AsyncSession, settings: Settings, payment: Payment, result: str
) -> None:
    found = await repository.buyer_and_course(
        session, user_id=payment.user_id, course_id=payment.course_id
    )
    if found is None:
        return
    email, full_name, title, locale = found
    message = render_email(
        f"payments/{result}",
        to=email,
        locale=locale,
        context={
            "full_name": full_name,
            "course_title": title,
            "amount": format_amount(payment.amount_cents, payment.currency, locale=locale),
            "course_link": f"{settings.base_url}/courses/{payment.course_id}",
            "payments_link": f"{settings.base_url}/account/payments",
            "base_url": settings.base_url,
        },
    )
    send_after_commit(session, settings, message)
    await notify_payment_result(session, payment, result, course_title=title)


def format_amount(cents: int, currency: str, *, locale: str | None = None) -> str:
    """``1999, "USD"`` -> ``"$19.99"`` in English, ``"19,99 $"`` in Russian (the buyer's
    ``locale``, else the one in progress; zero-decimal currencies without decimals)."""
    with use_locale(supported(locale) or current_locale()):
        return format_money(cents, currency)


# --- reading payments -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentFilters:
    user_id: int | None = None
    course_id: int | None = None
    status: PaymentStatus | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def _utc(value: datetime | None) -> datetime | None:
    """A time without an offset is read as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


async def list_my_payments(
    session: AsyncSession, actor: User, *, params: PageParams
) -> PageResult[Payment]:
    """The actor's own payments, every status."""
    return await repository.list_payments(session, params, user_id=actor.id)


async def list_payments(
    session: AsyncSession, actor: User, *, filters: PaymentFilters, params: PageParams
) -> PageResult[Payment]:
    """Every payment, for admins."""
    if actor.role != UserRole.ADMIN:
        raise Forbidden(N_("Only admins can list every payment."))
    after, before = _utc(filters.created_after), _utc(filters.created_before)
    if after is not None and before is not None and after > before:
        raise ValidationFailed.field(
            ["query", "created_after"], "created_after must not be later than created_before"
        )
    return await repository.list_payments(
        session,
        params,
        user_id=filters.user_id,
        course_id=filters.course_id,
        status=filters.status,
        created_after=after,
        created_before=before,
    )


async def get_my_payment_for_session(
    session: AsyncSession, actor: User, *, course_id: int, checkout_session_id: str
) -> tuple[Payment, bool]:
    """The actor's payment of a Checkout Session (the success page) and whether the actor is
    enrolled now; another user's session, or another course's, is a 404."""
    payment = await repository.get_for_user(
        session, user_id=actor.id, checkout_session_id=checkout_session_id[:255]
    )
    if payment is None or payment.course_id != course_id:
        raise NotFound(N_("No such purchase."))
    enrolled = await learning_service.is_enrolled(session, user_id=actor.id, course_id=course_id)
    return payment, enrolled


async def course_titles(session: AsyncSession, payments: list[Payment]) -> dict[int, str]:
    """The titles of the payments' courses (one query), for the purchases page."""
    return await repository.course_titles(session, {p.course_id for p in payments})


@dataclass(frozen=True, slots=True)
class Sales:
    currency: str
    count: int
    revenue_cents: int


async def sales_by_course(
    session: AsyncSession, actor: User, *, course_ids: list[int]
) -> dict[int, list[Sales]]:
    """Paid sales and revenue per course, per currency: a teacher's own courses, or any
    course for an admin (one query)."""
    if actor.role not in (UserRole.TEACHER, UserRole.ADMIN):
        raise Forbidden(N_("Only teachers and admins see sales."))
    teacher_id = None if actor.role == UserRole.ADMIN else actor.id
    rows = await repository.sales_by_course(session, course_ids, teacher_id=teacher_id)
    sales: dict[int, list[Sales]] = {}
    for course_id, currency, count, revenue in rows:
        sales.setdefault(course_id, []).append(Sales(currency, count, revenue))
    return sales


async def first_lesson_id(session: AsyncSession, actor: User, *, course_id: int) -> int | None:
    """The first lesson of the course (where the success page sends a new learner)."""
    params = make_page_params(
        skip=0, limit=1, sort="position", allowed=("position",), default="position"
    )
    try:
        page = await course_service.list_lessons(session, actor, course_id=course_id, page=params)
    except NotFound:
        return None
    return page.items[0].id if page.items else None
