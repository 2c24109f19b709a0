"""campus_enrollments_total and campus_lesson_completions_total: counted once per new
enrollment or completion, after the commit; repeats, refusals and rollbacks count nothing."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from tests.factories import auth_headers, create_course, create_user


async def reading(client: httpx.AsyncClient, name: str) -> float:
    response = await client.get("/metrics")
    assert response.status_code == 200
    match = re.search(rf"^{name} (\S+)$", response.text, re.MULTILINE)
    assert match is not None, f"{name} is not exported"
    return float(match.group(1))


async def test_enrollments_and_completions_are_counted_once(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    student = await create_user(session, settings)
    course = await create_course(session, teacher, lessons=2)
    paid = await create_course(session, teacher, price_cents=1000, lessons=1)
    headers = await auth_headers(session, settings, student)
    lessons = (await client.get(f"/api/v1/courses/{course.id}/lessons", headers=headers)).json()
    lesson_ids = [item["id"] for item in lessons["items"]]

    enrollments = await reading(client, "campus_enrollments_total")
    completions = await reading(client, "campus_lesson_completions_total")

    enroll = f"/api/v1/courses/{course.id}/enrollment"
    assert (await client.post(enroll, headers=headers)).status_code == 201
    assert await reading(client, "campus_enrollments_total") == enrollments + 1
    assert (await client.post(enroll, headers=headers)).status_code == 200  # already enrolled
    paid_response = await client.post(f"/api/v1/courses/{paid.id}/enrollment", headers=headers)
    assert paid_response.status_code == 402
    assert await reading(client, "campus_enrollments_total") == enrollments + 1

    done = f"/api/v1/courses/{course.id}/lessons/{lesson_ids[0]}/completion"
    assert (await client.put(done, headers=headers)).status_code == 200
    assert (await client.put(done, headers=headers)).status_code == 200  # idempotent
    assert await reading(client, "campus_lesson_completions_total") == completions + 1
    # Un-completing and completing again is a new completion.
    assert (await client.delete(done, headers=headers)).status_code in (200, 204)
    assert (await client.put(done, headers=headers)).status_code == 200
    assert await reading(client, "campus_lesson_completions_total") == completions + 2

    # Leaving and coming back is a new enrollment.
    assert (await client.delete(enroll, headers=headers)).status_code == 204
    assert (await client.post(enroll, headers=headers)).status_code == 201
    assert await reading(client, "campus_enrollments_total") == enrollments + 2

    # Someone who may not enroll (a draft: 404) counts nothing.
    draft = await create_course(session, teacher, is_published=False)
    assert (
        await client.post(f"/api/v1/courses/{draft.id}/enrollment", headers=headers)
    ).status_code == 404
    assert await reading(client, "campus_enrollments_total") == enrollments + 2
