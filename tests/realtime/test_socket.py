"""The WebSocket of API.md §7 against a real `campus serve` process and the real
`websockets` client: tickets, Origin, frames, bad input, floods, who may NOT, and
sockets closing when their session ends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from campus.accounts.service import sessions as accounts_sessions
from campus.config import Settings
from campus.models.accounts import User, UserRole
from campus.models.chat import ChatMessage
from tests.conftest import truncate_all
from tests.factories import create_course, create_user, enroll
from tests.realtime.liveserver import Served, campus_serve

WAIT = 5.0


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Served]:
    with campus_serve(
        settings, {"CAMPUS_WS_FRAME_BURST": "20", "CAMPUS_WS_FRAMES_PER_SECOND": "5"}
    ) as served:
        yield served


@pytest.fixture(scope="module")
async def cleanup(engine: AsyncEngine) -> AsyncIterator[None]:
    yield
    await truncate_all(engine)


@pytest.fixture
async def db(engine: AsyncEngine, cleanup: None) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session


@dataclass
class Member:
    user: User
    headers: dict[str, str]
    refresh: str


async def member(db: AsyncSession, settings: Settings, **kw: Any) -> Member:
    user = await create_user(db, settings, **kw)
    tokens = await accounts_sessions.start_session(db, settings, user)
    await db.commit()
    return Member(user, {"Authorization": f"Bearer {tokens.access_token}"}, tokens.refresh_token)


async def ticket(server: Served, who: Member) -> str:
    async with httpx.AsyncClient(base_url=server.url) as client:
        made = await client.post("/api/v1/ws/ticket", headers=who.headers)
    assert made.status_code == 201, made.text
    return str(made.json()["ticket"])


async def open_socket(server: Served, who: Member, **kw: Any) -> ClientConnection:
    return await connect(f"{server.ws_url}?ticket={await ticket(server, who)}", **kw)


async def frame(ws: ClientConnection) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    return data


async def send(ws: ClientConnection, **payload: Any) -> None:
    await ws.send(json.dumps(payload))


async def quiet(ws: ClientConnection) -> list[dict[str, Any]]:
    """Everything the socket receives before the answer to a ping (frames are ordered)."""
    await send(ws, type="ping")
    seen = []
    while True:
        got = await frame(ws)
        if got["type"] == "pong":
            return seen
        seen.append(got)


@dataclass
class Course3:
    course_id: int
    teacher: Member
    student: Member
    outsider: Member


@pytest.fixture
async def world(db: AsyncSession, settings: Settings) -> Course3:
    teacher = await member(db, settings, role=UserRole.TEACHER, full_name="Tea")
    student = await member(db, settings, full_name="Stu")
    outsider = await member(db, settings, full_name="Out")
    course = await create_course(db, teacher.user)
    await enroll(db, student.user, course)
    await db.commit()
    return Course3(course.id, teacher, student, outsider)


async def test_chat_between_two_sockets_and_from_rest(
    server: Served, world: Course3, db: AsyncSession
) -> None:
    async with (
        await open_socket(server, world.student) as a,
        await open_socket(server, world.teacher) as b,
    ):
        for ws in (a, b):
            await send(ws, type="subscribe", course_id=world.course_id)
            assert await frame(ws) == {"type": "subscribed", "course_id": world.course_id}
        await send(a, type="chat.send", course_id=world.course_id, body="hello from a")
        for ws in (a, b):
            got = await frame(ws)
            assert got["type"] == "chat.message"
            assert got["message"]["body"] == "hello from a"
            assert got["message"]["author"] == {"id": world.student.user.id, "full_name": "Stu"}
        async with httpx.AsyncClient(base_url=server.url) as client:
            posted = await client.post(
                f"/api/v1/courses/{world.course_id}/messages",
                json={"body": "via rest"},
                headers=world.teacher.headers,
            )
        assert posted.status_code == 201
        for ws in (a, b):
            got = await frame(ws)
            assert got["message"]["id"] == posted.json()["id"]
    stored = (
        select(func.count())
        .select_from(ChatMessage)
        .where(ChatMessage.course_id == world.course_id)
    )
    assert (await db.execute(stored)).scalar_one() == 2


async def test_forbidden_subscribe_gets_an_error_and_never_a_message(
    server: Served, world: Course3, db: AsyncSession, settings: Settings
) -> None:
    draft = await create_course(db, world.teacher.user, is_published=False)
    await db.commit()
    async with await open_socket(server, world.outsider) as ws:
        await send(ws, type="subscribe", course_id=world.course_id)
        got = await frame(ws)
        assert got["type"] == "error"
        assert got["code"] == "enrollment-required"
        await send(ws, type="subscribe", course_id=draft.id)
        assert (await frame(ws))["code"] == "not-found"
        await send(ws, type="subscribe", course_id=2_000_000_000)
        assert (await frame(ws))["code"] == "not-found"
        # Sending without (allowed) subscription: refused, not stored.
        await send(ws, type="chat.send", course_id=world.course_id, body="let me in")
        assert (await frame(ws))["code"] == "not-subscribed"
        async with httpx.AsyncClient(base_url=server.url) as client:
            posted = await client.post(
                f"/api/v1/courses/{world.course_id}/messages",
                json={"body": "members only"},
                headers=world.teacher.headers,
            )
            assert posted.status_code == 201
        assert await quiet(ws) == []
    mine = (
        select(func.count())
        .select_from(ChatMessage)
        .where(ChatMessage.author_id == world.outsider.user.id)
    )
    assert (await db.execute(mine)).scalar_one() == 0


async def test_a_student_who_left_cannot_send_any_more(
    server: Served, world: Course3, db: AsyncSession
) -> None:
    async with await open_socket(server, world.student) as ws:
        await send(ws, type="subscribe", course_id=world.course_id)
        await frame(ws)
        async with httpx.AsyncClient(base_url=server.url) as client:
            left = await client.delete(
                f"/api/v1/courses/{world.course_id}/enrollment", headers=world.student.headers
            )
            assert left.status_code == 204
        assert (await frame(ws))["reason"] == "access-ended"
        await send(ws, type="chat.send", course_id=world.course_id, body="still here?")
        assert (await frame(ws))["code"] == "not-subscribed"
        await send(ws, type="subscribe", course_id=world.course_id)
        assert (await frame(ws))["code"] == "enrollment-required"
    mine = (
        select(func.count())
        .select_from(ChatMessage)
        .where(ChatMessage.author_id == world.student.user.id)
    )
    assert (await db.execute(mine)).scalar_one() == 0


async def test_leaving_a_course_ends_its_subscription(
    server: Served, world: Course3, db: AsyncSession
) -> None:
    async with (
        await open_socket(server, world.student) as ws,
        await open_socket(server, world.teacher) as teacher,
    ):
        for socket in (ws, teacher):
            await send(socket, type="subscribe", course_id=world.course_id)
            assert (await frame(socket))["type"] == "subscribed"
        async with httpx.AsyncClient(base_url=server.url) as client:
            left = await client.delete(
                f"/api/v1/courses/{world.course_id}/enrollment", headers=world.student.headers
            )
            assert left.status_code == 204
            ended = await frame(ws)
            assert ended == {
                "type": "unsubscribed",
                "course_id": world.course_id,
                "reason": "access-ended",
            }
            posted = await client.post(
                f"/api/v1/courses/{world.course_id}/messages",
                json={"body": "after you left"},
                headers=world.teacher.headers,
            )
            assert posted.status_code == 201
        # The teacher (still a participant) gets it; the student who left does not.
        assert (await frame(teacher))["message"]["body"] == "after you left"
        assert await quiet(ws) == []
        assert await quiet(teacher) == []


async def test_deleting_a_course_ends_every_subscription(
    server: Served, world: Course3, db: AsyncSession
) -> None:
    async with await open_socket(server, world.student) as ws:
        await send(ws, type="subscribe", course_id=world.course_id)
        assert (await frame(ws))["type"] == "subscribed"
        async with httpx.AsyncClient(base_url=server.url) as client:
            gone = await client.delete(
                f"/api/v1/courses/{world.course_id}", headers=world.teacher.headers
            )
            assert gone.status_code == 204
        got = await frame(ws)
        assert got["type"] == "unsubscribed"
        assert got["reason"] == "access-ended"
        # Subscribing again is refused like any unknown course.
        await send(ws, type="subscribe", course_id=world.course_id)
        assert (await frame(ws))["type"] == "error"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad-frame"),
        ("[1, 2]", "bad-frame"),
        ('{"no": "type"}', "bad-frame"),
        ('{"type": "dance"}', "unknown-type"),
        ('{"type": "subscribe"}', "missing-field"),
        ('{"type": "subscribe", "course_id": "1"}', "missing-field"),
        ('{"type": "subscribe", "course_id": true}', "missing-field"),
        ('{"type": "subscribe", "course_id": -4}', "missing-field"),
        ('{"type": "subscribe", "course_id": 99999999999999999999}', "missing-field"),
        ('{"type": "chat.send", "course_id": 1}', "missing-field"),
        ('{"type": "chat.send", "course_id": 1, "body": 7}', "missing-field"),
        ("x" * (16 * 1024 + 1), "frame-too-large"),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_open(
    server: Served, world: Course3, raw: str, code: str
) -> None:
    async with await open_socket(server, world.student) as ws:
        await ws.send(raw)
        got = await frame(ws)
        assert got["type"] == "error"
        assert got["code"] == code
        assert isinstance(got["detail"], str)
        assert await quiet(ws) == []  # still open and answering


async def test_binary_frames_and_bad_bodies(
    server: Served, world: Course3, db: AsyncSession
) -> None:
    async with await open_socket(server, world.student) as ws:
        await ws.send(b"\x00\x01")
        assert (await frame(ws))["code"] == "bad-frame"
        await send(ws, type="subscribe", course_id=world.course_id)
        await frame(ws)
        for body in ("", "   ", "x" * 4001, "nul\x00"):
            await send(ws, type="chat.send", course_id=world.course_id, body=body)
            assert (await frame(ws))["code"] == "validation-error"
        assert await quiet(ws) == []
    mine = (
        select(func.count())
        .select_from(ChatMessage)
        .where(ChatMessage.author_id == world.student.user.id)
    )
    assert (await db.execute(mine)).scalar_one() == 0


async def test_a_flood_gets_an_error_then_close_1008(server: Served, world: Course3) -> None:
    async with await open_socket(server, world.student) as ws:
        for _ in range(120):
            await send(ws, type="ping")
        kinds: list[str] = []
        with pytest.raises(ConnectionClosed) as closed:
            await _collect(ws, kinds)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
        assert "error" in kinds
        assert kinds.index("error") >= 15  # the burst went through first


async def _collect(ws: ClientConnection, kinds: list[str]) -> None:
    while True:
        kinds.append((await frame(ws))["type"])


@pytest.mark.parametrize("kind", ["forged", "used", "empty", "huge"])
async def test_bad_tickets_are_refused_before_accept(
    server: Served, world: Course3, kind: str
) -> None:
    value = {"forged": "x" * 43, "empty": "", "huge": "y" * 5000}.get(kind)
    if kind == "used":
        value = await ticket(server, world.student)
        async with connect(f"{server.ws_url}?ticket={value}"):
            pass
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{server.ws_url}?ticket={value}"):
            pass
    assert refused.value.response.status_code == 403


async def test_expired_ticket_is_refused(server: Served, world: Course3, db: AsyncSession) -> None:
    from sqlalchemy import update

    from campus.models.realtime import SocketTicket

    value = await ticket(server, world.student)
    await db.execute(update(SocketTicket).values(expires_at=SocketTicket.created_at))
    await db.commit()
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{server.ws_url}?ticket={value}"):
            pass
    assert refused.value.response.status_code == 403


async def test_no_credentials_is_refused(server: Served) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.ws_url):
            pass
    assert refused.value.response.status_code == 403


async def test_origin_is_checked_before_accept(server: Served, world: Course3) -> None:
    for origin in ("https://evil.example", "http://127.0.0.1:1", "null"):
        with pytest.raises(InvalidStatus) as refused:
            async with await open_socket(server, world.student, origin=origin):
                pass
        assert refused.value.response.status_code == 403
    for origin in (server.url, "https://app.example.com"):
        async with await open_socket(server, world.student, origin=origin) as ws:
            assert await quiet(ws) == []


async def _web_cookie(server: Served, who: Member) -> str:
    from tests.factories import DEFAULT_PASSWORD
    from tests.pagehelpers import HTML, csrf_from

    async with httpx.AsyncClient(base_url=server.url) as client:
        page = await client.get("/login", headers=HTML)
        signed = await client.post(
            "/login",
            data={
                "email": who.user.email,
                "password": DEFAULT_PASSWORD,
                "csrf_token": csrf_from(page.text),
            },
            headers=HTML,
        )
        assert signed.status_code == 303
        return str(client.cookies["campus_session"])


async def test_the_page_cookie_opens_a_socket_only_with_our_origin(
    server: Served, world: Course3
) -> None:
    cookie = {"Cookie": f"campus_session={await _web_cookie(server, world.student)}"}
    async with connect(server.ws_url, origin=server.url, additional_headers=cookie) as ws:
        await send(ws, type="subscribe", course_id=world.course_id)
        assert (await frame(ws))["type"] == "subscribed"
    for origin in (None, "https://evil.example"):
        with pytest.raises(InvalidStatus):
            async with connect(server.ws_url, origin=origin, additional_headers=cookie):
                pass
    with pytest.raises(InvalidStatus):
        async with connect(
            server.ws_url, origin=server.url, additional_headers={"Cookie": "campus_session=nope"}
        ):
            pass


async def _drain(ws: ClientConnection, seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while True:
            await ws.recv()


async def _closed_within(ws: ClientConnection, seconds: float) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        await _drain(ws, seconds)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_logout_closes_the_socket_within_seconds(server: Served, world: Course3) -> None:
    async with await open_socket(server, world.student) as ws:
        assert await quiet(ws) == []
        async with httpx.AsyncClient(base_url=server.url) as client:
            out = await client.post(
                "/api/v1/auth/logout",
                json={"refresh_token": world.student.refresh},
                headers=world.student.headers,
            )
            assert out.status_code == 204
        assert await _closed_within(ws, 5) == 1008


async def test_deactivation_and_password_reset_close_sockets(
    server: Served, world: Course3, db: AsyncSession, settings: Settings
) -> None:
    admin = await member(db, settings, role=UserRole.ADMIN)
    async with (
        await open_socket(server, world.student) as ws,
        await open_socket(server, world.teacher) as other,
    ):
        async with httpx.AsyncClient(base_url=server.url) as client:
            off = await client.patch(
                f"/api/v1/users/{world.student.user.id}",
                json={"is_active": False},
                headers=admin.headers,
            )
            assert off.status_code == 200
        assert await _closed_within(ws, 5) == 1008
        assert await quiet(other) == []  # someone else's socket stays


async def test_notifications_arrive_live(server: Served, world: Course3) -> None:
    async with (
        await open_socket(server, world.student) as student,
        await open_socket(server, world.teacher) as teacher,
        await open_socket(server, world.outsider) as outsider,
    ):
        async with httpx.AsyncClient(base_url=server.url) as client:
            made = await client.post(
                f"/api/v1/courses/{world.course_id}/lessons",
                json={"title": "Live lesson", "content": "text"},
                headers=world.teacher.headers,
            )
            assert made.status_code == 201
            got = await frame(student)
            assert got["type"] == "notification"
            assert got["notification"]["kind"] == "lesson.published"
            assert got["notification"]["data"]["lesson_title"] == "Live lesson"
            listed = await client.get("/api/v1/notifications", headers=world.student.headers)
            assert listed.json()["items"][0]["id"] == got["notification"]["id"]
            joined = await client.post(
                f"/api/v1/courses/{world.course_id}/enrollment", headers=world.outsider.headers
            )
            assert joined.status_code == 201
            got = await frame(teacher)
            assert got["notification"]["kind"] == "course.student_joined"
            assert got["notification"]["data"]["student_name"] == "Out"
        assert await quiet(outsider) == []
        assert await quiet(student) == []


async def test_metrics_count_sockets_messages_and_notifications(
    server: Served, world: Course3
) -> None:
    async with await open_socket(server, world.student) as ws:
        await send(ws, type="subscribe", course_id=world.course_id)
        await frame(ws)
        await send(ws, type="chat.send", course_id=world.course_id, body="counted")
        await frame(ws)
        async with httpx.AsyncClient(base_url=server.url) as client:
            text = (await client.get("/metrics")).text
    assert "campus_ws_connections 1.0" in text
    assert "campus_chat_messages_total" in text
    assert "campus_broadcast_latency_seconds_bucket" in text
    assert "campus_notifications_created_total" in text or "campus_notifications_created" in text
