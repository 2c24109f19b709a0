"""Every page type in Chromium, as each kind of visitor sees it (issue 18):

* nothing widens the page at 390 px or 1280 px (``scrollWidth <= innerWidth``): code blocks
  and wide tables scroll inside themselves, long words and URLs wrap;
* axe-core (shipped by the axe-playwright-python package) finds no serious or critical
  violation, in the light and in the dark colour scheme (``prefers-color-scheme``);
* the lesson page's course outline is readable at 1280 px (titles are not squeezed to one
  word a line, the badges do not overlap the summary);
* error pages (403, 404, 405, CSRF failure) keep the signed-in header;
* a keyboard reaches the skip link first, sees where the focus is, and is never trapped.

The demo data (``campus demo``) plus a lesson of long lines, a certificate and a purchase is
loaded once for the module; each visitor signs in once, in a browser context of their own.
``CAMPUS_SHOTS=/some/dir`` also saves a full-page screenshot of every page at both widths in
both schemes (for a person to look at; off by default to keep the run short).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.accounts.demo import DEMO_USERS
from campus.demo import run_loaders
from campus.kit.clock import utcnow
from campus.models.assessments import QuizAttempt
from campus.models.certificates import Certificate, CertificateStatus
from campus.models.courses import Course, Lesson
from campus.models.payments import Payment, PaymentStatus
from campus.models.tasks import Task
from tests.browser.conftest import LiveServer
from tests.conftest import truncate_all
from tests.factories import create_course, create_lesson, enroll

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SCHEMES = ("light", "dark")
SHOTS = Path(os.environ["CAMPUS_SHOTS"]) if os.environ.get("CAMPUS_SHOTS") else None
CHECKOUT_URL = "https://checkout.stripe.test/c/pay/cs_test_every_page"

LONG_WORD = "Donaudampfschifffahrtsgesellschaftskapitänswitwenrentenversicherungsanstalt" * 2
LONG_URL = "https://example.org/" + "a-very-long-path-segment/" * 12 + "?query=" + "x" * 80
WIDE_LESSON = f"""A lesson whose parts are all wider than a phone.

```python
def a_function_with_a_long_signature(first_argument, second_argument, third_argument):
    return {{"key": "a string literal much longer than any phone screen is wide, on purpose"}}
```

Inline code that does not break by itself: `{"x" * 120}`.

A word that is longer than the screen: {LONG_WORD}.

A bare link: <{LONG_URL}> and a [link with a long text {LONG_WORD}]({LONG_URL}).

| Column one | Column two | Column three | Column four | Column five | Column six |
|---|---|---|---|---|---|
| {LONG_WORD} | value | value | value | value | {LONG_URL} |
"""


@dataclass
class Site:
    """What the module's pages are about: ids from the demo data and the extras."""

    course: int  # the demo course, the demo student enrolled with some lessons done
    lesson: int  # its first lesson (code, a quiz)
    locked: int  # one of its lessons that is not a preview
    wide_course: int
    wide_lesson: int
    paid_course: int
    attempt: int
    task: int
    certificate: str
    checkout_session: str
    paid_session: str
    contexts: dict[str, Any] = field(default_factory=dict)


async def _seed(db: AsyncSession) -> Site:
    ctx = await run_loaders(db)
    teacher, student = ctx.objects["teacher"], ctx.objects["student"]
    course: Course = ctx.objects["demo_course"]
    lessons = (
        (await db.execute(select(Lesson).where(Lesson.course_id == course.id))).scalars().all()
    )
    first = min(lessons, key=lambda lesson: lesson.position)
    locked = next(lesson for lesson in lessons if not lesson.is_preview)
    wide = await create_course(
        db, teacher, title="Wide content: " + LONG_WORD, description=f"See {LONG_URL}"
    )
    wide_lesson = await create_lesson(
        db, wide, position=1, title="Long lines", content=WIDE_LESSON, is_preview=True
    )
    await create_lesson(db, wide, position=2, title="A second lesson " + LONG_WORD)
    await enroll(db, student, wide)
    paid = await create_course(db, teacher, title="A paid course", price_cents=4900)
    await create_lesson(db, paid, position=1, title="Paid lesson")
    db.add_all(
        [
            Payment(
                user_id=student.id,
                course_id=paid.id,
                amount_cents=4900,
                currency="USD",
                status=PaymentStatus.PENDING,
                checkout_session_id="cs_test_every_page",
                checkout_url=CHECKOUT_URL,
            ),
            Payment(
                user_id=student.id,
                course_id=wide.id,
                amount_cents=1900,
                currency="USD",
                status=PaymentStatus.PAID,
                checkout_session_id="cs_test_paid",
                paid_at=utcnow(),
            ),
        ]
    )
    certificate = Certificate(
        code="every-page-certificate-1",
        user_id=student.id,
        course_id=course.id,
        student_name=student.full_name,
        course_title=course.title,
        teacher_name=teacher.full_name,
        issued_at=utcnow().replace(microsecond=0),
        status=CertificateStatus.VALID,
    )
    db.add(certificate)
    await db.flush()
    attempt = await db.scalar(select(QuizAttempt.id).where(QuizAttempt.user_id == student.id))
    task = await db.scalar(select(Task.id).where(Task.owner_id == student.id))
    assert attempt is not None
    assert task is not None
    return Site(
        course=course.id,
        lesson=first.id,
        locked=locked.id,
        wide_course=wide.id,
        wide_lesson=wide_lesson.id,
        paid_course=paid.id,
        attempt=attempt,
        task=task,
        certificate=certificate.code,
        checkout_session="cs_test_every_page",
        paid_session="cs_test_paid",
    )


