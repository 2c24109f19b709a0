"""API.md §8 webhook: signed events from the loopback Stripe take effect exactly once, in
any order; refunds end the enrollment; bad signatures and bad payloads change nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models.learning import EnrollmentStatus
from campus.models.payments import Payment, PaymentStatus, StripeEvent
from tests.payments.conftest import (
    WEBHOOK,
    Outbox,
    World,
    checkout,
    enrollment_rows,
    enrollment_status,
    payment_of,
    send,
)
from tests.payments.fakestripe import FakeStripe, sign


async def buy(client: httpx.AsyncClient, world: World, who: str = "student") -> str:
    r = await checkout(client, world.course.id, world.h[who])
    assert r.status_code == 201, r.text
    return str(r.json()["session_id"])


def lesson_url(world: World) -> str:
    return f"/api/v1/courses/{world.course.id}/lessons/{world.lessons[1].id}"


async def events_stored(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(StripeEvent)) or 0)


async def test_completed_checkout_pays_enrolls_and_tells_the_buyer(
    pay_client: httpx.AsyncClient,
    fake_stripe: FakeStripe,
    world: World,
    session: AsyncSession,
    outbox: Outbox,
) -> None:
    sid = await buy(pay_client, world)
    locked = await pay_client.get(lesson_url(world), headers=world.h["student"])
    assert locked.status_code == 403
    event = fake_stripe.complete(sid)
    r = await send(pay_client, fake_stripe, event)
    assert r.status_code == 200, r.text
    assert r.json() == {"received": True, "outcome": "paid"}
    payment = await payment_of(session, sid)
    assert payment.status == PaymentStatus.PAID
    assert payment.paid_at is not None
    assert payment.payment_intent_id == fake_stripe.sessions[sid]["payment_intent"]
    assert await enrollment_status(session, world.student.id, world.course.id) == (
        EnrollmentStatus.ACTIVE
    )
    lesson = await pay_client.get(lesson_url(world), headers=world.h["student"])
    assert lesson.status_code == 200
    assert lesson.json()["content"]
    mails = await outbox.messages(world.student.email)
    assert len(mails) == 1
    assert "Paid Python" in mails[0].subject
    assert "$19.99" in mails[0].text  # the buyer's locale's format (English here)
    # The enrollment endpoint now says "already enrolled" (200), not 402.
    again = await pay_client.post(
        f"/api/v1/courses/{world.course.id}/enrollment", headers=world.h["student"]
    )
    assert again.status_code == 200
    # And checkout refuses a second purchase.
    second = await checkout(pay_client, world.course.id, world.h["student"])
    assert second.status_code == 409
    assert second.json()["type"].endswith("/already-enrolled")


async def test_redelivery_takes_effect_once(
    pay_client: httpx.AsyncClient,
    fake_stripe: FakeStripe,
    world: World,
    session: AsyncSession,
    outbox: Outbox,
) -> None:
    sid = await buy(pay_client, world)
    event = fake_stripe.complete(sid)
    outcomes = [(await send(pay_client, fake_stripe, event)).json()["outcome"] for _ in range(4)]
    assert outcomes == ["paid", "duplicate", "duplicate", "duplicate"]
    assert await enrollment_rows(session, world.student.id, world.course.id) == 1
    assert await events_stored(session) == 1
    assert len(await outbox.messages(world.student.email)) == 1


async def test_every_completion_event_in_any_order_enrolls_once(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World, session: AsyncSession
) -> None:
    """A delayed payment method: completed (unpaid), then async_payment_succeeded; and the
    same two delivered the other way round."""
    for order in (("completed", "succeeded"), ("succeeded", "completed")):
        sid = await buy(pay_client, world)
        unpaid = fake_stripe.complete(sid, paid=False)
        succeeded = fake_stripe.event(
            "checkout.session.async_payment_succeeded", fake_stripe.mark_paid(sid)
        )
        by_name = {"completed": unpaid, "succeeded": succeeded}
        outcomes = [
            (await send(pay_client, fake_stripe, by_name[name])).json()["outcome"] for name in order
        ]
        expected = ["pending", "paid"] if order[0] == "completed" else ["paid", "unchanged"]
        assert outcomes == expected
        assert (await payment_of(session, sid)).status == PaymentStatus.PAID
        assert await enrollment_rows(session, world.student.id, world.course.id) == 1
        # Leave again so the second round can buy (checkout refuses enrolled buyers)...
        await pay_client.delete(
            f"/api/v1/courses/{world.course.id}/enrollment", headers=world.h["student"]
        )
        # ...and take the purchase out of the way, as a refund would.
        refund = fake_stripe.charge_refunded(sid)
        assert (await send(pay_client, fake_stripe, refund)).json()["outcome"] == "refunded"


async def test_async_payment_failed_fails_and_does_not_enroll(
    pay_client: httpx.AsyncClient,
    fake_stripe: FakeStripe,
    world: World,
    session: AsyncSession,
    outbox: Outbox,
) -> None:
    sid = await buy(pay_client, world)
    await send(pay_client, fake_stripe, fake_stripe.complete(sid, paid=False))
    failed = fake_stripe.event(
        "checkout.session.async_payment_failed", fake_stripe.sessions[sid] | {"status": "complete"}
    )
    r = await send(pay_client, fake_stripe, failed)
    assert r.json()["outcome"] == "failed"
    assert (await payment_of(session, sid)).status == PaymentStatus.FAILED
    assert await enrollment_status(session, world.student.id, world.course.id) is None
    mails = await outbox.messages(world.student.email)
    assert [m.subject for m in mails] == ["Your payment for Paid Python failed"]
    # A failed payment is no purchase: checkout opens a new session.
    retry = await checkout(pay_client, world.course.id, world.h["student"])
    assert retry.status_code == 201
    assert retry.json()["session_id"] != sid


async def test_refund_ends_the_enrollment_and_lesson_access(
    pay_client: httpx.AsyncClient,
    fake_stripe: FakeStripe,
    world: World,
    session: AsyncSession,
    outbox: Outbox,
) -> None:
    sid = await buy(pay_client, world)
    await send(pay_client, fake_stripe, fake_stripe.complete(sid))
    assert (await pay_client.get(lesson_url(world), headers=world.h["student"])).status_code == 200
    refund = fake_stripe.charge_refunded(sid)
    outcomes = [(await send(pay_client, fake_stripe, refund)).json()["outcome"] for _ in range(3)]
    assert outcomes == ["refunded", "duplicate", "duplicate"]
    payment = await payment_of(session, sid)
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.refunded_at is not None
    assert await enrollment_status(session, world.student.id, world.course.id) == (
        EnrollmentStatus.CANCELLED
    )
    locked = await pay_client.get(lesson_url(world), headers=world.h["student"])
    assert locked.status_code == 403
    assert locked.json()["type"].endswith("/enrollment-required")
    enroll = await pay_client.post(
        f"/api/v1/courses/{world.course.id}/enrollment", headers=world.h["student"]
    )
    assert enroll.status_code == 402  # refunded: pay again to come back
    # The completion redelivered after the refund changes nothing.
    late = await send(pay_client, fake_stripe, fake_stripe.complete(sid))
    assert late.json()["outcome"] == "unchanged"
    assert (await payment_of(session, sid)).status == PaymentStatus.REFUNDED
    assert await enrollment_status(session, world.student.id, world.course.id) == (
        EnrollmentStatus.CANCELLED
    )
    subjects = [m.subject for m in await outbox.messages(world.student.email)]
    assert subjects == ["Payment received: Paid Python", "Refund for Paid Python"]


async def test_a_refund_before_its_completion_still_ends_refunded(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World, session: AsyncSession
) -> None:
    sid = await buy(pay_client, world)
    fake_stripe.mark_paid(sid)  # paid at Stripe; the completion event is still on its way
    before = len(fake_stripe.requests)
    refund = await send(pay_client, fake_stripe, fake_stripe.charge_refunded(sid))
    assert refund.json()["outcome"] == "refunded"
    # Campus asked Stripe which session the unknown payment intent belongs to.
    lookup = fake_stripe.requests[before:]
    assert [(r.method, r.path) for r in lookup] == [("GET", "/v1/checkout/sessions")]
    assert lookup[0].form["payment_intent"] == fake_stripe.sessions[sid]["payment_intent"]
    completed = await send(pay_client, fake_stripe, fake_stripe.complete(sid))
    assert completed.json()["outcome"] == "unchanged"
    payment = await payment_of(session, sid)
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.payment_intent_id == fake_stripe.sessions[sid]["payment_intent"]
    assert await enrollment_status(session, world.student.id, world.course.id) is None


async def test_a_partial_refund_keeps_the_course(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World, session: AsyncSession
) -> None:
    sid = await buy(pay_client, world)
    await send(pay_client, fake_stripe, fake_stripe.complete(sid))
    partial = fake_stripe.charge_refunded(sid, amount_refunded=500)
    assert (await send(pay_client, fake_stripe, partial)).json()["outcome"] == "unchanged"
    assert (await payment_of(session, sid)).status == PaymentStatus.PAID
    assert await enrollment_status(session, world.student.id, world.course.id) == (
        EnrollmentStatus.ACTIVE
    )


async def test_a_buyer_who_left_comes_back_without_paying_again(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World, session: AsyncSession
) -> None:
    sid = await buy(pay_client, world)
    await send(pay_client, fake_stripe, fake_stripe.complete(sid))
    url = f"/api/v1/courses/{world.course.id}/enrollment"
    assert (await pay_client.delete(url, headers=world.h["student"])).status_code == 204
    again = await checkout(pay_client, world.course.id, world.h["student"])
    assert again.status_code == 409
    assert again.json()["type"].endswith("/already-purchased")
    back = await pay_client.post(url, headers=world.h["student"])
    assert back.status_code == 201
    assert await enrollment_rows(session, world.student.id, world.course.id) == 1


async def test_unknown_event_types_are_ignored(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, session: AsyncSession
) -> None:
    for type_ in ("customer.created", "payment_intent.succeeded", "charge.succeeded"):
        r = await send(pay_client, fake_stripe, fake_stripe.event(type_, {"id": "x"}))
        assert r.status_code == 200
        assert r.json()["outcome"] == "ignored"
    assert await events_stored(session) == 0


async def test_unknown_session_or_course_creates_nothing(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World, session: AsyncSession
) -> None:
    ghost = {
        "id": "cs_test_ghost",
        "object": "checkout.session",
        "amount_total": 1999,
        "currency": "usd",
        "payment_status": "paid",
        "status": "complete",
        "payment_intent": "pi_ghost",
        "metadata": {"campus_user_id": str(world.student.id), "campus_course_id": "999999"},
    }
    r = await send(pay_client, fake_stripe, fake_stripe.event("checkout.session.completed", ghost))
    assert r.status_code == 200
    assert r.json()["outcome"] == "unknown"
    charge = {"id": "ch_ghost", "object": "charge", "payment_intent": "pi_ghost", "refunded": True}
    r = await send(pay_client, fake_stripe, fake_stripe.event("charge.refunded", charge))
    assert r.json()["outcome"] == "unknown"
    assert await session.scalar(select(func.count()).select_from(Payment)) == 0
    assert await enrollment_rows(session, world.student.id, world.course.id) == 0
    # A real session whose metadata names another course is not trusted either.
    sid = await buy(pay_client, world)
    forged = fake_stripe.mark_paid(sid) | {
        "metadata": {"campus_user_id": str(world.student.id), "campus_course_id": "999999"}
    }
    r = await send(pay_client, fake_stripe, fake_stripe.event("checkout.session.completed", forged))
    assert r.json()["outcome"] == "mismatch"
    assert await enrollment_rows(session, world.student.id, world.course.id) == 0


@pytest.mark.parametrize(
    "change",
    [{"amount_total": 1}, {"currency": "eur"}, {"amount_total": None}, {"currency": None}],
)
async def test_amount_or_currency_mismatch_does_not_enroll(
    pay_client: httpx.AsyncClient,
    fake_stripe: FakeStripe,
    world: World,
    session: AsyncSession,
    change: dict[str, Any],
) -> None:
    sid = await buy(pay_client, world)
    obj = fake_stripe.mark_paid(sid) | change
    r = await send(pay_client, fake_stripe, fake_stripe.event("checkout.session.completed", obj))
    assert r.status_code == 200
    assert r.json()["outcome"] == "mismatch"
    assert (await payment_of(session, sid)).status == PaymentStatus.PENDING
    assert await enrollment_rows(session, world.student.id, world.course.id) == 0


async def test_bad_signatures_change_nothing(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World, session: AsyncSession
) -> None:
    sid = await buy(pay_client, world)
    payload = json.dumps(fake_stripe.complete(sid)).encode()
    now = int(time.time())
    good = sign(payload, fake_stripe.webhook_secret, now)
    attempts: list[dict[str, str]] = [
        {},  # missing
        {"Stripe-Signature": ""},
        {"Stripe-Signature": "garbage"},
        {"Stripe-Signature": "t=abc,v1=def"},
        {"Stripe-Signature": f"t={now}"},  # no v1
        {"Stripe-Signature": sign(payload, "whsec_wrong", now)},
        {"Stripe-Signature": sign(payload, fake_stripe.webhook_secret, now - 301)},  # stale
        {"Stripe-Signature": sign(payload + b" ", fake_stripe.webhook_secret, now)},
        {"Stripe-Signature": good.replace(f"t={now}", f"t={now + 1}")},  # replayed with new t
        {"Stripe-Signature": good.replace("v1=", "v0=")},
    ]
    for headers in attempts:
        r = await pay_client.post(WEBHOOK, content=payload, headers=headers)
        assert r.status_code == 400, (headers, r.text)
        assert r.json()["type"].endswith("/invalid-signature")
        assert "whsec" not in r.text
    assert await events_stored(session) == 0
    assert (await payment_of(session, sid)).status == PaymentStatus.PENDING
    # A signature within the tolerance works (the same payload, 290 s old).
    fresh = int(time.time()) - 290
    r = await pay_client.post(
        WEBHOOK,
        content=payload,
        headers={"Stripe-Signature": sign(payload, fake_stripe.webhook_secret, fresh)},
    )
    assert r.json()["outcome"] == "paid"


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"", b"[]", b'"event"', b'{"id": "evt_1"}', b'{"id": 1, "type": "x", '
     b'"data": {"object": {}}}', b"\xff\xfe", b'{"id": "evt_1", "type": "a", "data": []}'],
)  # fmt: skip
async def test_payloads_that_are_not_events_are_400(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, session: AsyncSession, payload: bytes
) -> None:
    headers = {"Stripe-Signature": sign(payload, fake_stripe.webhook_secret)}
    if payload == b"\xff\xfe":
        headers = {"Stripe-Signature": "t=1,v1=00"}
    r = await pay_client.post(WEBHOOK, content=payload, headers=headers)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert await events_stored(session) == 0


async def test_without_a_webhook_secret_the_webhook_is_503(
    client: httpx.AsyncClient, fake_stripe: FakeStripe
) -> None:
    r = await send(client, fake_stripe, fake_stripe.event("charge.refunded", {}))
    assert r.status_code == 503
    assert r.json()["type"].endswith("/payments-not-configured")


async def test_an_event_without_payment_status_is_judged_by_its_amount(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World, session: AsyncSession
) -> None:
    sid = await buy(pay_client, world)
    obj = {"id": sid, "object": "checkout.session", "amount_total": 1999, "currency": "usd"}
    r = await send(pay_client, fake_stripe, fake_stripe.event("checkout.session.completed", obj))
    assert r.json()["outcome"] == "paid"
    assert await enrollment_rows(session, world.student.id, world.course.id) == 1


async def test_the_buyer_is_notified_of_each_result_once(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World
) -> None:
    sid = await buy(pay_client, world)
    event = fake_stripe.complete(sid)
    for _ in range(3):
        await send(pay_client, fake_stripe, event)
    await send(pay_client, fake_stripe, fake_stripe.charge_refunded(sid))
    r = await pay_client.get("/api/v1/notifications", headers=world.h["student"])
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["kind"] for i in items] == ["payment.refunded", "payment.succeeded"]
    assert items[1]["title"] == "Payment received for Paid Python"
    assert items[1]["link"] == f"/courses/{world.course.id}"
    others = await pay_client.get("/api/v1/notifications", headers=world.h["other"])
    assert others.json()["total"] == 0
