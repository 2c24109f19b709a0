"""§10 task board over HTTP: create, edit, start, complete, reopen, delete, filter; who may
not; the cabinet's tasks due soon; completed lessons marked on the course pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.kit.pagination.params import PageParams
from campus.models.accounts import User, UserRole
from campus.models.tasks import Task
from campus.tasks import service as tasks_service
from campus.tasks.schemas import TaskCreate, TaskFilters, TaskStatus
from tests.factories import DEFAULT_PASSWORD, create_course, create_lesson, create_user, enroll
from tests.pagehelpers import HTML, page_csrf, post_form, sign_in


async def _signed_in(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> User:
    user = await create_user(session, settings, full_name="Tina Tasker")
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    return user


async def _task(session: AsyncSession, owner: User, title: str, **fields: object) -> Task:
    """A new task, as the ORM entity (the service answers with its row) to refresh later."""
    row = await tasks_service.create_task(
        session, owner, data=TaskCreate.model_validate({"title": title, **fields})
    )
    task = await session.get(Task, row.id)
    assert task is not None
    return task


def _column(html: str, status: str) -> str:
    """The HTML of one board column."""
    match = re.search(rf'<section class="column column-{status}".*?</section>', html, re.S)
    return match.group(0) if match else ""


async def test_board_needs_sign_in_and_nav_shows_tasks(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    anonymous = await client.get("/tasks?status=todo", headers=HTML)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=/tasks")
    catalog = await client.get("/", headers=HTML)
    assert 'href="/tasks"' not in catalog.text
    edit = await client.get("/tasks/1/edit", headers=HTML)
    assert edit.status_code == 303
    assert edit.headers["location"] == "/login?next=/tasks/1/edit"

    await _signed_in(client, session, settings)
    board = await client.get("/tasks", headers=HTML)
    assert board.status_code == 200
    assert '<a href="/tasks" aria-current="page">Tasks</a>' in board.text
    assert "No tasks yet" in board.text


async def test_create_complete_start_reopen_and_delete(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await _signed_in(client, session, settings)
    created = await post_form(
        client,
        "/tasks",
        {
            "title": "  Read chapter 2  ",
            "description": "Take notes",
            "priority": "high",
            "due_date": "2031-05-04",
            "lesson_id": "",
            "next": "/tasks?priority=high",
        },
    )
    assert created.status_code == 303
    assert created.headers["location"] == "/tasks?priority=high"
    board = await client.get("/tasks?priority=high", headers=HTML)
    assert "Task “Read chapter 2” added." in board.text
    assert "Read chapter 2" in _column(board.text, "todo")
    assert "Due May 4, 2031" in board.text
    assert "High priority" in board.text
    (row,) = (
        await tasks_service.list_tasks(session, user, filters=TaskFilters(), params=PageParams())
    ).items  # the list reads rows (TaskRow); the entity, to refresh below:
    task = await tasks_service.get_task(session, user, task_id=row.id)
    assert task.due_date == datetime(2031, 5, 4, 23, 59, 59, tzinfo=UTC)
    assert task.description == "Take notes"

    started = await post_form(
        client, f"/tasks/{task.id}/status", {"status": "in_progress"}, from_page="/tasks"
    )
    assert started.status_code == 303
    board = await client.get("/tasks", headers=HTML)
    assert "Read chapter 2" in _column(board.text, "in_progress")
    done = await post_form(client, f"/tasks/{task.id}/complete", {}, from_page="/tasks")
    assert done.status_code == 303
    board = await client.get("/tasks", headers=HTML)
    assert "Task “Read chapter 2” completed. Nice work!" in board.text
    assert "Read chapter 2" in _column(board.text, "completed")
    await session.refresh(task)
    assert task.status == TaskStatus.COMPLETED
    assert task.completed_at is not None
    reopened = await post_form(
        client, f"/tasks/{task.id}/status", {"status": "todo"}, from_page="/tasks"
    )
    assert reopened.status_code == 303
    await session.refresh(task)
    assert task.status == TaskStatus.TODO
    assert task.completed_at is None
    bad_move = await post_form(
        client, f"/tasks/{task.id}/status", {"status": "completed"}, from_page="/tasks"
    )
    assert bad_move.status_code == 422

    evil = await post_form(
        client, f"/tasks/{task.id}/complete", {"next": "//evil.example/"}, from_page="/tasks"
    )
    assert evil.headers["location"] == "/tasks"
    deleted = await post_form(client, f"/tasks/{task.id}/delete", {}, from_page="/tasks")
    assert deleted.status_code == 303
    board = await client.get("/tasks", headers=HTML)
    assert "Task “Read chapter 2” deleted." in board.text
    assert "No tasks yet" in board.text


async def test_form_errors_are_shown_beside_the_field_with_the_input(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await _signed_in(client, session, settings)
    blank = await post_form(
        client,
        "/tasks",
        {
            "title": "   ",
            "description": "My <b>notes</b>",
            "priority": "urgent",
            "due_date": "next friday",
            "lesson_id": "abc",
        },
    )
    assert blank.status_code == 422
    text = blank.text
    assert '<details class="disclosure new-task" open>' in text
    assert 'id="e-title"' in text
    assert 'id="f-title"' in text
    assert "My &lt;b&gt;notes&lt;/b&gt;" in text  # the input, escaped
    assert 'id="e-due_date"' in text
    assert "Enter a date like 2026-12-01." in text
    assert 'value="next friday"' in text
    assert 'id="e-lesson_id"' in text
    blank_date_ok = await post_form(
        client, "/tasks", {"title": "", "priority": "urgent", "due_date": "", "lesson_id": ""}
    )
    assert blank_date_ok.status_code == 422
    assert 'id="e-priority"' in blank_date_ok.text
    assert "Choose one of the options." in blank_date_ok.text
    too_long = await post_form(
        client, "/tasks", {"title": "x" * 201, "priority": "low", "due_date": "", "lesson_id": ""}
    )
    assert too_long.status_code == 422
    assert "Use at most 200 characters." in too_long.text
    board = await client.get("/tasks", headers=HTML)
    assert "No tasks yet" in board.text


async def test_lesson_choices_links_and_unreadable_lessons(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    taken = await create_course(session, teacher, title="Taken course")
    lesson = await create_lesson(session, taken, position=1, title="Dependencies")
    other = await create_course(session, teacher, title="Not taken course")
    closed = await create_lesson(session, other, position=1, title="Closed lesson")
    user = await _signed_in(client, session, settings)
    await enroll(session, user, taken)

    board = await client.get("/tasks", headers=HTML)
    assert '<optgroup label="Taken course">' in board.text
    assert f'<option value="{lesson.id}">1. Dependencies · Taken course</option>' in board.text
    assert "Closed lesson" not in board.text

    refused = await post_form(
        client,
        "/tasks",
        {"title": "Sneak", "priority": "low", "due_date": "", "lesson_id": str(closed.id)},
    )
    assert refused.status_code == 422
    assert "Choose a lesson from the list" in refused.text
    assert f'<option value="{closed.id}"' not in refused.text

    linked = await post_form(
        client,
        "/tasks",
        {"title": "Study DI", "priority": "medium", "due_date": "", "lesson_id": str(lesson.id)},
    )
    assert linked.status_code == 303
    board = await client.get("/tasks", headers=HTML)
    assert f'href="/courses/{taken.id}/lessons/{lesson.id}"' in board.text
    filtered = await client.get("/tasks?q=nothing-like-this", headers=HTML)
    assert "No tasks match" in filtered.text


async def test_filters_and_sorts(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await _signed_in(client, session, settings)
    await _task(session, user, "Alpha high", priority="high")
    await _task(session, user, "Beta low done", priority="low", status="completed")
    await _task(session, user, "Gamma medium", priority="medium", description="about caching")

    completed = await client.get("/tasks?status=completed", headers=HTML)
    assert "Beta low done" in completed.text
    assert "Alpha high" not in completed.text
    assert 'class="board board-single"' in completed.text
    assert '<a href="/tasks?status=completed" aria-current="page">Completed</a>' in completed.text
    high = await client.get("/tasks?priority=high", headers=HTML)
    assert "Alpha high" in high.text
    assert "Gamma medium" not in high.text
    search = await client.get("/tasks?q=CACHING", headers=HTML)
    assert "Gamma medium" in search.text
    assert "Alpha high" not in search.text
    assert "1 task matches the filters." in search.text
    by_title = await client.get("/tasks?sort=-priority", headers=HTML)
    todo = _column(by_title.text, "todo")
    assert todo.index("Alpha high") < todo.index("Gamma medium")
    # Every order of the API works on the board (the README lists them) ...
    ascending = await client.get("/tasks?sort=priority", headers=HTML)
    assert ascending.status_code == 200
    todo = _column(ascending.text, "todo")
    assert todo.index("Gamma medium") < todo.index("Alpha high")
    # ... and an unknown value is ignored: the whole board, not an error page.
    for bad in ("status=done", "priority=urgent", "sort=owner_id", "sort=status%2Cid"):
        response = await client.get(f"/tasks?{bad}", headers=HTML)
        assert response.status_code == 200, bad
        assert "Alpha high" in response.text, bad
        assert "Gamma medium" in response.text, bad


async def test_edit_keeps_the_exact_due_time_unless_the_date_changes(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await _signed_in(client, session, settings)
    task = await _task(session, user, "From the API", due_date="2031-01-02T17:00:00Z")
    form = await client.get(f"/tasks/{task.id}/edit", headers=HTML)
    assert form.status_code == 200
    assert 'value="From the API"' in form.text
    assert 'value="2031-01-02"' in form.text
    values = {
        "title": "Renamed",
        "description": "",
        "priority": "low",
        "status": "in_progress",
        "due_date": "2031-01-02",
        "lesson_id": "",
    }
    saved = await post_form(client, f"/tasks/{task.id}/edit", values)
    assert saved.status_code == 303
    await session.refresh(task)
    assert task.title == "Renamed"
    assert task.status == TaskStatus.IN_PROGRESS
    assert task.due_date == datetime(2031, 1, 2, 17, 0, tzinfo=UTC)
    moved = await post_form(client, f"/tasks/{task.id}/edit", {**values, "due_date": "2031-01-09"})
    assert moved.status_code == 303
    await session.refresh(task)
    assert task.due_date == datetime(2031, 1, 9, 23, 59, 59, tzinfo=UTC)
    invalid = await post_form(
        client, f"/tasks/{task.id}/edit", {**values, "title": "", "status": "archived"}
    )
    assert invalid.status_code == 422
    assert 'id="e-title"' in invalid.text
    assert 'id="e-status"' in invalid.text
    await session.refresh(task)
    assert task.title == "Renamed"


async def test_another_users_task_is_a_404_page_and_csrf_is_required(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner = await create_user(session, settings)
    theirs = await _task(session, owner, "Private plan")
    await _signed_in(client, session, settings)
    board = await client.get("/tasks", headers=HTML)
    assert "Private plan" not in board.text
    token = await page_csrf(client, "/tasks")
    for path in ("complete", "delete", "edit", "status"):
        response = await client.post(
            f"/tasks/{theirs.id}/{path}",
            data={"csrf_token": token, "title": "Mine now", "status": "todo"},
            headers=HTML,
        )
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
    edit = await client.get(f"/tasks/{theirs.id}/edit", headers=HTML)
    assert edit.status_code == 404
    await session.refresh(theirs)
    assert theirs.title == "Private plan"
    assert theirs.status == TaskStatus.TODO

    no_token = await client.post(
        "/tasks", data={"title": "Forged", "priority": "low"}, headers=HTML
    )
    assert no_token.status_code == 403
    assert "Form expired" in no_token.text or "expired" in no_token.text
    board = await client.get("/tasks", headers=HTML)
    assert "Forged" not in board.text


async def test_cabinet_lists_open_tasks_due_soon(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await _signed_in(client, session, settings)
    now = datetime.now(UTC)
    await _task(session, user, "Overdue essay", due_date=(now - timedelta(days=2)).isoformat())
    await _task(session, user, "Quiz tomorrow", due_date=(now + timedelta(days=1)).isoformat())
    await _task(session, user, "Far exam", due_date=(now + timedelta(days=30)).isoformat())
    await _task(
        session,
        user,
        "Done already",
        due_date=(now + timedelta(days=1)).isoformat(),
        status="completed",
    )
    await _task(session, user, "Undated")
    stranger = await create_user(session, settings)
    await _task(session, stranger, "Stranger's task", due_date=now.isoformat())

    cabinet = await client.get("/cabinet", headers=HTML)
    assert cabinet.status_code == 200
    due = re.search(r'<aside class="card side-card due-soon".*?</aside>', cabinet.text, re.S)
    assert due
    text = due.group(0)
    assert text.index("Overdue essay") < text.index("Quiz tomorrow")
    assert "Overdue ·" in text
    for absent in ("Far exam", "Done already", "Undated", "Stranger"):
        assert absent not in text


async def test_cabinet_without_tasks_due(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await _signed_in(client, session, settings)
    cabinet = await client.get("/cabinet", headers=HTML)
    assert "Nothing due in the next 7 days." in cabinet.text


async def test_course_and_lesson_pages_mark_completed_lessons(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher, title="Checked course")
    first = await create_lesson(session, course, position=1, title="First")
    second = await create_lesson(session, course, position=2, title="Second")
    user = await _signed_in(client, session, settings)
    await enroll(session, user, course)
    lesson_url = f"/courses/{course.id}/lessons/{first.id}"
    done = await post_form(client, f"{lesson_url}/complete", {}, from_page=lesson_url)
    assert done.status_code == 303

    page = await client.get(f"/courses/{course.id}", headers=HTML)
    items = re.findall(r"<li class=\"(lesson-done)?\">.*?</li>", page.text, re.S)
    assert items == ["lesson-done", ""]
    assert page.text.count("✓ Done") == 1
    first_page = await client.get(lesson_url, headers=HTML)
    assert "✓ Completed" in first_page.text
    assert "Mark complete" not in first_page.text
    second_page = await client.get(f"/courses/{course.id}/lessons/{second.id}", headers=HTML)
    assert "Mark complete" in second_page.text
    assert second_page.text.count("✓ Done") == 1