async def _signed_in(browser: Any, live_server: LiveServer, email: str, password: str) -> Any:
    context = await browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = await context.new_page()
    await page.goto("/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("Signed in as").wait_for()
    await page.close()
    return context


@pytest.fixture(scope="module")
async def site(browser: Any, live_server: LiveServer, engine: AsyncEngine) -> AsyncIterator[Site]:
    await truncate_all(engine)
    async with AsyncSession(engine, expire_on_commit=False) as db:
        site = await _seed(db)
        await db.commit()
    anonymous = await browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    anonymous.set_default_timeout(15_000)
    site.contexts["anonymous"] = anonymous
    for role, email, password, _ in DEMO_USERS:
        site.contexts[role.value] = await _signed_in(browser, live_server, email, password)
    try:
        yield site
    finally:
        for context in site.contexts.values():
            await context.close()
        await truncate_all(engine)


def page_types(site: Site) -> list[tuple[str, str, str]]:
    """(visitor, path, name) for every page type."""
    c, w, p = site.course, site.wide_course, site.paid_course
    return [
        ("anonymous", "/", "catalog"),
        ("anonymous", "/?q=python&level=beginner", "catalog-search"),
        ("anonymous", f"/courses/{c}", "course-anonymous"),
        ("anonymous", f"/courses/{w}", "course-wide-anonymous"),
        ("anonymous", f"/courses/{w}/lessons/{site.wide_lesson}", "lesson-wide-anonymous"),
        ("anonymous", f"/courses/{c}/lessons/{site.locked}", "lesson-locked"),
        ("anonymous", "/login", "login"),
        ("anonymous", "/login?ended=1", "login-ended"),
        ("anonymous", "/register", "register"),
        ("anonymous", "/forgot-password", "forgot-password"),
        ("anonymous", f"/certificates/{site.certificate}", "certificate-public"),
        ("anonymous", "/no/such/page", "error-404-anonymous"),
        ("student", "/", "catalog-student"),
        ("student", f"/courses/{c}", "course-student"),
        ("student", f"/courses/{w}", "course-wide-student"),
        ("student", f"/courses/{c}/lessons/{site.lesson}", "lesson-student"),
        ("student", f"/courses/{c}/lessons/{site.locked}", "lesson-student-2"),
        ("student", f"/courses/{w}/lessons/{site.wide_lesson}", "lesson-wide-student"),
        ("student", f"/courses/{c}/lessons/{site.lesson}/quiz", "quiz"),
        ("student", f"/attempts/{site.attempt}", "quiz-attempt"),
        ("student", f"/courses/{c}/chat", "chat"),
        ("student", "/cabinet", "cabinet"),
        ("student", "/tasks", "tasks"),
        ("student", f"/tasks/{site.task}/edit", "task-edit"),
        ("student", "/notifications", "notifications"),
        ("student", "/account", "account"),
        ("student", "/account/sign-in-methods", "sign-in-methods"),
        ("student", "/account/payments", "purchases"),
        ("student", f"/courses/{p}", "course-paid-student"),
        ("student", f"/courses/{p}/checkout?session_id={site.checkout_session}", "checkout"),
        ("student", f"/courses/{w}/purchase?session_id={site.paid_session}", "purchase-done"),
        ("student", f"/certificates/{site.certificate}", "certificate"),
        ("student", "/teach", "error-403-student"),
        ("student", "/no/such/page", "error-404-student"),
        ("teacher", "/teach", "teach"),
        ("teacher", "/teach/courses/new", "course-new"),
        ("teacher", f"/teach/courses/{c}", "course-edit"),
        ("teacher", f"/teach/courses/{w}", "course-edit-wide"),
        ("teacher", f"/teach/courses/{c}/lessons/new", "lesson-new"),
        ("teacher", f"/teach/courses/{c}/lessons/{site.lesson}", "lesson-editor"),
        ("teacher", f"/teach/courses/{c}/lessons/{site.lesson}/quiz", "quiz-editor"),
        ("teacher", f"/teach/courses/{c}/students", "gradebook"),
        ("teacher", f"/courses/{c}", "course-teacher"),
        ("teacher", f"/courses/{c}/lessons/{site.lesson}", "lesson-teacher"),
        ("teacher", f"/courses/{c}/chat", "chat-teacher"),
        ("admin", "/admin/users", "admin-users"),
        ("admin", "/tasks", "tasks-admin"),
    ]


async def _open(site: Site, visitor: str, path: str) -> Any:
    page = await site.contexts[visitor].new_page()
    # The checkout step refreshes to Stripe: that navigation goes nowhere, the page stays.
    await page.route(CHECKOUT_URL, lambda route: route.abort())
    await page.goto(path)
    return page


WIDEST = """() => {
  const clipped = el => { for (let p = el.parentElement; p; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return true; } return false; };
  const over = [...document.querySelectorAll('body *')].filter(
    el => el.getBoundingClientRect().right > window.innerWidth + 1 && !clipped(el));
  const leaves = over.filter(el => !over.some(o => o !== el && el.contains(o)));
  return leaves.slice(0, 3).map(el => el.tagName.toLowerCase() +
    (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : ''));
}"""


async def _overflow(page: Any) -> str | None:
    """How far the page is wider than the screen and what sticks out, or None."""
    extra = int(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))
    return f"+{extra}px {await page.evaluate(WIDEST)}" if extra > 0 else None


