"""Browser flows: catalog search, a locked lesson, XSS stays text, the teacher's editor, admin."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from tests.browser.conftest import snap
from tests.factories import DEFAULT_PASSWORD, create_course, create_lesson, create_user

LESSON_MD = """A task API keeps **your** to-do items. In this lesson we define the model.

```python
class Task(Base):
    title: Mapped[str]
```

- status: `todo`, `in_progress`, `completed`
- priority: low < medium < high

> Tip: validate input at the edge.

<script>document.title = "pwned"</script>
<img src=x onerror="document.title='pwned'">
"""


async def _catalog(db: AsyncSession, settings: Settings) -> dict[str, Any]:
    teacher = await create_user(db, settings, role=UserRole.TEACHER, full_name="Tess Teacher")
    api = await create_course(
        db,
        teacher,
        title="Building a Task API with FastAPI",
        description="Design, build and test a **task API** step by step.",
        level="intermediate",
    )
    intro = await create_lesson(
        db,
        api,
        position=1,
        title="What we build",
        is_preview=True,
        content=LESSON_MD,
        summary="The plan and the model",
        duration_minutes=8,
    )
    locked = await create_lesson(
        db,
        api,
        position=2,
        title="Storing tasks",
        content="Secret lesson body",
        duration_minutes=12,
    )
    await create_course(db, teacher, title="Python from scratch", description="Basics.")
    await create_course(
        db,
        teacher,
        title="Async SQLAlchemy in depth",
        description="Sessions and loading.",
        level="advanced",
        price_cents=2900,
    )
    await db.commit()
    return {"teacher": teacher, "course": api, "intro": intro, "locked": locked}


async def test_catalog_search_lesson_prompt_and_xss(
    page: Any, db: AsyncSession, settings: Settings
) -> None:
    data = await _catalog(db, settings)
    await page.goto("/")
    await page.get_by_role("heading", name="Course catalog").wait_for()
    await snap(page, "catalog")
    await page.get_by_role("searchbox", name="Search").fill("task api")
    await page.get_by_role("button", name="Search").click()
    await page.get_by_text("1 course matches your search.").wait_for()
    await page.get_by_label("Level").select_option("advanced")
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("heading", name="No courses found").wait_for()
    await page.get_by_role("link", name="Clear").first.click()

    await page.get_by_role("link", name="Building a Task API with FastAPI").click()
    await page.get_by_role("link", name="Sign in to enroll").wait_for()
    await snap(page, "course")

    await page.get_by_role("link", name="What we build").first.click()
    await page.get_by_role("heading", name="What we build").wait_for()
    # The script and the onerror handler are shown as text and never run.
    assert await page.title() != "pwned"
    assert await page.locator(".prose script").count() == 0
    assert await page.locator(".prose img").count() == 0
    assert "<script>" in await page.locator(".prose").inner_text()
    await snap(page, "lesson")

    response = await page.goto(f"/courses/{data['course'].id}/lessons/{data['locked'].id}")
    assert response.status == 403
    await page.get_by_role("link", name="Sign in to read").wait_for()
    assert "Secret lesson body" not in await page.content()
    await snap(page, "lesson-locked")
    assert page.console_errors == []


async def test_teacher_builds_reorders_and_publishes_a_course(
    page: Any, db: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(db, settings, role=UserRole.TEACHER, full_name="Tess Teacher")
    await db.commit()
    await page.goto("/teach")
    assert "/login?next=/teach" in page.url
    await page.get_by_label("Email").fill(teacher.email)
    await page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Teach").wait_for()
    await page.get_by_role("link", name="New course").click()
    await page.get_by_label("Title").fill("Testing FastAPI apps")
    await page.get_by_label("Description").fill("Fixtures, **transactions** and httpx.")
    await page.get_by_label("Level").select_option("intermediate")
    await page.get_by_label("Price").fill("abc")
    await page.get_by_role("button", name="Create course").click()
    await page.locator("#e-price").wait_for()
    assert await page.get_by_label("Title").input_value() == "Testing FastAPI apps"
    await page.get_by_label("Price").fill("0")
    await page.get_by_role("button", name="Create course").click()
    await page.get_by_text("Course “Testing FastAPI apps” created.").wait_for()

    for title in ("Fixtures", "Transactions", "Clients"):
        await page.get_by_role("link", name="Add lesson").click()
        await page.get_by_label("Title").fill(title)
        await page.get_by_label("Content").fill(f"# {title}\n\nText about {title.lower()}.")
        await page.get_by_role("button", name="Add lesson").click()
        await page.get_by_text(f"Lesson “{title}” added.").wait_for()
    await page.get_by_role("button", name="Move “Clients” up").click()
    await page.get_by_text("“Clients” is now lesson 2.").wait_for()
    titles = await page.locator("#lessons .lesson-info a").all_inner_texts()
    assert titles == ["Fixtures", "Clients", "Transactions"]
    await page.get_by_role("button", name="Publish").click()
    await page.get_by_text("is published").wait_for()
    await snap(page, "teach-course")

    await page.get_by_role("button", name="Sign out").click()
    await page.get_by_role("searchbox", name="Search").fill("testing fastapi")
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("link", name="Testing FastAPI apps").wait_for()


async def test_admin_changes_a_role(page: Any, db: AsyncSession, settings: Settings) -> None:
    admin = await create_user(db, settings, role=UserRole.ADMIN, full_name="Ada Admin")
    await create_user(db, settings, full_name="Sam Student", email="sam@campus.example")
    await db.commit()
    await page.goto("/login?next=/admin/users")
    await page.get_by_label("Email").fill(admin.email)
    await page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Users").wait_for()
    await page.get_by_label("Role of Sam Student").select_option("teacher")
    row = page.locator("tr", has=page.get_by_text("sam@campus.example"))
    await row.get_by_role("button", name="Save role").click()
    await page.get_by_text("Sam Student is now teacher, active.").wait_for()
    assert await page.get_by_label("Role of Sam Student").input_value() == "teacher"
    await snap(page, "admin-users")
