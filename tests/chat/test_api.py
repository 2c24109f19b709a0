"""API.md §7, chat over REST: who may read and write a course's chat, and who may NOT."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.kit.clock import utcnow
from campus.models.accounts import User, UserRole
from campus.models.chat import ChatMessage
from campus.models.courses import Course
from campus.models.learning import EnrollmentStatus
from tests.factories import auth_headers, create_course, create_user, enroll


@dataclass
class World:
    teacher: User
    other_teacher: User
    admin: User
    student: User
    outsider: User
    left: User
    course: Course
    draft: Course
    h: dict[str, dict[str, str]]


@pytest.fixture
async def world(session: AsyncSession, settings: Settings) -> World:
    teacher = await create_user(session, settings, role=UserRole.TEACHER, full_name="Tea Cher")
    other_teacher = await create_user(session, settings, role=UserRole.TEACHER)
    admin = await create_user(session, settings, role=UserRole.ADMIN)
    student = await create_user(session, settings, full_name="Stu Dent")
    outsider = await create_user(session, settings)
    left = await create_user(session, settings)
    course = await create_course(session, teacher)
    draft = await create_course(session, teacher, is_published=False)
    await enroll(session, student, course)
    await enroll(session, left, course, status=EnrollmentStatus.CANCELLED)
    h = {
        name: await auth_headers(session, settings, user)
        for name, user in {
            "teacher": teacher,
            "other_teacher": other_teacher,
            "admin": admin,
            "student": student,
            "outsider": outsider,
            "left": left,
        }.items()
    }
    return World(teacher, other_teacher, admin, student, outsider, left, course, draft, h)


def url(course_id: int, rest: str = "") -> str:
    return f"/api/v1/courses/{course_id}/messages{rest}"


async def test_members_post_and_read_newest_first(client: httpx.AsyncClient, world: World) -> None:
    for who, text in (("student", "hello"), ("teacher", "welcome"), ("admin", "hi all")):
        response = await client.post(
            url(world.course.id), json={"body": text}, headers=world.h[who]
        )
        assert response.status_code == 201, response.text
    created = response.json()
    assert created["author"]["id"] == world.admin.id
    assert created["course_id"] == world.course.id
    assert created["edited_at"] is None
    page = await client.get(url(world.course.id), headers=world.h["student"])
    assert page.status_code == 200
    body = page.json()
    assert [m["body"] for m in body["items"]] == ["hi all", "welcome", "hello"]
    assert body["total"] == 3
    assert body["items"][2]["author"] == {"id": world.student.id, "full_name": "Stu Dent"}


async def test_load_older_with_the_keyset_cursor(client: httpx.AsyncClient, world: World) -> None:
    for i in range(5):
        await client.post(url(world.course.id), json={"body": f"m{i}"}, headers=world.h["student"])
    first = await client.get(url(world.course.id), params={"limit": 2}, headers=world.h["teacher"])
    data = first.json()
    assert [m["body"] for m in data["items"]] == ["m4", "m3"]
    assert 'rel="next"' in first.headers["link"]
    second = await client.get(
        url(world.course.id),
        params={"limit": 2, "cursor": data["next_cursor"]},
        headers=world.h["teacher"],
    )
    assert [m["body"] for m in second.json()["items"]] == ["m2", "m1"]
    bad = await client.get(
        url(world.course.id), params={"cursor": "forged.x"}, headers=world.h["teacher"]
    )
    assert bad.status_code == 422


@pytest.mark.parametrize("who", ["outsider", "left", "other_teacher"])
async def test_who_may_not_read_or_post(client: httpx.AsyncClient, world: World, who: str) -> None:
    """Not enrolled, left the course, or another teacher: 403, and nothing is stored."""
    listing = await client.get(url(world.course.id), headers=world.h[who])
    assert listing.status_code == 403
    assert listing.json()["type"].endswith("enrollment-required")
    post = await client.post(url(world.course.id), json={"body": "x"}, headers=world.h[who])
    assert post.status_code == 403


async def test_invisible_course_is_404_and_anonymous_401(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    assert (await client.get(url(world.draft.id), headers=world.h["student"])).status_code == 404
    assert (await client.get(url(999_999), headers=world.h["admin"])).status_code == 404
    post = await client.post(url(world.draft.id), json={"body": "x"}, headers=world.h["student"])
    assert post.status_code == 404
    # The draft's own teacher and admins take part in it.
    own = await client.post(url(world.draft.id), json={"body": "x"}, headers=world.h["teacher"])
    assert own.status_code == 201
    assert (await client.get(url(world.course.id))).status_code == 401
    assert (await client.post(url(world.course.id), json={"body": "x"})).status_code == 401
    count = select(func.count()).select_from(ChatMessage)
    assert (await session.execute(count)).scalar_one() == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"body": ""},
        {"body": "   \n "},
        {"body": "x" * 4001},
        {"body": "nul\x00here"},
        {"body": 5},
        {},
        {"body": "ok", "extra": 1},
    ],
)
async def test_bad_bodies_are_422(
    client: httpx.AsyncClient, world: World, payload: dict[str, object]
) -> None:
    response = await client.post(url(world.course.id), json=payload, headers=world.h["student"])
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_longest_body_is_accepted(client: httpx.AsyncClient, world: World) -> None:
    body = "я" * 4000
    response = await client.post(
        url(world.course.id), json={"body": body}, headers=world.h["student"]
    )
    assert response.status_code == 201
    assert response.json()["body"] == body


async def test_author_edits_and_deletes_within_the_window(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    posted = await client.post(
        url(world.course.id), json={"body": "tpyo"}, headers=world.h["student"]
    )
    mid = posted.json()["id"]
    edited = await client.patch(
        url(world.course.id, f"/{mid}"), json={"body": "typo"}, headers=world.h["student"]
    )
    assert edited.status_code == 200
    assert edited.json()["body"] == "typo"
    assert edited.json()["edited_at"] is not None
    # Nobody edits someone else's words, not even the teacher or an admin.
    for who in ("teacher", "admin", "outsider"):
        other = await client.patch(
            url(world.course.id, f"/{mid}"), json={"body": "mine"}, headers=world.h[who]
        )
        assert other.status_code == 403, who
    # After the window the author can do neither.
    await session.execute(
        update(ChatMessage)
        .where(ChatMessage.id == mid)
        .values(created_at=utcnow() - timedelta(minutes=16))
    )
    late = await client.patch(
        url(world.course.id, f"/{mid}"), json={"body": "late"}, headers=world.h["student"]
    )
    assert late.status_code == 403
    assert late.json()["type"].endswith("edit-window-closed")
    gone = await client.delete(url(world.course.id, f"/{mid}"), headers=world.h["student"])
    assert gone.status_code == 403


async def test_moderators_delete_any_message(client: httpx.AsyncClient, world: World) -> None:
    ids = []
    for _ in range(3):
        posted = await client.post(
            url(world.course.id), json={"body": "x"}, headers=world.h["student"]
        )
        ids.append(posted.json()["id"])
    outsider = await client.delete(url(world.course.id, f"/{ids[0]}"), headers=world.h["outsider"])
    assert outsider.status_code == 403
    other_teacher = await client.delete(
        url(world.course.id, f"/{ids[0]}"), headers=world.h["other_teacher"]
    )
    assert other_teacher.status_code == 403
    assert (
        await client.delete(url(world.course.id, f"/{ids[0]}"), headers=world.h["teacher"])
    ).status_code == 204
    assert (
        await client.delete(url(world.course.id, f"/{ids[1]}"), headers=world.h["admin"])
    ).status_code == 204
    assert (
        await client.delete(url(world.course.id, f"/{ids[2]}"), headers=world.h["student"])
    ).status_code == 204
    again = await client.delete(url(world.course.id, f"/{ids[2]}"), headers=world.h["teacher"])
    assert again.status_code == 404
    listing = await client.get(url(world.course.id), headers=world.h["teacher"])
    assert listing.json()["total"] == 0


async def test_a_message_of_another_course_is_404(
    client: httpx.AsyncClient, world: World, session: AsyncSession, settings: Settings
) -> None:
    second = await create_course(session, world.teacher)
    await enroll(session, world.student, second)
    posted = await client.post(url(second.id), json={"body": "x"}, headers=world.h["student"])
    mid = posted.json()["id"]
    wrong = await client.delete(url(world.course.id, f"/{mid}"), headers=world.h["teacher"])
    assert wrong.status_code == 404


async def test_deleting_the_course_removes_its_chat(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    await client.post(url(world.course.id), json={"body": "x"}, headers=world.h["student"])
    deleted = await client.delete(f"/api/v1/courses/{world.course.id}", headers=world.h["teacher"])
    assert deleted.status_code == 204
    left = (
        select(func.count())
        .select_from(ChatMessage)
        .where(ChatMessage.course_id == world.course.id)
    )
    assert (await session.execute(left)).scalar_one() == 0


async def test_deleting_the_author_keeps_the_message(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    await client.post(url(world.course.id), json={"body": "kept"}, headers=world.h["student"])
    gone = await client.delete(f"/api/v1/users/{world.student.id}", headers=world.h["admin"])
    assert gone.status_code == 204
    listing = await client.get(url(world.course.id), headers=world.h["teacher"])
    item = listing.json()["items"][0]
    assert item["body"] == "kept"
    assert item["author"] is None
