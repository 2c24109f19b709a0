"""Markdown is rendered once, when written, off the event loop and within a bound: a view
never pays for it, and a pathological lesson (``"!["`` x 99,500 took ~10 s on the loop, on
every view) cannot stall the server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.kit import markdown
from campus.models.accounts import UserRole
from tests.courses.conftest import Actor
from tests.factories import DEFAULT_PASSWORD, create_course, create_lesson, create_user
from tests.pagehelpers import HTML, sign_in

PATHOLOGICAL = "![" * 99_500


@pytest.fixture
def short_bound() -> Iterator[None]:
    before = markdown.renderer.timeout
    markdown.renderer.configure(timeout=1.5)
    try:
        yield
    finally:
        markdown.renderer.configure(timeout=before)


async def _settle() -> None:
    """Wait for the background renders started after a commit."""
    while markdown._background:
        await asyncio.gather(*list(markdown._background), return_exceptions=True)


def test_the_renderer_and_sanitiser() -> None:
    assert markdown.render("**b** <script>x</script>") == (
        "<p><strong>b</strong> &lt;script&gt;x&lt;/script&gt;</p>\n"
    )
    assert markdown.plain("<b>") == '<div class="prose-plain">&lt;b&gt;</div>'
    assert markdown.excerpt("# Title\n\n**Bold** [link](https://x.y) `code` " + "![" * 5000) == (
        "Title Bold link code"
    )
    assert markdown.cached_html("never rendered *x*") == (
        '<div class="prose-plain">never rendered *x*</div>'
    )


async def test_a_lesson_is_rendered_when_written_and_views_find_it_cached(
    client: httpx.AsyncClient, teacher: Actor, session: AsyncSession
) -> None:
    course = await create_course(session, teacher.user)
    content = f"# Unique {uuid.uuid4().hex}\n\nSome **bold** text."
    created = await client.post(
        f"/api/v1/courses/{course.id}/lessons",
        json={"title": "Fresh", "content": content, "is_preview": True},
        headers=teacher.headers,
    )
    assert created.status_code == 201, created.text
    await _settle()
    assert markdown.renderer.cached(content) is not None  # rendered after the commit
    hits = markdown.renderer.cache.hits
    page = await client.get(f"/courses/{course.id}/lessons/{created.json()['id']}", headers=HTML)
    assert page.status_code == 200
    assert "<strong>bold</strong>" in page.text
    assert markdown.renderer.cache.hits > hits
    # An edit renders the new text, once.
    changed = content + "\n\n*more*"
    patched = await client.patch(
        f"/api/v1/courses/{course.id}/lessons/{created.json()['id']}",
        json={"content": changed},
        headers=teacher.headers,
    )
    assert patched.status_code == 200
    await _settle()
    assert markdown.renderer.cached(changed) is not None


async def test_a_pathological_lesson_never_stalls_the_server(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, short_bound: None
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher)
    # A unique text, so no earlier test's cache answers for it.
    content = PATHOLOGICAL + uuid.uuid4().hex
    lesson = await create_lesson(session, course, position=1, content=content, is_preview=True)
    await create_user(session, settings, email="viewer@example.test")
    await sign_in(client, "viewer@example.test", DEFAULT_PASSWORD)
    url = f"/courses/{course.id}/lessons/{lesson.id}"

    async def view_while_probing() -> tuple[httpx.Response, int, float]:
        view = asyncio.create_task(client.get(url, headers=HTML))
        probes, worst, last = 0, 0.0, time.perf_counter()
        while not view.done():
            live = await client.get("/health/live")
            assert live.status_code == 200
            now = time.perf_counter()
            worst, last, probes = max(worst, now - last), now, probes + 1
            await asyncio.sleep(0.01)
        return await view, probes, worst

    page, probes, worst = await view_while_probing()
    assert page.status_code == 200
    assert '<div class="prose-plain">![![' in page.text  # shown unformatted, escaped
    assert '<header class="site-header">' in page.text
    # /health/live kept answering while the render ran (on the loop it stalled ~10 s).
    assert probes >= 5
    assert worst < 1.0, worst
    # The bounded answer is cached: the next views do not render again.
    timeouts = markdown.renderer.timeouts
    again = await client.get(url, headers=HTML)
    assert again.status_code == 200
    assert markdown.renderer.timeouts == timeouts


async def test_parallel_renders_of_one_pathological_text_share_one_bounded_render(
    short_bound: None,
) -> None:
    """Four views at once of one lesson (before: 38 s of stalled server) wait for one
    render, bounded, and /health/live is not held up."""
    content = PATHOLOGICAL + uuid.uuid4().hex
    timeouts = markdown.renderer.timeouts
    started = time.perf_counter()
    results = await asyncio.gather(*(markdown.render_html(content) for _ in range(4)))
    assert len(set(results)) == 1
    assert results[0].startswith('<div class="prose-plain">')
    assert markdown.renderer.timeouts == timeouts + 1  # one render, bounded, shared
    assert time.perf_counter() - started < 10


async def test_the_workers_start_is_not_part_of_the_bound() -> None:
    """A fresh renderer (as after a start or a killed render) spawns its worker first: the
    first text is formatted even when its bound is shorter than the worker's start-up (on
    a busy machine the demo lessons were shown as plain text, cached, issue 18)."""
    renderer = markdown.Renderer()
    renderer.configure(timeout=0.5)
    try:
        html = await renderer.render_html("## A heading\n\n```python\nprint(1)\n```\n")
    finally:
        renderer.close()
    assert "<h2>" in html
    assert "<pre" in html
    assert renderer.timeouts == 0


async def test_a_worker_that_cannot_start_shows_plain_text_and_caches_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renderer = markdown.Renderer()
    monkeypatch.setattr(markdown, "STARTUP_TIMEOUT_SECONDS", 0.0001)
    text = "*not rendered yet* " + uuid.uuid4().hex
    shown = await renderer.render_html(text)
    assert shown.startswith('<div class="prose-plain">')
    assert renderer.cached(text) is None  # the next view tries again
    monkeypatch.setattr(markdown, "STARTUP_TIMEOUT_SECONDS", 60.0)
    try:
        assert "<em>not rendered yet</em>" in await renderer.render_html(text)
    finally:
        renderer.close()
