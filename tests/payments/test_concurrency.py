"""Concurrent webhook deliveries against an app whose requests really commit (both DBs)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.config import Settings
from campus.main import create_app
from campus.models.learning import EnrollmentStatus
from campus.models.payments import PaymentStatus, StripeEvent
from tests.conftest import truncate_all
from tests.payments.conftest import (
    Outbox,
    World,
    checkout,
    enrollment_rows,
    enrollment_status,
    make_world,
    payment_of,
    send,
)
from tests.payments.fakestripe import FakeStripe


@pytest.fixture
async def committed(
    stripe_settings: Settings, engine: AsyncEngine
) -> AsyncIterator[tuple[httpx.AsyncClient, World]]:
    async with AsyncSession(engine, expire_on_commit=False) as setup:
        world = await make_world(setup, stripe_settings)
        await setup.commit()
    app = create_app(stripe_settings)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c, world
    finally:
        await app.state.stripe_gateway.aclose()
        await app.state.database.dispose()
        await truncate_all(engine)


async def test_five_concurrent_deliveries_enroll_once(
    committed: tuple[httpx.AsyncClient, World],
    fake_stripe: FakeStripe,
    engine: AsyncEngine,
    outbox: Outbox,
) -> None:
    client, world = committed
    r = await checkout(client, world.course.id, world.h["student"])
    sid = r.json()["session_id"]
    event = fake_stripe.complete(sid)
    responses = await asyncio.gather(*[send(client, fake_stripe, event) for _ in range(5)])
    assert [r.status_code for r in responses] == [200] * 5
    outcomes = sorted(r.json()["outcome"] for r in responses)
    assert outcomes == ["duplicate"] * 4 + ["paid"]
    async with AsyncSession(engine) as check:
        assert (await payment_of(check, sid)).status == PaymentStatus.PAID
        assert await enrollment_rows(check, world.student.id, world.course.id) == 1
        stored = await check.scalar(select(func.count()).select_from(StripeEvent))
        assert stored == 1
    assert len(await outbox.messages(world.student.email)) == 1


async def test_racing_completion_events_and_a_refund_end_refunded(
    committed: tuple[httpx.AsyncClient, World], fake_stripe: FakeStripe, engine: AsyncEngine
) -> None:
    """Different events for one payment, all at once: each takes effect once, one after the
    other (the payment row is locked), and the refund wins whatever the order."""
    client, world = committed
    sid = (await checkout(client, world.course.id, world.h["student"])).json()["session_id"]
    completed = fake_stripe.complete(sid)
    succeeded = fake_stripe.event(
        "checkout.session.async_payment_succeeded", fake_stripe.sessions[sid]
    )
    refunded = fake_stripe.charge_refunded(sid)
    deliveries = [completed, succeeded, completed, refunded, succeeded, refunded]
    responses = await asyncio.gather(*[send(client, fake_stripe, e) for e in deliveries])
    assert [r.status_code for r in responses] == [200] * 6
    outcomes = [r.json()["outcome"] for r in responses]
    assert outcomes.count("refunded") == 1
    assert outcomes.count("paid") <= 1
    async with AsyncSession(engine) as check:
        assert (await payment_of(check, sid)).status == PaymentStatus.REFUNDED
        assert await enrollment_rows(check, world.student.id, world.course.id) <= 1
        status = await enrollment_status(check, world.student.id, world.course.id)
        assert status in (None, EnrollmentStatus.CANCELLED)
        stored = await check.scalar(select(func.count()).select_from(StripeEvent))
        assert stored == 3


async def test_concurrent_double_clicks_make_one_session(
    committed: tuple[httpx.AsyncClient, World], fake_stripe: FakeStripe, engine: AsyncEngine
) -> None:
    client, world = committed
    before = len(fake_stripe.sessions)
    responses = await asyncio.gather(
        *[checkout(client, world.course.id, world.h["student"]) for _ in range(4)]
    )
    assert [r.status_code for r in responses] == [201] * 4
    assert len({r.json()["session_id"] for r in responses}) == 1
    assert len(fake_stripe.sessions) == before + 1
    async with AsyncSession(engine) as check:
        from campus.models.payments import Payment

        count = await check.scalar(select(func.count()).where(Payment.user_id == world.student.id))
    assert count == 1
