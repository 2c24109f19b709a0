"""API.md §7, notifications: created by enrollment and new lessons, listed, read — only
one's own."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from campus.models.learning import EnrollmentStatus
from campus.models.notifications import Notification
from campus.notifications import service as notifications
from tests.factories import auth_headers, create_course, create_user, enroll
from tests.sqlcount import count_statements

N = "/api/v1/notifications"


async def test_enrollment_notifies_the_teacher(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    student = await create_user(session, settings, full_name="Ada")
    course = await create_course(session, teacher, title="Rust")
    th = await auth_headers(session, settings, teacher)
    sh = await auth_headers(session, settings, student)
    assert (
        await client.post(f"/api/v1/courses/{course.id}/enrollment", headers=sh)
    ).status_code == 201
    # Enrolling again (200) notifies nobody a second time.
    assert (
        await client.post(f"/api/v1/courses/{course.id}/enrollment", headers=sh)
    ).status_code == 200
    listing = (await client.get(N, headers=th)).json()
    assert listing["total"] == 1
    item = listing["items"][0]
    assert item["kind"] == "course.student_joined"
    assert item["title"] == "Ada joined Rust"
    assert item["link"] == f"/courses/{course.id}"
    assert item["data"]["student_id"] == student.id
    assert item["is_read"] is False
    assert item["read_at"] is None
    # The student has none; their list is their own.
    assert (await client.get(N, headers=sh)).json()["total"] == 0


async def test_new_lesson_notifies_active_students_in_one_statement(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher, title="Go")
    students = [await create_user(session, settings) for _ in range(4)]
    for s in students[:3]:
        await enroll(session, s, course)
    await enroll(session, students[3], course, status=EnrollmentStatus.CANCELLED)
    th = await auth_headers(session, settings, teacher)
    made = await client.post(
        f"/api/v1/courses/{course.id}/lessons",
        json={"title": "Channels", "content": "text"},
        headers=th,
    )
    assert made.status_code == 201
    lesson_id = made.json()["id"]
    rows = (
        await session.execute(
            select(Notification.user_id, Notification.title, Notification.link).where(
                Notification.kind == "lesson.published"
            )
        )
    ).all()
    assert sorted(r[0] for r in rows) == sorted(s.id for s in students[:3])
    assert {r[1] for r in rows} == {"New lesson in Go: Channels"}
    assert {r[2] for r in rows} == {f"/courses/{course.id}/lessons/{lesson_id}"}


async def test_notify_course_students_is_one_statement(
    session: AsyncSession, settings: Settings, connection: AsyncConnection
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher)
    for _ in range(25):
        await enroll(session, await create_user(session, settings), course)
    with count_statements(connection) as counted:
        made = await notifications.notify_course_students(
            session,
            course_id=course.id,
            kind=notifications.LESSON_PUBLISHED,
            data={"course_title": "C", "lesson_title": "L"},
        )
    assert made == 25
    assert len(counted) == 1, counted.queries
    assert counted.queries[0].lstrip().upper().startswith("INSERT INTO NOTIFICATIONS")


async def test_a_draft_course_lesson_notifies_nobody(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher, is_published=False)
    await enroll(session, await create_user(session, settings), course)
    th = await auth_headers(session, settings, teacher)
    made = await client.post(
        f"/api/v1/courses/{course.id}/lessons", json={"title": "T", "content": "c"}, headers=th
    )
    assert made.status_code == 201
    count = select(func.count()).select_from(Notification)
    assert (await session.execute(count)).scalar_one() == 0


async def test_list_filter_read_one_read_all_and_count(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    other = await create_user(session, settings)
    ids = []
    for i in range(3):
        made = await notifications.notify(
            session,
            user_id=user.id,
            kind=notifications.TASK_DUE_SOON,
            data={"task_title": f"T{i}"},
            link="/tasks",
        )
        ids.append(made.id)
    theirs = await notifications.notify(
        session, user_id=other.id, kind="payment.succeeded", data={"course_title": "X"}
    )
    h = await auth_headers(session, settings, user)
    oh = await auth_headers(session, settings, other)
    assert (await client.get(f"{N}/unread-count", headers=h)).json() == {"unread_count": 3}
    listing = (await client.get(N, headers=h)).json()
    assert [n["title"] for n in listing["items"]] == [
        "Task due soon: T2",
        "Task due soon: T1",
        "Task due soon: T0",
    ]
    read = await client.post(f"{N}/{ids[0]}/read", headers=h)
    assert read.status_code == 200
    first_read_at = read.json()["read_at"]
    assert read.json()["is_read"] is True
    again = await client.post(f"{N}/{ids[0]}/read", headers=h)
    assert again.json()["read_at"] == first_read_at  # idempotent
    unread = (await client.get(N, params={"unread": "true"}, headers=h)).json()
    assert [n["id"] for n in unread["items"]] == [ids[2], ids[1]]
    read_only = (await client.get(N, params={"unread": "false"}, headers=h)).json()
    assert [n["id"] for n in read_only["items"]] == [ids[0]]
    # Another user's notification does not exist for you.
    assert (await client.post(f"{N}/{theirs.id}/read", headers=h)).status_code == 404
    assert (await client.post(f"{N}/{ids[1]}/read", headers=oh)).status_code == 404
    assert (await client.post(f"{N}/read-all", headers=h)).status_code == 204
    assert (await client.get(f"{N}/unread-count", headers=h)).json() == {"unread_count": 0}
    assert (await client.get(f"{N}/unread-count", headers=oh)).json() == {"unread_count": 1}


async def test_anonymous_and_bad_input(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    for method, path in (
        ("GET", N),
        ("GET", f"{N}/unread-count"),
        ("POST", f"{N}/read-all"),
        ("POST", f"{N}/1/read"),
    ):
        assert (await client.request(method, path)).status_code == 401
    h = await auth_headers(session, settings, await create_user(session, settings))
    assert (await client.get(N, params={"unread": "maybe"}, headers=h)).status_code == 422
    assert (await client.get(N, params={"limit": 0}, headers=h)).status_code == 422
    assert (await client.post(f"{N}/0/read", headers=h)).status_code == 422
    assert (await client.post(f"{N}/99999999999/read", headers=h)).status_code == 422


async def test_socket_ticket_needs_a_token(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    assert (await client.post("/api/v1/ws/ticket")).status_code == 401
    h = await auth_headers(session, settings, await create_user(session, settings))
    made = await client.post("/api/v1/ws/ticket", headers=h)
    assert made.status_code == 201
    body = made.json()
    assert body["expires_in"] == 60
    assert len(body["ticket"]) >= 40
    from campus.models.realtime import SocketTicket

    stored = (await session.execute(select(SocketTicket.token_hash))).scalars().all()
    assert body["ticket"] not in stored
    assert len(stored[0]) == 64


async def test_socket_tickets_are_rate_limited_per_ip(
    settings: Settings, connection: AsyncConnection, session: AsyncSession
) -> None:
    """The ticket endpoint shares CAMPUS_RATE_LIMIT_AUTH (API.md §9): then 429."""
    import httpx as _httpx

    from campus.main import create_app
    from tests.conftest import on_test_transaction

    limited = settings.model_copy(
        update={"rate_limits_enabled": True, "rate_limit_auth": "2/minute", "redis_url": None}
    )
    app = on_test_transaction(create_app(limited), connection)
    h = await auth_headers(session, settings, await create_user(session, settings))
    try:
        async with _httpx.AsyncClient(
            transport=_httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            for _ in range(2):
                assert (await client.post("/api/v1/ws/ticket", headers=h)).status_code == 201
            third = await client.post("/api/v1/ws/ticket", headers=h)
            assert third.status_code == 429
            assert int(third.headers["retry-after"]) >= 1
    finally:
        await app.state.database.dispose()
