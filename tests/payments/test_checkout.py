"""API.md §8 checkout, through the real ``stripe`` library against the loopback Stripe."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from campus.config import Settings
from campus.http.deps import get_session
from campus.main import create_app
from campus.models.learning import Enrollment
from campus.models.payments import Payment, PaymentStatus
from tests.conftest import on_test_transaction
from tests.payments.conftest import World, checkout, payment_of, stripe_settings_for
from tests.payments.fakestripe import FakeStripe


async def test_checkout_opens_a_session_for_the_course_price(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World, session: AsyncSession
) -> None:
    before = len(fake_stripe.requests)
    r = await checkout(pay_client, world.course.id, world.h["student"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"checkout_url", "session_id"}
    assert body["session_id"].startswith("cs_test_")
    assert body["checkout_url"] == f"{fake_stripe.url}/c/pay/{body['session_id']}"

    # What the library sent, as Stripe receives it.
    sent = fake_stripe.requests[before:]
    assert len(sent) == 1
    call = sent[0]
    assert call.headers["authorization"] == f"Bearer {fake_stripe.secret_key}"
    assert call.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert call.headers["idempotency-key"].startswith("campus-checkout-")
    assert "stripe-version" in call.headers
    form = call.form
    assert form["mode"] == "payment"
    item = form["line_items"][0]
    assert item["quantity"] == "1"
    assert item["price_data"] == {
        "currency": "usd",
        "unit_amount": "1999",
        "product_data": {"name": "Paid Python"},
    }
    assert form["client_reference_id"] == f"user-{world.student.id}-course-{world.course.id}"
    assert form["metadata"] == {
        "campus_user_id": str(world.student.id),
        "campus_course_id": str(world.course.id),
    }
    assert form["payment_intent_data"]["metadata"] == form["metadata"]
    assert form["customer_email"] == world.student.email
    assert form["success_url"] == (
        f"http://testserver/courses/{world.course.id}/purchase?session_id={{CHECKOUT_SESSION_ID}}"
    )
    assert form["cancel_url"] == f"http://testserver/courses/{world.course.id}/purchase/cancelled"

    payment = await payment_of(session, body["session_id"])
    assert payment.status == PaymentStatus.PENDING
    assert (payment.user_id, payment.course_id) == (world.student.id, world.course.id)
    assert (payment.amount_cents, payment.currency) == (1999, "USD")
    assert payment.payment_intent_id is None


async def test_a_double_click_makes_one_session(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World, session: AsyncSession
) -> None:
    before_sessions = len(fake_stripe.sessions)
    first = await checkout(pay_client, world.course.id, world.h["student"])
    second = await checkout(pay_client, world.course.id, world.h["student"])
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len(fake_stripe.sessions) == before_sessions + 1  # Stripe replayed the first
    keys = {r.headers["idempotency-key"] for r in fake_stripe.requests[-2:]}
    assert len(keys) == 1
    count = await session.scalar(select(func.count()).where(Payment.user_id == world.student.id))
    assert count == 1


async def test_a_client_idempotency_key_is_honoured(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World
) -> None:
    a1 = await checkout(
        pay_client, world.course.id, {**world.h["student"], "Idempotency-Key": "order-a"}
    )
    a2 = await checkout(
        pay_client, world.course.id, {**world.h["student"], "Idempotency-Key": "order-a"}
    )
    b = await checkout(
        pay_client, world.course.id, {**world.h["student"], "Idempotency-Key": "order-b"}
    )
    assert a1.status_code == a2.status_code == b.status_code == 201
    assert a1.json()["session_id"] == a2.json()["session_id"] != b.json()["session_id"]
    # Another buyer with the same key gets their own session (keys are per buyer).
    other = await checkout(
        pay_client, world.course.id, {**world.h["other"], "Idempotency-Key": "order-a"}
    )
    assert other.json()["session_id"] != a1.json()["session_id"]


async def test_a_changed_price_is_charged_at_the_new_price(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World, session: AsyncSession
) -> None:
    old = await checkout(pay_client, world.course.id, world.h["student"])
    r = await pay_client.patch(
        f"/api/v1/courses/{world.course.id}",
        json={"price_cents": 2500, "currency": "eur"},
        headers=world.h["teacher"],
    )
    assert r.status_code == 200, r.text
    new = await checkout(pay_client, world.course.id, world.h["student"])
    assert new.status_code == 201
    assert new.json()["session_id"] != old.json()["session_id"]
    assert fake_stripe.requests[-1].form["line_items"][0]["price_data"]["unit_amount"] == "2500"
    assert fake_stripe.requests[-1].form["line_items"][0]["price_data"]["currency"] == "eur"
    payment = await payment_of(session, new.json()["session_id"])
    assert (payment.amount_cents, payment.currency) == (2500, "EUR")
    kept = await payment_of(session, old.json()["session_id"])
    assert (kept.amount_cents, kept.currency) == (1999, "USD")


async def test_zero_decimal_currency_is_sent_in_whole_units(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World
) -> None:
    await pay_client.patch(
        f"/api/v1/courses/{world.course.id}",
        json={"price_cents": 150000, "currency": "JPY"},
        headers=world.h["teacher"],
    )
    r = await checkout(pay_client, world.course.id, world.h["student"])
    assert r.status_code == 201
    assert fake_stripe.requests[-1].form["line_items"][0]["price_data"]["unit_amount"] == "1500"
    await pay_client.patch(
        f"/api/v1/courses/{world.course.id}", json={"price_cents": 150050},
        headers=world.h["teacher"],
    )  # fmt: skip
    r = await checkout(pay_client, world.course.id, world.h["student"])
    assert r.status_code == 409
    assert r.json()["type"].endswith("/price-not-chargeable")


async def test_who_may_not_check_out(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World, session: AsyncSession
) -> None:
    before = len(fake_stripe.requests)
    anonymous = await checkout(pay_client, world.course.id, {})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    free = await checkout(pay_client, world.free.id, world.h["student"])
    assert free.status_code == 409
    assert free.json()["type"].endswith("/course-is-free")
    draft = await checkout(pay_client, world.draft.id, world.h["student"])
    assert draft.status_code == 404  # someone else's draft is invisible
    own_draft = await checkout(pay_client, world.draft.id, world.h["teacher"])
    assert own_draft.status_code == 404  # not for sale until published
    own = await checkout(pay_client, world.course.id, world.h["teacher"])
    assert own.status_code == 409
    assert own.json()["type"].endswith("/own-course")
    missing = await checkout(pay_client, 2**31 - 1, world.h["student"])
    assert missing.status_code == 404
    bad_id = await checkout(pay_client, 0, world.h["student"])
    assert bad_id.status_code == 422
    session.add(Enrollment(user_id=world.other.id, course_id=world.course.id))
    await session.flush()
    enrolled = await checkout(pay_client, world.course.id, world.h["other"])
    assert enrolled.status_code == 409
    assert enrolled.json()["type"].endswith("/already-enrolled")
    long_key = await checkout(
        pay_client, world.course.id, {**world.h["student"], "Idempotency-Key": "k" * 201}
    )
    assert long_key.status_code == 422
    assert len(fake_stripe.requests) == before  # none of these reached Stripe
    assert await session.scalar(select(func.count()).select_from(Payment)) == 0


async def test_without_a_secret_key_checkout_is_503(
    client: httpx.AsyncClient, world: World
) -> None:
    r = await checkout(client, world.course.id, world.h["student"])
    assert r.status_code == 503
    body = r.json()
    assert body["type"].endswith("/payments-not-configured")
    assert "CAMPUS_STRIPE_SECRET_KEY" in body["detail"]


@pytest.fixture
async def app_with(
    settings: Settings, fake_stripe: FakeStripe, connection: AsyncConnection
) -> object:
    apps: list[FastAPI] = []

    async def build(**extra: object) -> httpx.AsyncClient:
        app = create_app(stripe_settings_for(settings, fake_stripe, **extra))
        apps.append(app)
        transport = httpx.ASGITransport(app=on_test_transaction(app, connection))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    yield build
    for app in apps:
        app.dependency_overrides.pop(get_session, None)
        await app.state.stripe_gateway.aclose()


async def test_stripe_refusing_the_key_is_a_clear_503(
    app_with: object, world: World, session: AsyncSession
) -> None:
    async with await app_with(stripe_secret_key="sk_test_wrong") as c:  # type: ignore[operator]
        r = await checkout(c, world.course.id, world.h["student"])
    assert r.status_code == 503
    assert r.json()["type"].endswith("/payments-not-configured")
    assert "sk_test" not in r.text
    assert await session.scalar(select(func.count()).select_from(Payment)) == 0


async def test_stripe_failing_is_a_502_and_stores_nothing(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World, session: AsyncSession
) -> None:
    fake_stripe.fail_next = 10
    try:
        r = await checkout(pay_client, world.course.id, world.h["student"])
    finally:
        fake_stripe.fail_next = 0
    assert r.status_code == 502
    assert r.json()["type"].endswith("/payment-provider-error")
    assert await session.scalar(select(func.count()).select_from(Payment)) == 0


async def test_an_unreachable_stripe_is_a_503(
    app_with: object, world: World, fake_stripe: FakeStripe
) -> None:
    from tests.payments.fakestripe import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    async with await app_with(stripe_api_base=dead, stripe_timeout_seconds=2) as c:  # type: ignore[operator]
        r = await checkout(c, world.course.id, world.h["student"])
    assert r.status_code == 503
    assert r.json()["type"].endswith("/payment-provider-unavailable")
    assert r.headers["retry-after"] == "30"
