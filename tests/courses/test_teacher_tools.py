"""Teacher tools (issue #18): highlighted code in lessons, the editor's Markdown preview,
reordering lessons by buttons and by the drag-and-drop script's request."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from campus.config import Settings
from campus.kit import highlight, markdown
from campus.main import create_app
from campus.models.accounts import UserRole
from tests.conftest import on_test_transaction
from tests.factories import DEFAULT_PASSWORD, create_course, create_lesson, create_user, enroll
from tests.pagehelpers import HTML, csrf_from, page_csrf, post_form, sign_in


@pytest.fixture(autouse=True, scope="module")
async def warm_renderer() -> None:
    """Start the Markdown worker process once with a generous bound, so a loaded machine's
    slow process start cannot turn the first render of these tests into plain text."""
    before = markdown.renderer.timeout
    markdown.renderer.configure(timeout=60)
    await markdown.renderer.render_uncached(f"*warm {uuid.uuid4().hex}*")
    markdown.renderer.configure(timeout=before)


# --- the renderer ----------------------------------------------------------------------------


def test_a_fenced_block_with_a_known_language_gets_token_classes() -> None:
    html = markdown.render('```Python\ndef f(x):\n    return "<b>" # note\n```\n')
    assert html.startswith('<pre class="highlight"><code class="language-python">')
    assert '<span class="k">def</span>' in html
    assert '<span class="nf">f</span>' in html
    assert '<span class="s2">"&lt;b&gt;"</span>' in html  # escaped inside the token
    assert '<span class="c1"># note</span>' in html
    assert "style=" not in html  # classes only, no inline styles
    # Every class in the output is one the sanitiser allows, from the highlighter's sets.
    for cls in re.findall(r'<span class="([^"]*)"', html):
        assert cls in highlight.TOKEN_CLASSES
    # An alias names the lexer by its canonical name.
    assert '<code class="language-python">' in markdown.render("```py\nx = 1\n```\n")


@pytest.mark.parametrize(
    "language",
    ["", "no-such-language", '"><script>alert(1)</script>', "python onmouseover=alert(1)x",
     "x" * 100, "javascript:alert(1)", "language-python"],
)  # fmt: skip
def test_an_unknown_or_hostile_language_is_plain_escaped_code(language: str) -> None:
    html = markdown.render(f"```{language}\n<script>alert(1)</script> & <b>\n```\n")
    if language.split(" ")[0] == "python":  # the info string's first word is the language
        assert html.startswith('<pre class="highlight"><code class="language-python">')
    else:
        assert html == (
            "<pre><code>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;\n</code></pre>\n"
        )
    assert "<script" not in html
    assert "onmouseover" not in html
    assert "language-no-such" not in html


@pytest.mark.parametrize(
    "code",
    [
        "</code></pre><script>alert(1)</script><pre><code>",
        '"><img src=x onerror=alert(1)>',
        '<span class="k" onclick="alert(1)">x</span>',
        "]]><!-- --><style>body{display:none}</style>",
    ],
)
def test_code_cannot_break_out_of_its_block(code: str) -> None:
    for language in ("python", "html", "javascript", "unknown-x"):
        html = markdown.render(f"```{language}\n{code}\n```\n")
        for tag in ("<script", "<img", "<style"):
            assert tag not in html
        assert "onclick=" not in html.replace("onclick=&quot;", "").replace('onclick="alert', "")
        assert html.count("<pre") == html.count("</pre>") == 1
        # No tag but the block's own and Pygments' spans.
        tags = set(re.findall(r"</?([a-z0-9]+)", html))
        assert tags <= {"pre", "code", "span"}


def test_the_sanitiser_keeps_only_the_highlighters_classes() -> None:
    raw = (
        '<pre class="highlight button"><code class="language-python evil">'
        '<span class="k flash" style="color:red" onclick="x()">def</span></code></pre>'
        '<span class="danger-zone">x</span><p class="button">p</p>'
    )
    assert markdown.sanitise(raw) == (
        '<pre class="highlight"><code class="language-python"><span class="k">def</span>'
        '</code></pre><span class="">x</span><p>p</p>'
    )


def test_a_huge_block_is_shown_plain_and_inline_code_is_unchanged() -> None:
    big = "x = 1\n" * (highlight.MAX_BLOCK_CHARS // 6 + 1)
    html = markdown.render(f"```python\n{big}```\n")
    assert html.startswith("<pre><code>x = 1\n")
    assert "<span" not in html
    assert markdown.render("`a < b`") == "<p><code>a &lt; b</code></p>\n"
    # Indented code has no language: plain too.
    assert markdown.render("    <i>\n") == "<pre><code>&lt;i&gt;\n</code></pre>\n"


def test_a_document_highlights_at_most_its_budget_of_code() -> None:
    block = "x = 1\n" * (15_000 // 6)
    html = markdown.render(f"```python\n{block}```\n\n" * 4 + "```python\ny = 2\n```\n")
    blocks = html.split("</pre>")[:-1]
    assert len(blocks) == 5
    assert [b.lstrip().startswith('<pre class="highlight">') for b in blocks] == [
        True, True, True, False, False
    ]  # fmt: skip
    # The budget is per render: the next document starts afresh.
    assert markdown.render("```python\ny = 2\n```\n").startswith('<pre class="highlight">')


def test_the_stylesheet_has_a_light_and_a_dark_theme_with_aa_contrast() -> None:
    css = highlight.stylesheet()
    light, _, dark = css.partition("@media (prefers-color-scheme: dark) {")
    assert dark, "no dark theme"
    assert "style=" not in css
    for theme in (light, dark):
        background = re.search(
            r"pre\.highlight \{ background: (#[0-9a-fA-F]{3,6}); color: (#[0-9a-fA-F]{3,6})", theme
        )
        assert background, theme[:300]
        bg, text = background.groups()
        assert highlight.contrast_ratio(bg, text) >= 4.5
        classes = set()
        for selector, body in re.findall(r"pre\.highlight \.([a-z0-9]+) \{([^}]*)\}", theme):
            classes.add(selector)
            colour = re.search(r"(?<!-)color: (#[0-9a-fA-F]{3,6})", body)
            own_bg = re.search(r"background-color: (#[0-9a-fA-F]{3,6})", body)
            if colour and selector != "w":  # whitespace has no glyphs to read
                ratio = highlight.contrast_ratio(colour.group(1), own_bg.group(1) if own_bg else bg)
                assert ratio >= 4.5, (selector, colour.group(1), ratio)
        assert {"k", "s", "c", "nf"} <= classes
        assert classes <= highlight.TOKEN_CLASSES | {"hll"}


async def test_the_stylesheet_is_served_from_campus_with_long_caching(
    client: httpx.AsyncClient,
) -> None:
    path = highlight.stylesheet_path()
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text == highlight.stylesheet()
    etag = response.headers["etag"]
    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    # An old page's address gets the current CSS, not cached for good.
    old = await client.get("/assets/highlight-0000000000000000.css")
    assert old.status_code == 200
    assert old.headers["cache-control"] == "no-cache"


async def test_lesson_and_course_pages_link_the_stylesheet_and_show_highlighted_code(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher)
    content = f"Intro {uuid.uuid4().hex}\n\n```python\nimport os\n```\n"
    lesson = await create_lesson(session, course, position=1, content=content, is_preview=True)
    page = await client.get(f"/courses/{course.id}/lessons/{lesson.id}", headers=HTML)
    assert page.status_code == 200
    assert f'<link rel="stylesheet" href="{highlight.stylesheet_path()}">' in page.text
    assert '<span class="kn">import</span>' in page.text
    course_page = await client.get(f"/courses/{course.id}", headers=HTML)
    assert highlight.stylesheet_path() in course_page.text
    await sign_in(client, teacher.email, DEFAULT_PASSWORD)
    managed = await client.get(f"/courses/{course.id}", headers=HTML)
    assert f'href="/teach/courses/{course.id}/students">Students and progress</a>' in managed.text


# --- the editor's preview --------------------------------------------------------------------

PREVIEW_TEXT = (
    "# Heading\n\n**bold** <script>alert(1)</script>\n\n```python\nprint('hi')\n```\n\n"
    "[x](javascript:alert(1))\n"
)


def _prose(html: str) -> str:
    match = re.search(r'<div class="prose">(.*?)</div>\n', html, re.S)
    assert match, "no prose block"
    return match.group(1)


async def test_the_preview_equals_the_lesson_page_render(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher)
    text = PREVIEW_TEXT + uuid.uuid4().hex
    lesson = await create_lesson(session, course, position=1, content=text)
    await sign_in(client, teacher.email, DEFAULT_PASSWORD)
    edit = f"/teach/courses/{course.id}/lessons/{lesson.id}"
    token = await page_csrf(client, edit)
    # The live pane's endpoint (the script sends the token as a header).
    live = await client.post(
        f"/teach/courses/{course.id}/preview",
        data={"content": text},
        headers={"X-CSRF-Token": token, "Accept": "text/html"},
    )
    assert live.status_code == 200, live.text
    assert live.headers["content-type"].startswith("text/html")
    assert live.headers["cache-control"] == "no-store"
    assert "<script" not in live.text
    assert 'href="javascript' not in live.text
    assert '<span class="nb">print</span>' in live.text
    assert markdown.renderer.cached(text) is None  # drafts do not fill the cache
    lesson_page = await client.get(f"/courses/{course.id}/lessons/{lesson.id}", headers=HTML)
    assert _prose(lesson_page.text) == live.text == markdown.render(text)

    # The "Preview" button (no JavaScript): the editor again, inputs kept, nothing saved.
    draft = text + "\n\n*changed*"
    shown = await client.post(
        edit,
        data={
            "csrf_token": token,
            "action": "preview",
            "title": "Draft title",
            "summary": "s",
            "content": draft,
            "duration_minutes": "7",
            "position": "1",
            "is_preview": "on",
        },
        headers=HTML,
    )
    assert shown.status_code == 200, shown.text
    assert 'value="Draft title"' in shown.text
    assert "*changed*</textarea>" in shown.text
    assert csrf_from(shown.text)
    pane = re.search(
        r'<div class="prose" id="preview-pane">(.*?)</div>\n</section>', shown.text, re.S
    )
    assert pane
    assert pane.group(1) == markdown.render(draft)
    await session.refresh(lesson)
    assert (lesson.title, lesson.content) != ("Draft title", draft)
    assert lesson.content == text

    # The new-lesson form previews too, and adds nothing.
    new = await client.post(
        f"/teach/courses/{course.id}/lessons/new",
        data={"csrf_token": token, "action": "preview", "title": "", "content": "*n*"},
        headers=HTML,
    )
    assert new.status_code == 200
    assert "<em>n</em>" in new.text
    assert len(await _positions(client, course.id)) == 1


async def test_who_may_not_preview(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher)
    url = f"/teach/courses/{course.id}/preview"
    # Anonymous: to the sign-in page, nothing rendered.
    token = await page_csrf(client, "/login")
    anonymous = await client.post(url, data={"content": "x"}, headers={"X-CSRF-Token": token})
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")
    student = await create_user(session, settings)
    await enroll(session, student, course)
    other = await create_user(session, settings, role=UserRole.TEACHER)
    for user in (student, other):
        client.cookies.clear()
        await sign_in(client, user.email, DEFAULT_PASSWORD)
        token = await page_csrf(client, "/")
        refused = await client.post(
            url, data={"content": "**x**"}, headers={"X-CSRF-Token": token, **HTML}
        )
        assert refused.status_code == 403
        assert "<strong>x</strong>" not in refused.text
        button = await client.post(
            f"/teach/courses/{course.id}/lessons/new",
            data={"csrf_token": token, "action": "preview", "content": "**x**"},
            headers=HTML,
        )
        assert button.status_code == 403
    # The teacher, without a CSRF token: refused.
    client.cookies.clear()
    await sign_in(client, teacher.email, DEFAULT_PASSWORD)
    no_token = await client.post(url, data={"content": "x"}, headers=HTML)
    assert no_token.status_code == 403
    # Too long: 422, like saving it.
    token = await page_csrf(client, "/teach")
    too_long = await client.post(
        url, data={"content": "x" * 200_001}, headers={"X-CSRF-Token": token}
    )
    assert too_long.status_code == 422
    # An admin may.
    admin = await create_user(session, settings, role=UserRole.ADMIN)
    client.cookies.clear()
    await sign_in(client, admin.email, DEFAULT_PASSWORD)
    token = await page_csrf(client, "/")
    allowed = await client.post(url, data={"content": "**x**"}, headers={"X-CSRF-Token": token})
    assert allowed.status_code == 200
    assert allowed.text == "<p><strong>x</strong></p>\n"


async def test_the_preview_is_rate_limited_per_teacher(
    session: AsyncSession, settings: Settings, connection: AsyncConnection
) -> None:
    app = on_test_transaction(
        create_app(
            settings.model_copy(
                update={"rate_limits_enabled": True, "rate_limit_preview": "3/minute"}
            )
        ),
        connection,
    )
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await sign_in(client, teacher.email, DEFAULT_PASSWORD)
            token = await page_csrf(client, "/teach")
            url = f"/teach/courses/{course.id}/preview"
            headers = {"X-CSRF-Token": token}
            for n in range(3):
                ok = await client.post(url, data={"content": f"{n}"}, headers=headers)
                assert ok.status_code == 200
            limited = await client.post(url, data={"content": "4"}, headers=headers)
            assert limited.status_code == 429
            assert int(limited.headers["retry-after"]) > 0
    finally:
        await app.state.database.dispose()


# --- reordering ------------------------------------------------------------------------------


async def _positions(client: httpx.AsyncClient, course_id: int) -> list[str]:
    listed = await client.get(f"/api/v1/courses/{course_id}/lessons")
    return [f"{item['position']}:{item['title']}" for item in listed.json()["items"]]


async def test_reorder_by_buttons_and_by_the_drag_and_drop_request(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher)
    a, b, c = [
        await create_lesson(session, course, position=n, title=t)
        for n, t in ((1, "A"), (2, "B"), (3, "C"))
    ]
    await sign_in(client, teacher.email, DEFAULT_PASSWORD)
    edit = f"/teach/courses/{course.id}"
    editor = await client.get(edit, headers=HTML)
    assert '<script src="/static/lesson-order.js" defer></script>' in editor.text
    assert f'data-move-url="/teach/courses/{course.id}/lessons/{a.id}/move"' in editor.text
    assert "Students and progress" in editor.text
    # "Move down" on A is a plain form to position 2.
    down = await post_form(client, f"{edit}/lessons/{a.id}/move", {"position": "2"}, from_page=edit)
    assert down.status_code == 303
    assert down.headers["location"] == f"{edit}#lessons"
    assert await _positions(client, course.id) == ["1:B", "2:A", "3:C"]
    # The drag-and-drop script: the same endpoint, asking for JSON (header token).
    token = await page_csrf(client, edit)
    dropped = await client.post(
        f"{edit}/lessons/{c.id}/move",
        data={"position": "1"},
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )
    assert dropped.status_code == 200
    assert dropped.json() == {"id": c.id, "position": 1, "message": "“C” is now lesson 1."}
    assert "campus_flash" not in dropped.headers.get("set-cookie", "")
    assert await _positions(client, course.id) == ["1:C", "2:B", "3:A"]
    # Past the end: a 422 answer for the script, nothing moves.
    beyond = await client.post(
        f"{edit}/lessons/{b.id}/move",
        data={"position": "9"},
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )
    assert beyond.status_code == 422
    assert beyond.headers["content-type"].startswith("application/problem+json")
    assert await _positions(client, course.id) == ["1:C", "2:B", "3:A"]
    # The first lesson's "up" and the last one's "down" are there but hidden.
    editor = await client.get(edit, headers=HTML)
    assert editor.text.count('class="inline-form tt-up" hidden') == 1
    assert editor.text.count('class="inline-form tt-down" hidden') == 1


async def test_who_may_not_reorder(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher)
    await create_lesson(session, course, position=1, title="A")
    b = await create_lesson(session, course, position=2, title="B")
    url = f"/teach/courses/{course.id}/lessons/{b.id}/move"
    student = await create_user(session, settings)
    await enroll(session, student, course)
    other = await create_user(session, settings, role=UserRole.TEACHER)
    for user in (student, other):
        client.cookies.clear()
        await sign_in(client, user.email, DEFAULT_PASSWORD)
        token = await page_csrf(client, "/")
        refused = await client.post(
            url,
            data={"position": "1"},
            headers={"X-CSRF-Token": token, "Accept": "application/json"},
        )
        assert refused.status_code == 403
    client.cookies.clear()
    await sign_in(client, teacher.email, DEFAULT_PASSWORD)
    no_token = await client.post(
        url, data={"position": "1"}, headers={"Accept": "application/json"}
    )
    assert no_token.status_code == 403
    assert await _positions(client, course.id) == ["1:A", "2:B"]
