"""API.md §4, lessons: listing, access to content, and position arithmetic."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from campus.models.learning import Enrollment, EnrollmentStatus, LessonCompletion
from tests.courses.conftest import Actor
from tests.factories import auth_headers, create_course, create_lesson, create_user, enroll

API = "/api/v1/courses"


async def titles(client: httpx.AsyncClient, course_id: int, headers: dict[str, str]) -> list[str]:
    body = (
        await client.get(f"{API}/{course_id}/lessons", params={"limit": 100}, headers=headers)
    ).json()
    positions = [item["position"] for item in body["items"]]
    assert positions == list(range(1, len(positions) + 1)), positions
    return [item["title"] for item in body["items"]]


async def course_with(session: AsyncSession, teacher: Actor, n: int, **kw: object) -> int:
    course = await create_course(session, teacher.user, **kw)
    for position in range(1, n + 1):
        await create_lesson(session, course, position=position, title=f"L{position}")
    return course.id


# --- list and get -----------------------------------------------------------------------


async def test_list_is_ordered_and_has_no_content(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user)
    for position in (3, 1, 2):
        await create_lesson(session, course, position=position, title=f"L{position}")
    response = await client.get(f"{API}/{course.id}/lessons")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 3
    assert [i["title"] for i in body["items"]] == ["L1", "L2", "L3"]
    assert all("content" not in item for item in body["items"])
    assert set(body["items"][0]) == {
        "id", "course_id", "title", "summary", "position", "duration_minutes", "is_preview",
        "created_at", "updated_at",
    }  # fmt: skip
    paged = (await client.get(f"{API}/{course.id}/lessons", params={"limit": 2, "skip": 2})).json()
    assert [i["title"] for i in paged["items"]] == ["L3"]
    assert (
        await client.get(f"{API}/{course.id}/lessons", params={"sort": "title"})
    ).status_code == 422


async def test_lessons_of_a_draft_are_invisible(
    client: httpx.AsyncClient,
    session: AsyncSession,
    teacher: Actor,
    other_teacher: Actor,
    student: Actor,
    admin: Actor,
) -> None:
    course_id = await course_with(session, teacher, 2, is_published=False)
    url = f"{API}/{course_id}/lessons"
    for headers in ({}, student.headers, other_teacher.headers):
        assert (await client.get(url, headers=headers)).status_code == 404
    for headers in (teacher.headers, admin.headers):
        assert (await client.get(url, headers=headers)).status_code == 200
    assert (await client.get(f"{API}/999999/lessons")).status_code == 404


async def test_access_to_content(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    teacher: Actor,
    other_teacher: Actor,
    student: Actor,
    admin: Actor,
) -> None:
    course = await create_course(session, teacher.user)
    locked = await create_lesson(session, course, position=1, content="secret text")
    preview = await create_lesson(session, course, position=2, is_preview=True)
    enrolled_user = await create_user(session, settings)
    await enroll(session, enrolled_user, course)
    enrolled = await auth_headers(session, settings, enrolled_user)
    cancelled_user = await create_user(session, settings)
    await enroll(session, cancelled_user, course, status=EnrollmentStatus.CANCELLED)
    cancelled = await auth_headers(session, settings, cancelled_user)

    url = f"{API}/{course.id}/lessons/{locked.id}"
    anonymous = await client.get(url)
    assert anonymous.status_code == 401
    assert "secret" not in anonymous.text
    for headers in (student.headers, other_teacher.headers, cancelled):
        denied = await client.get(url, headers=headers)
        assert denied.status_code == 403
        assert denied.json()["type"].endswith("enrollment-required")
        assert "secret" not in denied.text
    for headers in (teacher.headers, admin.headers, enrolled):
        allowed = await client.get(url, headers=headers)
        assert allowed.status_code == 200
        assert allowed.json()["content"] == "secret text"
    assert (await client.get(f"{API}/{course.id}/lessons/{preview.id}")).status_code == 200


async def test_lesson_of_another_course_is_404(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    one = await create_course(session, teacher.user)
    two = await create_course(session, teacher.user)
    lesson = await create_lesson(session, two, position=1, is_preview=True)
    url = f"{API}/{one.id}/lessons/{lesson.id}"
    assert (await client.get(url, headers=teacher.headers)).status_code == 404
    assert (
        await client.patch(url, json={"title": "X"}, headers=teacher.headers)
    ).status_code == 404
    put = {"title": "X"}
    assert (await client.put(url, json=put, headers=teacher.headers)).status_code == 404
    assert (await client.delete(url, headers=teacher.headers)).status_code == 404
    assert (await client.get(f"{API}/{one.id}/lessons/999999")).status_code == 404


async def test_preview_of_a_draft_is_still_invisible(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor, student: Actor
) -> None:
    course = await create_course(session, teacher.user, is_published=False)
    lesson = await create_lesson(session, course, position=1, is_preview=True)
    url = f"{API}/{course.id}/lessons/{lesson.id}"
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers=student.headers)).status_code == 404


# --- create -----------------------------------------------------------------------------


async def test_create_appends_and_inserts(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    course_id = await course_with(session, teacher, 3)
    url = f"{API}/{course_id}/lessons"
    h = teacher.headers

    appended = await client.post(
        url,
        json={"title": "End", "content": "# End", "summary": "s", "duration_minutes": 5},
        headers=h,
    )
    assert appended.status_code == 201, appended.text
    body = appended.json()
    assert (body["position"], body["content"], body["course_id"]) == (4, "# End", course_id)
    assert body["is_preview"] is False

    assert (await client.post(url, json={"title": "First", "position": 1}, headers=h)).json()[
        "position"
    ] == 1
    assert await titles(client, course_id, h) == ["First", "L1", "L2", "L3", "End"]
    await client.post(url, json={"title": "Mid", "position": 3}, headers=h)
    assert await titles(client, course_id, h) == ["First", "L1", "Mid", "L2", "L3", "End"]
    last = await client.post(url, json={"title": "Last", "position": 7}, headers=h)
    assert last.json()["position"] == 7
    assert await titles(client, course_id, h) == ["First", "L1", "Mid", "L2", "L3", "End", "Last"]

    course = (await client.get(f"{API}/{course_id}", headers=h)).json()
    assert course["lessons_count"] == 7


async def test_first_lesson_of_an_empty_course(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    course_id = await course_with(session, teacher, 0)
    url = f"{API}/{course_id}/lessons"
    assert (
        await client.post(url, json={"title": "A", "position": 2}, headers=teacher.headers)
    ).status_code == 422
    assert (
        await client.post(url, json={"title": "A", "position": 1}, headers=teacher.headers)
    ).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"title": "X", "position": 0},
        {"title": "X", "position": -1},
        {"title": "X", "position": 5},
        {"title": "X", "position": 2**31},
        {"title": " "},
        {"title": "x" * 201},
        {"content": "no title"},
        {"title": "X", "content": "x" * 200_001},
        {"title": "X", "summary": "x" * 501},
        {"title": "X", "duration_minutes": -1},
        {"title": "X", "duration_minutes": 2**40},
        {"title": "X", "is_preview": "sometimes"},
        {"title": "X", "course_id": 3},
    ],
)
async def test_create_validation(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor, body: dict[str, object]
) -> None:
    course_id = await course_with(session, teacher, 3)
    response = await client.post(f"{API}/{course_id}/lessons", json=body, headers=teacher.headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"]
    assert await titles(client, course_id, teacher.headers) == ["L1", "L2", "L3"]


async def test_who_may_not_write_lessons(
    client: httpx.AsyncClient,
    session: AsyncSession,
    teacher: Actor,
    other_teacher: Actor,
    student: Actor,
    admin: Actor,
) -> None:
    for published, expected in ((True, 403), (False, 404)):
        course_id = await course_with(session, teacher, 2, is_published=published)
        lesson_id = (
            await client.get(f"{API}/{course_id}/lessons", headers=teacher.headers)
        ).json()["items"][0]["id"]
        coll, item = f"{API}/{course_id}/lessons", f"{API}/{course_id}/lessons/{lesson_id}"
        for who in (other_teacher, student):
            h = who.headers
            assert (await client.post(coll, json={"title": "X"}, headers=h)).status_code == expected
            assert (await client.put(item, json={"title": "X"}, headers=h)).status_code == expected
            assert (
                await client.patch(item, json={"title": "X"}, headers=h)
            ).status_code == expected
            assert (await client.delete(item, headers=h)).status_code == expected
        assert (await client.post(coll, json={"title": "X"})).status_code == 401
        assert (await client.put(item, json={"title": "X"})).status_code == 401
        assert (await client.patch(item, json={"title": "X"})).status_code == 401
        assert (await client.delete(item)).status_code == 401
        assert await titles(client, course_id, teacher.headers) == ["L1", "L2"]
        by_admin = await client.post(coll, json={"title": "A"}, headers=admin.headers)
        assert by_admin.status_code == 201


async def test_adding_a_lesson_reopens_finished_enrollments(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor, student: Actor
) -> None:
    course = await create_course(session, teacher.user)
    lesson = await create_lesson(session, course, position=1)
    await enroll(session, student.user, course)
    session.add(LessonCompletion(user_id=student.user.id, lesson_id=lesson.id, course_id=course.id))
    await session.flush()
    progress_url = f"{API}/{course.id}/progress"
    done = (await client.get(progress_url, headers=student.headers)).json()
    assert done["completed_at"] is not None
    response = await client.post(
        f"{API}/{course.id}/lessons", json={"title": "More"}, headers=teacher.headers
    )
    assert response.status_code == 201
    reopened = (await client.get(progress_url, headers=student.headers)).json()
    assert reopened["completed_at"] is None
    assert (reopened["completed_lessons"], reopened["total_lessons"]) == (1, 2)


# --- move -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        (1, 5, ["L2", "L3", "L4", "L5", "L1"]),  # first -> last
        (5, 1, ["L5", "L1", "L2", "L3", "L4"]),  # last -> first
        (2, 4, ["L1", "L3", "L4", "L2", "L5"]),  # middle down
        (4, 2, ["L1", "L4", "L2", "L3", "L5"]),  # middle up
        (3, 3, ["L1", "L2", "L3", "L4", "L5"]),  # stays
        (1, 2, ["L2", "L1", "L3", "L4", "L5"]),  # neighbours
    ],
)
async def test_move(
    client: httpx.AsyncClient,
    session: AsyncSession,
    teacher: Actor,
    source: int,
    target: int,
    expected: list[str],
) -> None:
    course_id = await course_with(session, teacher, 5)
    items = (await client.get(f"{API}/{course_id}/lessons", headers=teacher.headers)).json()[
        "items"
    ]
    lesson_id = items[source - 1]["id"]
    response = await client.patch(
        f"{API}/{course_id}/lessons/{lesson_id}", json={"position": target}, headers=teacher.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["position"] == target
    assert response.json()["title"] == f"L{source}"
    assert await titles(client, course_id, teacher.headers) == expected


async def test_put_keeps_or_moves_position(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    course_id = await course_with(session, teacher, 3)
    items = (await client.get(f"{API}/{course_id}/lessons", headers=teacher.headers)).json()[
        "items"
    ]
    url = f"{API}/{course_id}/lessons/{items[1]['id']}"
    kept = await client.put(url, json={"title": "Two", "content": "new"}, headers=teacher.headers)
    assert kept.status_code == 200
    assert (kept.json()["position"], kept.json()["content"]) == (2, "new")
    moved = await client.put(url, json={"title": "Two", "position": 3}, headers=teacher.headers)
    assert moved.json()["position"] == 3
    assert moved.json()["content"] == ""  # PUT replaces: absent content is reset
    assert await titles(client, course_id, teacher.headers) == ["L1", "L3", "Two"]
    assert (
        await client.put(url, json={"content": "x"}, headers=teacher.headers)
    ).status_code == 422


@pytest.mark.parametrize("body", [{"position": 4}, {"position": 0}, {"title": None}, {"x": 1}])
async def test_bad_updates(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor, body: dict[str, object]
) -> None:
    course_id = await course_with(session, teacher, 3)
    items = (await client.get(f"{API}/{course_id}/lessons", headers=teacher.headers)).json()[
        "items"
    ]
    url = f"{API}/{course_id}/lessons/{items[0]['id']}"
    assert (await client.patch(url, json=body, headers=teacher.headers)).status_code == 422
    assert await titles(client, course_id, teacher.headers) == ["L1", "L2", "L3"]


async def test_patch_clears_nullable_fields(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user)
    lesson = await create_lesson(session, course, position=1, summary="s", duration_minutes=3)
    response = await client.patch(
        f"{API}/{course.id}/lessons/{lesson.id}",
        json={"summary": None, "duration_minutes": None, "is_preview": True},
        headers=teacher.headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["summary"], body["duration_minutes"], body["is_preview"]) == (None, None, True)
    assert body["title"] == "Lesson 1"


# --- delete -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "expected"),
    [(0, ["L2", "L3", "L4"]), (1, ["L1", "L3", "L4"]), (3, ["L1", "L2", "L3"])],
)
async def test_delete_closes_the_gap(
    client: httpx.AsyncClient,
    session: AsyncSession,
    teacher: Actor,
    student: Actor,
    index: int,
    expected: list[str],
) -> None:
    course_id = await course_with(session, teacher, 4)
    items = (await client.get(f"{API}/{course_id}/lessons", headers=teacher.headers)).json()[
        "items"
    ]
    lesson_id = items[index]["id"]
    session.add(Enrollment(user_id=student.id, course_id=course_id))
    session.add(LessonCompletion(user_id=student.id, lesson_id=lesson_id, course_id=course_id))
    await session.flush()

    url = f"{API}/{course_id}/lessons/{lesson_id}"
    response = await client.delete(url, headers=teacher.headers)
    assert response.status_code == 204
    assert await titles(client, course_id, teacher.headers) == expected
    assert (await client.get(url, headers=teacher.headers)).status_code == 404
    completions = await session.scalar(
        select(func.count())
        .select_from(LessonCompletion)
        .where(LessonCompletion.lesson_id == lesson_id)
    )
    assert completions == 0
    assert (await client.delete(url, headers=teacher.headers)).status_code == 404


# --- concurrency ------------------------------------------------------------------------


async def test_concurrent_inserts_keep_positions_unique(
    committed_client: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    """Eight inserts into one course at once (appends and inserts at the front) all land,
    with positions 1..n and no duplicates, on SQLite (serialised writers) and PostgreSQL
    (the course row locked FOR UPDATE)."""
    client = committed_client
    async with AsyncSession(engine, expire_on_commit=False) as session:
        owner = await create_user(session, settings, role=UserRole.TEACHER)
        course = await create_course(session, owner)
        await create_lesson(session, course, position=1, title="Seed")
        headers = await auth_headers(session, settings, owner)
        course_id = course.id
        await session.commit()

    url = f"{API}/{course_id}/lessons"
    bodies = [{"title": f"Append {i}"} for i in range(4)] + [
        {"title": f"Front {i}", "position": 1} for i in range(4)
    ]
    responses = await asyncio.gather(*(client.post(url, json=b, headers=headers) for b in bodies))
    assert [r.status_code for r in responses] == [201] * len(bodies), [r.text for r in responses]
    listed = await titles(client, course_id, headers)
    assert sorted(listed) == sorted(["Seed", *(b["title"] for b in bodies)])
    positions = [r.json()["position"] for r in responses]
    assert len(positions) == len(bodies)
