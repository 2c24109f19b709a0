"""§10 course pages over HTTP: catalog, course, lesson access, the teacher's editor."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from tests.factories import DEFAULT_PASSWORD, create_course, create_lesson, create_user, enroll
from tests.pagehelpers import HTML, page_csrf, post_form, sign_in

SECRET = "The-secret-content-of-lesson-two"


async def _course_with_lessons(session: AsyncSession, settings: Settings) -> tuple:
    teacher = await create_user(session, settings, role=UserRole.TEACHER, full_name="Tess Teacher")
    course = await create_course(
        session, teacher, title="Building a Task API with FastAPI", description="**Async** APIs."
    )
    preview = await create_lesson(session, course, position=1, title="Intro", is_preview=True)
    locked = await create_lesson(session, course, position=2, title="Models", content=SECRET)
    return teacher, course, preview, locked


async def test_catalog_search_filters_and_pagination(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher, _, _, _ = await _course_with_lessons(session, settings)
    await create_course(session, teacher, title="Advanced Rust", level="advanced", price_cents=1999)
    await create_course(session, teacher, title="Secret draft", is_published=False)
    page = await client.get("/", headers=HTML)
    assert page.status_code == 200
    assert "Building a Task API with FastAPI" in page.text
    assert "Secret draft" not in page.text
    assert "$19.99" in page.text
    found = await client.get("/?q=task+api", headers=HTML)
    assert "Building a Task API" in found.text
    assert "Advanced Rust" not in found.text
    advanced = await client.get("/?level=advanced&price=paid", headers=HTML)
    assert "Advanced Rust" in advanced.text
    assert "Building a Task API" not in advanced.text
    free = await client.get("/?price=free", headers=HTML)
    assert "Advanced Rust" not in free.text
    # An unknown filter value (an old link, a typo) is ignored: the whole catalog, not an
    # error page.
    bad = await client.get("/?level=expert&price=cheap", headers=HTML)
    assert bad.status_code == 200
    assert "Advanced Rust" in bad.text
    assert "Building a Task API" in bad.text
    far = await client.get("/?p=50", headers=HTML)
    assert far.status_code == 200
    for n in range(13):
        await create_course(session, teacher, title=f"Filler {n:02d}")
    first = await client.get("/", headers=HTML)
    assert 'aria-current="page">1<' in first.text
    assert 'href="/?q=&amp;level=&amp;price=&amp;p=2"' in first.text


async def test_course_page_and_invisible_draft(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher, course, _, _ = await _course_with_lessons(session, settings)
    draft = await create_course(session, teacher, title="Hidden", is_published=False)
    page = await client.get(f"/courses/{course.id}", headers=HTML)
    assert page.status_code == 200
    assert "<strong>Async</strong> APIs." in page.text
    assert "Sign in to enroll" in page.text
    assert "Intro" in page.text
    assert "Models" in page.text
    assert SECRET not in page.text
    missing = await client.get(f"/courses/{draft.id}", headers=HTML)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Hidden" not in missing.text
    await sign_in(client, teacher.email, DEFAULT_PASSWORD)
    own = await client.get(f"/courses/{draft.id}", headers=HTML)
    assert own.status_code == 200
    assert "Edit course" in own.text


async def test_locked_lesson_prompts_and_never_shows_content(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, course, preview, locked = await _course_with_lessons(session, settings)
    url = f"/courses/{course.id}/lessons/{locked.id}"
    anonymous = await client.get(url, headers=HTML)
    assert anonymous.status_code == 403
    assert "Sign in to read" in anonymous.text
    assert SECRET not in anonymous.text
    readable = await client.get(f"/courses/{course.id}/lessons/{preview.id}", headers=HTML)
    assert readable.status_code == 200
    assert f'href="/courses/{course.id}/lessons/{locked.id}" rel="next"' in readable.text

    student = await create_user(session, settings)
    await sign_in(client, student.email, DEFAULT_PASSWORD)
    not_enrolled = await client.get(url, headers=HTML)
    assert not_enrolled.status_code == 403
    assert "Enroll in" in not_enrolled.text
    assert SECRET not in not_enrolled.text

    await enroll(session, student, course)
    enrolled = await client.get(url, headers=HTML)
    assert enrolled.status_code == 200
    assert SECRET in enrolled.text
    assert f'href="/courses/{course.id}/lessons/{preview.id}" rel="prev"' in enrolled.text
    other_course = await client.get(f"/courses/{course.id + 999}/lessons/{locked.id}", headers=HTML)
    assert other_course.status_code == 404


async def test_lesson_markdown_xss_stays_text(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher)
    lesson = await create_lesson(
        session,
        course,
        position=1,
        is_preview=True,
        content="<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>\n\n**fine**",
    )
    page = await client.get(f"/courses/{course.id}/lessons/{lesson.id}", headers=HTML)
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert" in page.text
    assert "<img src=x" not in page.text
    assert "<strong>fine</strong>" in page.text


async def test_teach_pages_need_a_teacher(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    anonymous = await client.get("/teach/courses/new", headers=HTML)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/teach/courses/new"
    student = await create_user(session, settings)
    await sign_in(client, student.email, DEFAULT_PASSWORD)
    forbidden = await client.get("/teach", headers=HTML)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith("text/html")
    token = await page_csrf(client, "/")
    post = await client.post(
        "/teach/courses/new",
        data={
            "title": "X",
            "description": "",
            "level": "beginner",
            "price": "0",
            "currency": "USD",
            "csrf_token": token,
        },
        headers=HTML,
    )
    assert post.status_code == 403


async def test_another_teacher_cannot_edit(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, course, _, locked = await _course_with_lessons(session, settings)
    other = await create_user(session, settings, role=UserRole.TEACHER)
    await sign_in(client, other.email, DEFAULT_PASSWORD)
    assert (await client.get(f"/teach/courses/{course.id}", headers=HTML)).status_code == 403
    token = await page_csrf(client, "/teach")
    delete = await client.post(
        f"/teach/courses/{course.id}/lessons/{locked.id}/delete",
        data={"csrf_token": token},
        headers=HTML,
    )
    assert delete.status_code == 403


async def test_teacher_creates_edits_reorders_and_publishes(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    await sign_in(client, teacher.email, DEFAULT_PASSWORD)
    bad = await post_form(
        client,
        "/teach/courses/new",
        {"title": "  ", "description": "d", "level": "beginner", "price": "abc", "currency": "USD"},
    )
    assert bad.status_code == 422
    assert 'id="e-price"' in bad.text
    assert 'id="e-title"' in bad.text
    created = await post_form(
        client,
        "/teach/courses/new",
        {
            "title": "Page-made course",
            "description": "About it",
            "level": "intermediate",
            "price": "12.50",
            "currency": "eur",
        },
    )
    assert created.status_code == 303, created.text
    edit_url = created.headers["location"]
    course_id = int(edit_url.rsplit("/", 1)[1])
    for title in ("One", "Two", "Three"):
        added = await post_form(
            client,
            f"/teach/courses/{course_id}/lessons/new",
            {
                "title": title,
                "summary": "",
                "content": f"# {title}",
                "duration_minutes": "5",
                "position": "",
            },
        )
        assert added.status_code == 303, added.text
    editor = await client.get(edit_url, headers=HTML)
    assert "€12.50" in editor.text or "12.50" in editor.text
    assert editor.text.index(">One<") < editor.text.index(">Two<") < editor.text.index(">Three<")
    lesson_ids = [
        int(part.split('"')[0])
        for part in editor.text.split(f'href="/teach/courses/{course_id}/lessons/')[1:]
        if part.split('"')[0].isdigit()
    ]
    three = lesson_ids[2]
    moved = await post_form(
        client,
        f"/teach/courses/{course_id}/lessons/{three}/move",
        {"position": "1"},
        from_page=edit_url,
    )
    assert moved.status_code == 303
    editor = await client.get(edit_url, headers=HTML)
    assert editor.text.index(">Three<") < editor.text.index(">One<")
    assert "Draft" in editor.text
    catalog = await client.get("/?q=page-made", headers=HTML)
    assert "Page-made course" in catalog.text  # the teacher sees their own draft

    published = await post_form(
        client, f"/teach/courses/{course_id}/publish", {"publish": "on"}, from_page=edit_url
    )
    assert published.status_code == 303
    client.cookies.clear()
    public = await client.get("/?q=page-made", headers=HTML)
    assert "Page-made course" in public.text
