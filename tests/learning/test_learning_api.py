"""API.md §5: enrollment, completion, progress, students — with who may NOT."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.config import Settings
from campus.models.accounts import User, UserRole
from campus.models.courses import Course, Lesson
from campus.models.learning import Enrollment, LessonCompletion
from tests.factories import auth_headers, create_user


async def make_course(
    session: AsyncSession,
    teacher: User,
    *,
    lessons: int = 3,
    published: bool = True,
    price_cents: int = 0,
    preview_first: bool = False,
) -> tuple[Course, list[Lesson]]:
    course = Course(
        slug=f"course-{uuid.uuid4().hex[:10]}",
        title="Course",
        description="About",
        price_cents=price_cents,
        is_published=published,
        teacher_id=teacher.id,
    )
    session.add(course)
    await session.flush()
    items = [
        Lesson(
            course_id=course.id,
            title=f"L{i}",
            content=f"Lesson {i}",
            position=i,
            is_preview=preview_first and i == 1,
        )
        for i in range(1, lessons + 1)
    ]
    session.add_all(items)
    await session.flush()
    return course, items


@pytest.fixture
async def world(session: AsyncSession, settings: Settings) -> dict[str, object]:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    other_teacher = await create_user(session, settings, role=UserRole.TEACHER)
    admin = await create_user(session, settings, role=UserRole.ADMIN)
    student = await create_user(session, settings)
    other = await create_user(session, settings)
    course, lessons = await make_course(session, teacher)
    return {
        "teacher": teacher,
        "other_teacher": other_teacher,
        "admin": admin,
        "student": student,
        "other": other,
        "course": course,
        "lessons": lessons,
        "h": {
            name: await auth_headers(session, settings, user)  # type: ignore[arg-type]
            for name, user in (
                ("teacher", teacher),
                ("other_teacher", other_teacher),
                ("admin", admin),
                ("student", student),
                ("other", other),
            )
        },
    }


def url(course: Course, suffix: str = "") -> str:
    return f"/api/v1/courses/{course.id}{suffix}"


async def test_enroll_is_201_then_200(client: httpx.AsyncClient, world: dict) -> None:
    course, h = world["course"], world["h"]
    first = await client.post(url(course, "/enrollment"), headers=h["student"])
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["course_id"] == course.id
    assert body["user_id"] == world["student"].id
    assert body["status"] == "active"
    second = await client.post(url(course, "/enrollment"), headers=h["student"])
    assert second.status_code == 200
    assert second.json()["id"] == body["id"]


async def test_enroll_requires_sign_in(client: httpx.AsyncClient, world: dict) -> None:
    assert (await client.post(url(world["course"], "/enrollment"))).status_code == 401


async def test_enroll_draft_is_404(
    client: httpx.AsyncClient, session: AsyncSession, world: dict
) -> None:
    draft, _ = await make_course(session, world["teacher"], published=False)
    for who in ("student", "teacher", "admin"):
        response = await client.post(url(draft, "/enrollment"), headers=world["h"][who])
        assert response.status_code == 404, who


async def test_enroll_unknown_course_is_404(client: httpx.AsyncClient, world: dict) -> None:
    response = await client.post("/api/v1/courses/999999/enrollment", headers=world["h"]["student"])
    assert response.status_code == 404
    bad = await client.post("/api/v1/courses/abc/enrollment", headers=world["h"]["student"])
    assert bad.status_code == 422


async def test_paid_course_is_402_pointing_to_checkout(
    client: httpx.AsyncClient, session: AsyncSession, world: dict
) -> None:
    paid, _ = await make_course(session, world["teacher"], price_cents=4900)
    response = await client.post(url(paid, "/enrollment"), headers=world["h"]["student"])
    assert response.status_code == 402
    body = response.json()
    assert body["type"].endswith("payment-required")
    assert body["checkout"] == f"/api/v1/courses/{paid.id}/checkout"
    assert "checkout" in body["detail"]
    count = await session.scalar(select(func.count()).where(Enrollment.course_id == paid.id))
    assert count == 0


async def test_unenroll(client: httpx.AsyncClient, world: dict) -> None:
    course, h = world["course"], world["h"]
    assert (
        await client.delete(url(course, "/enrollment"), headers=h["student"])
    ).status_code == 404
    await client.post(url(course, "/enrollment"), headers=h["student"])
    assert (
        await client.delete(url(course, "/enrollment"), headers=h["student"])
    ).status_code == 204
    # no longer enrolled: progress is refused, enrolling again is a fresh 201
    assert (await client.get(url(course, "/progress"), headers=h["student"])).status_code == 403
    again = await client.post(url(course, "/enrollment"), headers=h["student"])
    assert again.status_code == 201
    assert (await client.delete(url(course, "/enrollment"))).status_code == 401


async def test_completion_and_progress_arithmetic(
    client: httpx.AsyncClient, session: AsyncSession, world: dict
) -> None:
    course, lessons, h = world["course"], world["lessons"], world["h"]["student"]
    await client.post(url(course, "/enrollment"), headers=h)
    progress = (await client.get(url(course, "/progress"), headers=h)).json()
    assert progress == {
        "completed_lessons": 0,
        "total_lessons": 3,
        "percent": 0,
        "completed_at": None,
        "quiz_score": None,
        "quizzes_passed": 0,
        "quizzes_total": 0,
    }
    done = await client.put(url(course, f"/lessons/{lessons[0].id}/completion"), headers=h)
    assert done.status_code == 200
    assert done.json()["completed_lessons"] == 1
    assert done.json()["percent"] == 33
    again = await client.put(url(course, f"/lessons/{lessons[0].id}/completion"), headers=h)
    assert again.json()["completed_lessons"] == 1  # idempotent
    for lesson in lessons[1:]:
        last = await client.put(url(course, f"/lessons/{lesson.id}/completion"), headers=h)
    finished = last.json()
    assert finished["percent"] == 100
    assert finished["completed_at"] is not None
    # un-completing clears the course's completion
    undone = await client.delete(url(course, f"/lessons/{lessons[1].id}/completion"), headers=h)
    assert undone.status_code == 200
    assert undone.json()["completed_lessons"] == 2
    assert undone.json()["completed_at"] is None
    undone_again = await client.delete(
        url(course, f"/lessons/{lessons[1].id}/completion"), headers=h
    )
    assert undone_again.json()["completed_lessons"] == 2  # idempotent
    # a new lesson keeps the course open; deleting it brings completion back
    await client.put(url(course, f"/lessons/{lessons[1].id}/completion"), headers=h)
    extra = Lesson(course_id=course.id, title="Extra", content="x", position=4)
    session.add(extra)
    await session.flush()
    opened = (await client.get(url(course, "/progress"), headers=h)).json()
    assert (opened["completed_lessons"], opened["total_lessons"]) == (3, 4)
    assert opened["percent"] == 75
    assert opened["completed_at"] is None
    await session.delete(extra)
    await session.flush()
    closed = (await client.get(url(course, "/progress"), headers=h)).json()
    assert (closed["completed_lessons"], closed["total_lessons"], closed["percent"]) == (3, 3, 100)
    assert closed["completed_at"] is not None


async def test_deleting_a_lesson_removes_its_completions(
    client: httpx.AsyncClient, session: AsyncSession, world: dict
) -> None:
    course, lessons, h = world["course"], world["lessons"], world["h"]["student"]
    await client.post(url(course, "/enrollment"), headers=h)
    await client.put(url(course, f"/lessons/{lessons[2].id}/completion"), headers=h)
    await session.delete(lessons[2])
    await session.flush()
    count = await session.scalar(
        select(func.count()).where(LessonCompletion.lesson_id == lessons[2].id)
    )
    assert count == 0
    progress = (await client.get(url(course, "/progress"), headers=h)).json()
    assert (progress["completed_lessons"], progress["total_lessons"]) == (0, 2)


async def test_completion_needs_enrollment(client: httpx.AsyncClient, world: dict) -> None:
    course, lessons, h = world["course"], world["lessons"], world["h"]
    for who in ("student", "teacher", "admin"):
        response = await client.put(
            url(course, f"/lessons/{lessons[0].id}/completion"), headers=h[who]
        )
        assert response.status_code == 403, who
        assert response.json()["type"].endswith("enrollment-required")
    anonymous = await client.put(url(course, f"/lessons/{lessons[0].id}/completion"))
    assert anonymous.status_code == 401
    assert (await client.get(url(course, "/progress"), headers=h["other"])).status_code == 403


async def test_lesson_of_another_course_is_404(
    client: httpx.AsyncClient, session: AsyncSession, world: dict
) -> None:
    course, h = world["course"], world["h"]["student"]
    other_course, other_lessons = await make_course(session, world["teacher"])
    await client.post(url(course, "/enrollment"), headers=h)
    await client.post(url(other_course, "/enrollment"), headers=h)
    response = await client.put(
        url(course, f"/lessons/{other_lessons[0].id}/completion"), headers=h
    )
    assert response.status_code == 404
    missing = await client.put(url(course, "/lessons/999999/completion"), headers=h)
    assert missing.status_code == 404


async def test_students_list(client: httpx.AsyncClient, world: dict) -> None:
    course, lessons, h = world["course"], world["lessons"], world["h"]
    await client.post(url(course, "/enrollment"), headers=h["student"])
    await client.post(url(course, "/enrollment"), headers=h["other"])
    await client.put(url(course, f"/lessons/{lessons[0].id}/completion"), headers=h["student"])
    for who in ("teacher", "admin"):
        response = await client.get(url(course, "/students"), headers=h[who])
        assert response.status_code == 200, who
        page = response.json()
        assert page["total"] == 2
        assert set(page) == {"items", "total", "page", "page_size", "pages"}
        by_id = {item["user"]["id"]: item for item in page["items"]}
        assert by_id[world["student"].id]["progress"]["completed_lessons"] == 1
        assert by_id[world["other"].id]["progress"]["completed_lessons"] == 0
        assert "password" not in response.text
    for who in ("student", "other_teacher"):
        assert (await client.get(url(course, "/students"), headers=h[who])).status_code == 403
    assert (await client.get(url(course, "/students"))).status_code == 401
    sorted_page = await client.get(
        url(course, "/students"), params={"sort": "enrolled_at", "limit": 1}, headers=h["teacher"]
    )
    assert sorted_page.json()["items"][0]["user"]["id"] == world["student"].id
    assert sorted_page.json()["pages"] == 2
    bad = await client.get(url(course, "/students"), params={"sort": "email"}, headers=h["teacher"])
    assert bad.status_code == 422


async def test_students_of_an_invisible_draft_is_404(
    client: httpx.AsyncClient, session: AsyncSession, world: dict
) -> None:
    draft, _ = await make_course(session, world["teacher"], published=False)
    response = await client.get(url(draft, "/students"), headers=world["h"]["other_teacher"])
    assert response.status_code == 404


async def test_concurrent_enrollments_make_one_row(
    committed_client: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    async with AsyncSession(engine, expire_on_commit=False) as setup:
        teacher = await create_user(setup, settings, role=UserRole.TEACHER)
        student = await create_user(setup, settings)
        course, _ = await make_course(setup, teacher)
        headers = await auth_headers(setup, settings, student)
        await setup.commit()
    responses = await asyncio.gather(
        *[committed_client.post(url(course, "/enrollment"), headers=headers) for _ in range(20)]
    )
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1, codes
    assert codes.count(200) == 19, codes
    async with AsyncSession(engine) as check:
        count = await check.scalar(
            select(func.count()).where(
                Enrollment.course_id == course.id, Enrollment.user_id == student.id
            )
        )
    assert count == 1


async def test_concurrent_completions_make_one_row(
    committed_client: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    async with AsyncSession(engine, expire_on_commit=False) as setup:
        teacher = await create_user(setup, settings, role=UserRole.TEACHER)
        student = await create_user(setup, settings)
        course, lessons = await make_course(setup, teacher)
        setup.add(Enrollment(user_id=student.id, course_id=course.id))
        headers = await auth_headers(setup, settings, student)
        await setup.commit()
    path = url(course, f"/lessons/{lessons[0].id}/completion")
    responses = await asyncio.gather(
        *[committed_client.put(path, headers=headers) for _ in range(10)]
    )
    assert {r.status_code for r in responses} == {200}
    async with AsyncSession(engine) as check:
        count = await check.scalar(
            select(func.count()).where(LessonCompletion.lesson_id == lessons[0].id)
        )
    assert count == 1


async def test_cabinet_matches_a_hand_count(
    client: httpx.AsyncClient, session: AsyncSession, world: dict
) -> None:
    h = world["h"]["student"]
    course, lessons = world["course"], world["lessons"]
    second, second_lessons = await make_course(session, world["other_teacher"], lessons=4)
    await client.post(url(course, "/enrollment"), headers=h)
    await client.post(url(second, "/enrollment"), headers=h)
    await client.post(url(course, "/enrollment"), headers=world["h"]["other"])
    for lesson in lessons:
        await client.put(url(course, f"/lessons/{lesson.id}/completion"), headers=h)
    await client.put(url(second, f"/lessons/{second_lessons[0].id}/completion"), headers=h)
    response = await client.get("/api/v1/me/courses", headers=h)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 2
    by_id = {item["course"]["id"]: item for item in page["items"]}
    first = by_id[course.id]
    assert first["progress"]["completed_lessons"] == 3
    assert first["progress"]["percent"] == 100
    assert first["progress"]["completed_at"] is not None
    assert first["course"]["students_count"] == 2
    assert first["course"]["lessons_count"] == 3
    assert first["course"]["teacher"]["id"] == world["teacher"].id
    other = by_id[second.id]
    assert (other["progress"]["completed_lessons"], other["progress"]["total_lessons"]) == (1, 4)
    assert other["progress"]["percent"] == 25
    assert other["enrolled_at"]
    # newest enrollment first by default; title sort and paging work
    assert [item["course"]["id"] for item in page["items"]] == [second.id, course.id]
    one = (await client.get("/api/v1/me/courses", params={"limit": 1}, headers=h)).json()
    assert (one["total"], one["pages"], len(one["items"])) == (2, 2, 1)
    # leaving a course removes it from the cabinet; other users see only their own
    await client.delete(url(second, "/enrollment"), headers=h)
    assert (await client.get("/api/v1/me/courses", headers=h)).json()["total"] == 1
    others = (await client.get("/api/v1/me/courses", headers=world["h"]["other"])).json()
    assert [item["course"]["id"] for item in others["items"]] == [course.id]
    assert (await client.get("/api/v1/me/courses")).status_code == 401


async def test_cabinet_statement_count_does_not_grow(
    client: httpx.AsyncClient, session: AsyncSession, engine: AsyncEngine, world: dict
) -> None:
    from tests.sqlcount import count_statements

    student = world["student"]
    for _ in range(6):
        course, _ = await make_course(session, world["teacher"], lessons=2)
        session.add(Enrollment(user_id=student.id, course_id=course.id))
    await session.flush()
    counts = []
    for limit in (2, 6):
        with count_statements(engine) as log:
            response = await client.get(
                "/api/v1/me/courses", params={"limit": limit}, headers=world["h"]["student"]
            )
        assert len(response.json()["items"]) == limit
        counts.append(len(log))
    assert counts[0] == counts[1]
