"""Payments tests: the loopback Stripe, an app configured for it, buyers and courses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from campus.config import Settings
from campus.email import EmailMessage, MemoryBackend, wait_for_outgoing
from campus.http.deps import get_session
from campus.main import create_app
from campus.models.accounts import User, UserRole
from campus.models.courses import Course, Lesson
from campus.models.learning import Enrollment, EnrollmentStatus
from campus.models.payments import Payment
from tests.conftest import on_test_transaction
from tests.factories import auth_headers, create_course, create_user
from tests.payments.fakestripe import FakeStripe, running_fake_stripe

WEBHOOK = "/api/v1/payments/stripe/webhook"


@pytest.fixture(scope="session")
def fake_stripe() -> Iterator[FakeStripe]:
    with running_fake_stripe() as fake:
        yield fake


def stripe_settings_for(settings: Settings, fake: FakeStripe, **extra: Any) -> Settings:
    return settings.model_copy(
        update={
            "stripe_secret_key": fake.secret_key,
            "stripe_webhook_secret": fake.webhook_secret,
            "stripe_api_base": fake.url,
            **extra,
        }
    )


@pytest.fixture(scope="session")
def stripe_settings(settings: Settings, fake_stripe: FakeStripe) -> Settings:
    return stripe_settings_for(settings, fake_stripe)


@pytest.fixture(scope="session")
async def stripe_app(stripe_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(stripe_settings)
    yield app
    await app.state.stripe_gateway.aclose()


@pytest.fixture
async def pay_client(
    stripe_app: FastAPI, connection: AsyncConnection
) -> AsyncIterator[httpx.AsyncClient]:
    """The Stripe-configured app on the test's transaction."""
    transport = httpx.ASGITransport(app=on_test_transaction(stripe_app, connection))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        stripe_app.dependency_overrides.pop(get_session, None)


class Outbox:
    def __init__(self) -> None:
        self._start = len(MemoryBackend.outbox)

    async def messages(self, to: str | None = None) -> list[EmailMessage]:
        await wait_for_outgoing()
        sent = MemoryBackend.outbox[self._start :]
        return [m for m in sent if to is None or m.to == to]


@pytest.fixture
async def outbox() -> Outbox:
    await wait_for_outgoing()
    return Outbox()


@dataclass
class World:
    teacher: User
    student: User
    other: User
    admin: User
    course: Course  # paid, published, two lessons (none a preview)
    lessons: list[Lesson]
    free: Course
    draft: Course  # paid, unpublished
    h: dict[str, dict[str, str]]


async def make_world(session: AsyncSession, settings: Settings) -> World:
    teacher = await create_user(session, settings, role=UserRole.TEACHER, full_name="Tea Cher")
    student = await create_user(session, settings, full_name="Stu Dent")
    other = await create_user(session, settings, full_name="Oth Er")
    admin = await create_user(session, settings, role=UserRole.ADMIN)
    course = await create_course(
        session, teacher, title="Paid Python", price_cents=1999, currency="USD", lessons=2
    )
    lessons = list(
        (await session.scalars(select(Lesson).where(Lesson.course_id == course.id))).all()
    )
    free = await create_course(session, teacher, title="Free Intro", lessons=1)
    draft = await create_course(session, teacher, price_cents=500, is_published=False)
    h = {
        "teacher": await auth_headers(session, settings, teacher),
        "student": await auth_headers(session, settings, student),
        "other": await auth_headers(session, settings, other),
        "admin": await auth_headers(session, settings, admin),
    }
    return World(teacher, student, other, admin, course, lessons, free, draft, h)


@pytest.fixture
async def world(session: AsyncSession, settings: Settings) -> World:
    return await make_world(session, settings)


async def checkout(
    client: httpx.AsyncClient, course_id: int, headers: dict[str, str], **kw: Any
) -> httpx.Response:
    return await client.post(f"/api/v1/courses/{course_id}/checkout", headers=headers, **kw)


async def send(
    client: httpx.AsyncClient, fake: FakeStripe, event: dict[str, Any], **kw: Any
) -> httpx.Response:
    payload, headers = fake.signed(event, **kw)
    return await client.post(WEBHOOK, content=payload, headers=headers)


async def enrollment_status(
    session: AsyncSession, user_id: int, course_id: int
) -> EnrollmentStatus | None:
    return await session.scalar(
        select(Enrollment.status)
        .where(Enrollment.user_id == user_id, Enrollment.course_id == course_id)
        .execution_options(populate_existing=True)
    )


async def enrollment_rows(session: AsyncSession, user_id: int, course_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                Enrollment.user_id == user_id, Enrollment.course_id == course_id
            )
        )
        or 0
    )


async def payment_of(session: AsyncSession, session_id: str) -> Payment:
    found = await session.scalar(
        select(Payment)
        .where(Payment.checkout_session_id == session_id)
        .execution_options(populate_existing=True)
    )
    assert found is not None
    return found
