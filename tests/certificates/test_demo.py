"""The demo data with certificates: nothing is issued for an unfinished course, the demo
student's cabinet and the published keys still work."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.certificates import service
from campus.demo import run_loaders
from campus.models.certificates import Certificate
from tests.pagehelpers import HTML, sign_in


async def test_the_demo_loads_and_its_pages_work(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    ctx = await run_loaders(session)
    student, course = ctx.objects["student"], ctx.objects["demo_course"]
    # The demo student is under way, not done: no certificate.
    assert await service.issue_certificate(session, user_id=student.id, course_id=course.id) is None
    assert await session.scalar(select(func.count()).select_from(Certificate)) == 0
    _, email, password = next(s for s in ctx.sign_ins if s[1] == student.email)
    await sign_in(client, email, password)
    cabinet = await client.get("/cabinet", headers=HTML)
    assert cabinet.status_code == 200
    assert "My certificates" in cabinet.text
    keys = await client.get("/.well-known/campus-certificates.json")
    assert keys.status_code == 200
    assert keys.json()["keys"][0]["crv"] == "Ed25519"
