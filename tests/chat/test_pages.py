"""§10 pages of API.md §7: the course chat (works without JavaScript), the notifications
page, the bell in the header and the cabinet's latest notifications — and who may NOT."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from campus.models.chat import ChatMessage
from campus.notifications import service as notifications
from tests.factories import DEFAULT_PASSWORD, create_course, create_user, enroll
from tests.pagehelpers import HTML, page_csrf, post_form, sign_in


async def test_chat_page_history_post_and_load_older(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    student = await create_user(session, settings, full_name="Sam Student")
    course = await create_course(session, teacher, title="Chatty")
    await enroll(session, student, course)
    for i in range(35):
        session.add(ChatMessage(course_id=course.id, author_id=teacher.id, body=f"old {i:02d}"))
        await session.flush()
    await sign_in(client, student.email, DEFAULT_PASSWORD)
    chat = f"/courses/{course.id}/chat"
    page = await client.get(chat, headers=HTML)
    assert page.status_code == 200
    assert "old 34" in page.text
    assert "old 04" not in page.text  # 30 per page, the newest
    assert page.text.index("old 05") < page.text.index("old 34")  # oldest at the top
    older = re.search(r'href="(/courses/\d+/chat\?cursor=[^"]+)"', page.text)
    assert older, "no load-older link"
    previous = await client.get(older.group(1).replace("&amp;", "&"), headers=HTML)
    assert previous.status_code == 200
    assert "old 04" in previous.text
    assert "old 34" not in previous.text
    # Posting works as a plain form (no JavaScript).
    posted = await post_form(client, chat, {"body": "<b>hi</b> from the form"})
    assert posted.status_code == 303
    assert posted.headers["location"].startswith(chat)
    shown = await client.get(chat, headers=HTML)
    assert "&lt;b&gt;hi&lt;/b&gt; from the form" in shown.text  # text, never HTML
    blank = await post_form(client, chat, {"body": "   "})
    assert blank.status_code == 422
    assert 'aria-invalid="true"' in blank.text
    assert "must not be blank" in blank.text
    no_csrf = await client.post(chat, data={"body": "sneaky"}, headers=HTML)
    assert no_csrf.status_code == 403
    count = select(func.count()).select_from(ChatMessage).where(ChatMessage.body == "sneaky")
    assert (await session.execute(count)).scalar_one() == 0


async def test_who_may_not_open_the_chat_page(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher)
    draft = await create_course(session, teacher, is_published=False)
    anonymous = await client.get(f"/courses/{course.id}/chat", headers=HTML)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=")
    outsider = await create_user(session, settings)
    await sign_in(client, outsider.email, DEFAULT_PASSWORD)
    refused = await client.get(f"/courses/{course.id}/chat", headers=HTML)
    assert refused.status_code == 403
    assert "text/html" in refused.headers["content-type"]
    # The error page is the site's own, with the signed-in header (not a bare fallback).
    assert "Sign out" in refused.text
    assert "take part" in refused.text
    post = await post_form(
        client, f"/courses/{course.id}/chat", {"body": "x"}, from_page=f"/courses/{course.id}"
    )
    assert post.status_code == 403
    assert (await client.get(f"/courses/{draft.id}/chat", headers=HTML)).status_code == 404


async def test_moderator_deletes_from_the_page(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    student = await create_user(session, settings)
    course = await create_course(session, teacher)
    await enroll(session, student, course)
    message = ChatMessage(course_id=course.id, author_id=student.id, body="delete me")
    session.add(message)
    await session.flush()
    await sign_in(client, teacher.email, DEFAULT_PASSWORD)
    chat = f"/courses/{course.id}/chat"
    page = await client.get(chat, headers=HTML)
    assert f"/chat/{message.id}/delete" in page.text
    gone = await post_form(client, f"{chat}/{message.id}/delete", {}, from_page=chat)
    assert gone.status_code == 303
    assert "delete me" not in (await client.get(chat, headers=HTML)).text


async def test_bell_notifications_page_and_cabinet(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    other = await create_user(session, settings)
    first = await notifications.notify(
        session, user_id=user.id, kind="task.due_soon", data={"task_title": "Essay"}, link="/tasks"
    )
    await notifications.notify(
        session, user_id=user.id, kind="payment.succeeded", data={"course_title": "Go"}
    )
    theirs = await notifications.notify(
        session, user_id=other.id, kind="payment.failed", data={"course_title": "Secret"}
    )
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    home = await client.get("/", headers=HTML)
    assert re.search(r'id="bell-count"[^>]*>2<', home.text)
    cabinet = await client.get("/cabinet", headers=HTML)
    assert "Task due soon: Essay" in cabinet.text
    assert "Payment received for Go" in cabinet.text
    assert "Secret" not in cabinet.text
    listing = await client.get("/notifications", headers=HTML)
    assert listing.status_code == 200
    assert "2 unread" in listing.text
    opened = await post_form(
        client, f"/notifications/{first.id}/read", {"go": "link"}, from_page="/notifications"
    )
    assert opened.status_code == 303
    assert opened.headers["location"] == "/tasks"
    unread = await client.get("/notifications?unread=true", headers=HTML)
    assert "Essay" not in unread.text
    assert "Payment received for Go" in unread.text
    token = await page_csrf(client, "/notifications")
    mine_only = await client.post(
        f"/notifications/{theirs.id}/read", data={"csrf_token": token}, headers=HTML
    )
    assert mine_only.status_code == 404
    done = await post_form(client, "/notifications/read-all", {}, from_page="/notifications")
    assert done.status_code == 303
    after = await client.get("/notifications", headers=HTML)
    assert "0 unread" in after.text
    assert re.search(r'id="bell-count" hidden>0<', after.text)


async def test_notifications_page_needs_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/notifications", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/notifications"