async def test_no_page_is_wider_than_the_screen(site: Site) -> None:
    too_wide: list[str] = []
    for visitor, path, name in page_types(site):
        page = await _open(site, visitor, path)
        for viewport in (PHONE, DESKTOP):
            await page.set_viewport_size(viewport)
            for scheme in SCHEMES:
                await page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
                if scheme == "light" and (overflow := await _overflow(page)):
                    too_wide.append(f"{name} ({path}) at {viewport['width']}: {overflow}")
                if SHOTS is not None:
                    SHOTS.mkdir(parents=True, exist_ok=True)
                    shot = SHOTS / f"{name}-{viewport['width']}-{scheme}.png"
                    await page.screenshot(path=str(shot), full_page=True)
        await page.close()
    assert too_wide == [], "\n".join(too_wide)


async def test_code_blocks_scroll_inside_themselves(site: Site) -> None:
    page = await _open(site, "student", f"/courses/{site.wide_course}/lessons/{site.wide_lesson}")
    await page.set_viewport_size(PHONE)
    pre = page.locator(".prose pre").first
    assert await pre.evaluate("el => el.scrollWidth > el.clientWidth")  # it scrolls...
    assert await pre.evaluate("el => getComputedStyle(el).overflowX") == "auto"
    box = await pre.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= PHONE["width"]  # ...within the page
    await page.close()


SERIOUS = {"serious", "critical"}


async def test_no_serious_accessibility_violation_in_either_scheme(site: Site) -> None:
    axe = Axe()
    found: list[str] = []
    for visitor, path, name in page_types(site):
        page = await _open(site, visitor, path)
        # Each scheme once, each at one of the widths (contrast does not change with width).
        for scheme, viewport in zip(SCHEMES, (PHONE, DESKTOP), strict=True):
            await page.set_viewport_size(viewport)
            await page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
            results = await axe.run(page)
            for violation in results.response["violations"]:
                if violation["impact"] in SERIOUS:
                    targets = [" ".join(node["target"]) for node in violation["nodes"][:3]]
                    where = f"{name} [{scheme}, {viewport['width']} px]"
                    found.append(f"{where} {violation['id']}: {targets}")
        await page.close()
    assert found == [], "\n".join(found)


async def test_the_dark_scheme_is_dark(site: Site) -> None:
    page = await _open(site, "student", f"/courses/{site.course}/lessons/{site.lesson}")
    colours = {}
    for scheme in SCHEMES:
        await page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
        colours[scheme] = await page.evaluate(
            "[getComputedStyle(document.body).backgroundColor,"
            " getComputedStyle(document.querySelector('.card')).backgroundColor]"
        )
    assert colours["light"] != colours["dark"]
    luminance = await page.evaluate(
        """() => { const [r, g, b] = getComputedStyle(document.body).backgroundColor
             .match(/\\d+/g).map(Number); return (r + g + b) / 3; }"""
    )
    assert luminance < 60  # still the dark scheme
    await page.close()


