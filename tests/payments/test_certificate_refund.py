"""A refund that ends the enrollment revokes the certificate earned in the course; a
partial refund does not; a refund before the certificate job runs means no certificate."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from campus.certificates import service as certificate_service
from campus.models.certificates import Certificate, CertificateStatus
from tests.payments.conftest import World, checkout, send
from tests.payments.fakestripe import FakeStripe


async def _buy_and_complete(client: httpx.AsyncClient, fake: FakeStripe, world: World) -> str:
    r = await checkout(client, world.course.id, world.h["student"])
    assert r.status_code == 201, r.text
    sid = str(r.json()["session_id"])
    assert (await send(client, fake, fake.complete(sid))).json()["outcome"] == "paid"
    for lesson in world.lessons:
        done = await client.put(
            f"/api/v1/courses/{world.course.id}/lessons/{lesson.id}/completion",
            headers=world.h["student"],
        )
        assert done.status_code == 200, done.text
    return sid


async def _issue(session: AsyncSession, world: World) -> Certificate | None:
    return await certificate_service.issue_certificate(
        session, user_id=world.student.id, course_id=world.course.id
    )


async def test_a_refund_revokes_the_certificate(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World, session: AsyncSession
) -> None:
    sid = await _buy_and_complete(pay_client, fake_stripe, world)
    cert = await _issue(session, world)
    assert cert is not None
    partial = await send(
        pay_client, fake_stripe, fake_stripe.charge_refunded(sid, amount_refunded=500)
    )
    assert partial.json()["outcome"] == "unchanged"
    await session.refresh(cert)
    assert cert.status == CertificateStatus.VALID
    r = await send(pay_client, fake_stripe, fake_stripe.charge_refunded(sid))
    assert r.json()["outcome"] == "refunded"
    await session.refresh(cert)
    assert cert.status == CertificateStatus.REVOKED
    assert cert.revoked_at is not None
    assert cert.revoked_reason == certificate_service.REFUND_REASON
    public = (await pay_client.get(f"/api/v1/certificates/{cert.code}")).json()
    assert public["status"] == "revoked"
    page = await pay_client.get(f"/certificates/{cert.code}")
    assert "Revoked" in page.text
    # Issuing again (a late job) gives nothing: one certificate, revoked.
    assert await _issue(session, world) is None


async def test_a_refund_before_the_job_runs_means_no_certificate(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World, session: AsyncSession
) -> None:
    sid = await _buy_and_complete(pay_client, fake_stripe, world)
    await send(pay_client, fake_stripe, fake_stripe.charge_refunded(sid))
    assert await _issue(session, world) is None
