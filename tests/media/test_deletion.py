"""Deleting a course deletes its files, after the commit (the ``media.purge`` job)."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.config import Settings
from campus.jobs import drain
from campus.media.storage import storage_for
from campus.models.accounts import UserRole
from campus.models.media import Media
from tests.factories import auth_headers, create_course, create_user
from tests.media.conftest import image_bytes, pdf_bytes, upload


async def test_deleting_a_course_deletes_its_files(
    committed_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        teacher = await create_user(session, settings, role=UserRole.TEACHER)
        course = await create_course(session, teacher)
        kept = await create_course(session, teacher)
        headers = await auth_headers(session, settings, teacher)
        await session.commit()
    keys: list[str] = []
    for data, name in ((image_bytes(), "a.png"), (pdf_bytes(), "b.pdf")):
        made = await committed_client.post(
            f"/api/v1/courses/{course.id}/media", headers=headers, **upload(data, name)
        )
        assert made.status_code == 201, made.text
        keys += [
            url.rsplit("/", 1)[1]
            for url in (made.json()["url"], made.json()["thumbnail_url"])
            if url
        ]
    other = await committed_client.post(
        f"/api/v1/courses/{kept.id}/media", headers=headers, **upload(image_bytes())
    )
    other_key = other.json()["url"].rsplit("/", 1)[1]
    storage = storage_for(settings)
    assert all([await storage.exists(key) for key in keys])

    deleted = await committed_client.delete(f"/api/v1/courses/{course.id}", headers=headers)
    assert deleted.status_code == 204
    await drain()
    assert not any([await storage.exists(key) for key in keys])
    assert await storage.exists(other_key)
    async with AsyncSession(engine) as session:
        rows = (await session.execute(select(func.count()).select_from(Media))).scalar_one()
    assert rows == 1