async def test_the_lesson_outline_is_readable_at_desktop_width(site: Site) -> None:
    page = await _open(site, "student", f"/courses/{site.course}/lessons/{site.lesson}")
    await page.set_viewport_size(DESKTOP)
    rows = page.locator("aside .lesson-row")
    assert await rows.count() >= 5
    for index in range(await rows.count()):
        row = rows.nth(index)
        info = await row.locator(".lesson-info").bounding_box()
        assert info is not None
        assert info["width"] >= 150, await row.inner_text()
        texts = [
            box
            for text in await row.locator(".lesson-info > a, .lesson-info > .muted").all()
            if (box := await text.bounding_box()) is not None
        ]
        for badge in await row.locator(".badge").all():
            b = await badge.bounding_box()
            assert b is not None
            for t in texts:
                apart = (
                    b["x"] >= t["x"] + t["width"]
                    or t["x"] >= b["x"] + b["width"]
                    or b["y"] >= t["y"] + t["height"]
                    or t["y"] >= b["y"] + b["height"]
                )
                assert apart, f"a badge overlaps the text of {await row.inner_text()}"
        title = row.locator(".lesson-info > a")
        line_height = await title.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)")
        box = await title.bounding_box()
        assert box is not None
        assert box["height"] <= 3 * line_height, await title.inner_text()
    await page.close()


async def _assert_signed_in_header(page: Any, name: str) -> None:
    header = page.locator(".site-header")
    assert await header.get_by_role("button", name="Sign out").count() == 1, name
    assert await header.get_by_role("link", name="Sign in").count() == 0, name
    assert await header.get_by_role("link", name="My learning").count() == 1, name


async def test_error_pages_keep_the_signed_in_header(site: Site) -> None:
    context = site.contexts["student"]
    page = await context.new_page()
    for path, status in (
        ("/no/such/page", 404),
        (f"/courses/{site.course}/lessons/999999", 404),
        ("/teach", 403),
        ("/admin/users", 403),
        (f"/courses/{site.course}/lessons/{site.lesson}/complete", 405),
    ):
        response = await page.goto(path)
        assert response is not None
        assert response.status == status, path
        await _assert_signed_in_header(page, path)
    # A form posted with a stale CSRF token: the failure page still knows who is signed in.
    await page.goto("/tasks")
    await page.evaluate(
        "document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'stale')"
    )
    async with page.expect_navigation() as navigation:
        await page.locator(".site-header").get_by_role("button", name="Sign out").click()
    response = await navigation.value
    assert response is not None
    assert response.status == 403
    await page.get_by_text("403").first.wait_for()
    await _assert_signed_in_header(page, "csrf")
    await page.close()


async def test_the_header_of_a_404_page_works(
    site: Site, browser: Any, live_server: LiveServer
) -> None:
    """The bell counts and Sign out signs out on a page that no route answered (its header
    had no CSRF token: signing out there was a CSRF failure)."""
    _, email, password, _ = DEMO_USERS[2]  # the student has unread notifications
    context = await _signed_in(browser, live_server, email, password)
    page = await context.new_page()
    response = await page.goto("/no/such/page")
    assert response is not None
    assert response.status == 404
    assert await page.locator("#bell-count").is_visible()
    await page.locator(".site-header").get_by_role("button", name="Sign out").click()
    await page.get_by_text("You are signed out.").wait_for()
    assert await page.locator(".site-header").get_by_role("link", name="Sign in").count() == 1
    await context.close()


async def test_keyboard_use(site: Site) -> None:
    """The skip link comes first and moves the focus to the content; the focus is always
    outlined; tabbing goes through the page to the footer and is not trapped."""
    for visitor, path in (
        ("student", f"/courses/{site.course}/lessons/{site.lesson}"),
        ("teacher", f"/teach/courses/{site.course}/lessons/{site.lesson}"),
        ("student", "/tasks"),
        ("anonymous", "/login"),
    ):
        page = await _open(site, visitor, path)
        await page.keyboard.press("Tab")
        first = await page.evaluate("document.activeElement.textContent.trim()")
        assert first == "Skip to content", path
        assert await page.evaluate("getComputedStyle(document.activeElement).left") != "-999px"
        await page.keyboard.press("Enter")
        assert await page.evaluate("document.activeElement.id") == "main", path
        seen: list[str] = []
        for _ in range(200):
            await page.keyboard.press("Tab")
            where = await page.evaluate(
                """() => { const el = document.activeElement;
                  const style = getComputedStyle(el);
                  return [el.closest('footer') ? 'footer' : el.tagName + (el.name || el.href || ''),
                          style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2
                          || style.boxShadow !== 'none'] }"""
            )
            assert where[1], f"no visible focus on {where[0]} at {path}"
            seen.append(where[0])
            if where[0] == "footer":
                break
        assert seen[-1] == "footer", f"the keyboard never reached the footer of {path}"
        await page.close()
