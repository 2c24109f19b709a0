"""§10 learning pages over HTTP: enroll, mark complete, the cabinet."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from tests.factories import DEFAULT_PASSWORD, create_course, create_lesson, create_user
from tests.pagehelpers import HTML, post_form, sign_in


async def test_enroll_complete_and_cabinet(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher, title="Enrollable")
    first = await create_lesson(session, course, position=1, title="First")
    second = await create_lesson(session, course, position=2, title="Second")
    anonymous = await client.post(f"/courses/{course.id}/enroll", headers=HTML)
    assert anonymous.status_code == 403  # no CSRF token: refused before anything else

    student = await create_user(session, settings)
    await sign_in(client, student.email, DEFAULT_PASSWORD)
    empty = await client.get("/cabinet", headers=HTML)
    assert "No courses yet" in empty.text
    enrolled = await post_form(client, f"/courses/{course.id}/enroll", {}, from_page="/")
    assert enrolled.status_code == 303
    page = await client.get(f"/courses/{course.id}", headers=HTML)
    assert "You are enrolled. Enjoy the course!" in page.text
    assert "0 of 2 lessons" in page.text
    again = await post_form(client, f"/courses/{course.id}/enroll", {}, from_page="/")
    assert again.status_code == 303

    lesson_url = f"/courses/{course.id}/lessons/{first.id}"
    done = await post_form(
        client,
        f"{lesson_url}/complete",
        {"next": f"/courses/{course.id}/lessons/{second.id}"},
        from_page=lesson_url,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/courses/{course.id}/lessons/{second.id}"
    cabinet = await client.get("/cabinet", headers=HTML)
    assert "Enrollable" in cabinet.text
    assert 'value="50"' in cabinet.text
    assert "1 of 2 lessons" in cabinet.text

    evil = await post_form(
        client, f"{lesson_url}/complete", {"next": "//evil.example/"}, from_page=lesson_url
    )
    assert evil.headers["location"] == lesson_url


async def test_cabinet_needs_sign_in_and_paid_course_is_explained(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    response = await client.get("/cabinet", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/cabinet"
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    paid = await create_course(session, teacher, price_cents=1000)
    student = await create_user(session, settings)
    await sign_in(client, student.email, DEFAULT_PASSWORD)
    buy = await post_form(client, f"/courses/{paid.id}/enroll", {}, from_page="/")
    assert buy.status_code == 303
    page = await client.get(f"/courses/{paid.id}", headers=HTML)
    assert "paid course" in page.text
    not_enrolled = await post_form(
        client, f"/courses/{paid.id}/lessons/1/complete", {}, from_page="/"
    )
    assert not_enrolled.status_code in (403, 404)
