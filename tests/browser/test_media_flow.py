"""Browser: a teacher uploads an image and a cover from the editor (no script needed),
a disguised file is refused beside its field, the lesson shows the image (CSP 'self')."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from tests.browser.conftest import snap
from tests.factories import DEFAULT_PASSWORD, create_course, create_lesson, create_user
from tests.media.conftest import HTML_AS_PNG, image_bytes


async def _sign_in(page: Any, email: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("Signed in as").wait_for()


async def _fits_a_phone(page: Any) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide at 390px"
    await page.set_viewport_size({"width": 1280, "height": 900})


async def test_upload_cover_and_image_in_a_lesson(
    page: Any, db: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    teacher = await create_user(db, settings, role=UserRole.TEACHER, full_name="Tess Teacher")
    course = await create_course(db, teacher, title="Drawing with Python")
    lesson = await create_lesson(db, course, position=1, title="Shapes", is_preview=True)
    await db.commit()
    picture = tmp_path / "Triangle sketch.png"
    picture.write_bytes(image_bytes("PNG", (640, 360), colour=(20, 140, 120)))
    disguised = tmp_path / "innocent.png"
    disguised.write_bytes(HTML_AS_PNG)
    cover = tmp_path / "cover.jpg"
    cover.write_bytes(image_bytes("JPEG", (1200, 600), colour=(60, 80, 220)))

    await _sign_in(page, teacher.email)
    await page.goto(f"/teach/courses/{course.id}")
    await snap(page, "media-course-editor")
    await _fits_a_phone(page)
    await page.locator("#f-file").set_input_files(str(disguised))
    await page.get_by_role("button", name="Upload", exact=True).click()
    error = page.locator("#e-file")
    await error.wait_for()
    assert "HTML page" in await error.inner_text()
    await snap(page, "media-refused")
    await _fits_a_phone(page)

    await page.locator("#f-file").set_input_files(str(picture))
    await page.get_by_role("button", name="Upload", exact=True).click()
    await page.get_by_text("“Triangle sketch.png” uploaded.").wait_for()
    await page.locator("#f-cover").set_input_files(str(cover))
    await page.get_by_role("button", name="Upload cover").click()
    await page.get_by_text("Cover image set.").wait_for()
    snippet = await page.locator('input.snippet[value^="![Triangle"]').input_value()
    assert snippet.startswith("![Triangle sketch](/media/")
    thumbs = page.locator(".media-thumb img")
    assert await thumbs.count() == 2
    assert await thumbs.first.evaluate("img => img.complete && img.naturalWidth > 0")
    await page.locator("#media").scroll_into_view_if_needed()
    await snap(page, "media-editor")
    await _fits_a_phone(page)

    shown = page.locator(".prose img")
    for attempt in range(1, 4):
        # A render past CAMPUS_MARKDOWN_TIMEOUT_SECONDS (a loaded machine) shows the text
        # unformatted, cached by the text: a changed text is rendered anew.
        await page.goto(f"/teach/courses/{course.id}/lessons/{lesson.id}")
        content = f"# Shapes\n\nA triangle:\n\n{snippet}\n" + "\n" * attempt
        await page.locator("#f-content").fill(content)
        await page.get_by_role("button", name="Save lesson").click()
        await page.goto(f"/courses/{course.id}/lessons/{lesson.id}")
        if await shown.count():
            break
    await shown.wait_for()
    assert await shown.evaluate("img => img.complete && img.naturalWidth > 0")
    await snap(page, "media-lesson")
    await _fits_a_phone(page)

    await page.goto("/")
    card_cover = page.locator(".course-cover.has-image img").first
    await card_cover.wait_for()
    assert await card_cover.evaluate("img => img.complete && img.naturalWidth > 0")
    await snap(page, "media-catalog")
    await _fits_a_phone(page)
    assert page.console_errors == []
