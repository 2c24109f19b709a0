"""The task board (API.md §10): the signed-in user's own tasks — filter, create, edit,
start, complete, reopen, delete. Forms parse into the API's schemas and call the same
service; another user's task is a 404 page on every route."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Response

from campus.courses import service as course_service
from campus.errors import ValidationFailed
from campus.http.deps import MAX_ID, IdPath, SessionDep
from campus.http.forms import FormInvalid, choice, field_errors, form_values, parse_form
from campus.http.identity import CurrentUser
from campus.http.web import WebPage, page_params, page_router, safe_next
from campus.kit.clock import utcnow
from campus.kit.i18n import N_, labelled
from campus.kit.i18n import gettext as _
from campus.tasks import service
from campus.tasks.schemas import (
    DESCRIPTION_MAX,
    QUERY_MAX,
    TASK_SORTS,
    TITLE_MAX,
    TaskCreate,
    TaskFilters,
    TaskPriority,
    TaskStatus,
    TaskUpdate,
)

router = page_router()


TaskId = Annotated[int, IdPath("Task id")]
BOARD_PAGE_SIZE = 100
# A due date picked on the board means the end of that day (UTC).
END_OF_DAY = time(23, 59, 59, tzinfo=UTC)
STATUSES = [
    (TaskStatus.TODO.value, N_("To do")),
    (TaskStatus.IN_PROGRESS.value, N_("In progress")),
    (TaskStatus.COMPLETED.value, N_("Completed")),
]
PRIORITIES = [
    (TaskPriority.HIGH.value, N_("High")),
    (TaskPriority.MEDIUM.value, N_("Medium")),
    (TaskPriority.LOW.value, N_("Low")),
]
SORT_CHOICES = [
    ("due_date", N_("Due soonest")),
    ("-priority", N_("Highest priority")),
    ("priority", N_("Lowest priority")),
    ("-created_at", N_("Newest")),
    ("-updated_at", N_("Recently changed")),
    ("title", N_("Title A to Z")),
]
DEFAULT_SORT = "due_date"
TASK_FIELDS = ("title", "description", "priority", "due_date", "lesson_id", "status")
LESSON_CHOICE = N_("Choose a lesson from the list (one of a course you take or teach).")


# --- the board ------------------------------------------------------------------------------


# Any order of the API (e.g. ``priority``, ``-due_date``) works on the board too.
BOARD_SORTS = {key for key, _ in SORT_CHOICES} | {
    f"{sign}{name}" for name in TASK_SORTS for sign in ("", "-")
}


def _board_url(values: dict[str, str], **changes: Any) -> str:
    """The board with the current filters, some of them changed (empty ones left out)."""
    merged = {**values, **{k: str(v) for k, v in changes.items()}}
    if merged.get("sort") == DEFAULT_SORT:
        merged.pop("sort")
    if merged.get("p") == "1":
        merged.pop("p")
    query = urlencode({k: v for k, v in merged.items() if v})
    return "/tasks" + (f"?{query}" if query else "")


async def _render_board(
    page: WebPage,
    session: SessionDep,
    user: CurrentUser,
    *,
    filters: dict[str, str],
    page_number: int = 1,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    sort = filters["sort"] or DEFAULT_SORT
    # Grouped by status, then the chosen order.
    params = page_params(page_number, BOARD_PAGE_SIZE, sort=f"status,{sort}")
    result = await service.list_tasks(
        session,
        user,
        filters=TaskFilters(
            status=TaskStatus(filters["status"]) if filters["status"] else None,
            priority=TaskPriority(filters["priority"]) if filters["priority"] else None,
            q=filters["q"] or None,
        ),
        params=params,
    )
    shown = [
        item for item in labelled(STATUSES) if not filters["status"] or item[0] == filters["status"]
    ]
    columns = [
        (value, label, [task for task in result.items if task.status == value])
        for value, label in shown
    ]
    linked = await course_service.describe_lessons(
        session, user, lesson_ids=[task.lesson_id for task in result.items if task.lesson_id]
    )
    here = _board_url({**filters, "p": str(page_number)})
    return page.render(
        "tasks/board.html",
        {
            "columns": columns,
            "total": result.total,
            "filters": filters,
            "filtered": any(filters[name] for name in ("status", "priority", "q")),
            "status_tabs": [
                (label, _board_url(filters, status=value), value == filters["status"])
                for value, label in labelled([("", N_("All")), *STATUSES])
            ],
            "clear_url": _board_url({}, sort=filters["sort"]),
            "page_number": page_number,
            "pages": max(1, result.pages),
            "page_url": lambda n: _board_url(filters, p=n),
            "here": here,
            "linked": linked,
            "now": utcnow(),
            "priorities": labelled(PRIORITIES),
            "sorts": labelled(SORT_CHOICES),
            "form": form or {"priority": TaskPriority.MEDIUM.value},
            "errors": errors or {},
            "lesson_groups": await _lesson_groups(session, user),
            "limits": {"title": TITLE_MAX, "description": DESCRIPTION_MAX},
        },
        status_code=status_code,
    )


async def _lesson_groups(
    session: SessionDep, user: Any, *, current: int | None = None
) -> list[tuple[str, list[tuple[int, str]]]]:
    """The lessons a task may link to, grouped by course (the task's current lesson too)."""
    refs = await course_service.list_linkable_lessons(session, user)
    if current is not None and all(ref.lesson_id != current for ref in refs):
        extra = await course_service.describe_lessons(session, user, lesson_ids=[current])
        refs = [*extra.values(), *refs]
    groups: dict[tuple[int, str], list[tuple[int, str]]] = {}
    if current is not None and all(ref.lesson_id != current for ref in refs):
        groups[(0, _("Linked before"))] = [(current, _("The linked lesson (no longer available)"))]
    for ref in refs:
        label = f"{ref.position}. {ref.title}"
        groups.setdefault((ref.course_id, ref.course_title), []).append((ref.lesson_id, label))
    return [(course_title, lessons) for (_, course_title), lessons in groups.items()]


def _filters(
    status: str | None, priority: str | None, q: str | None, sort: str | None
) -> dict[str, str]:
    return {
        # Unknown values (an old link, a typo) are ignored rather than an error page.
        "status": choice(status, (key for key, _ in STATUSES)),
        "priority": choice(priority, (key for key, _ in PRIORITIES)),
        "q": (q or "").strip(),
        "sort": choice(sort, BOARD_SORTS),
    }


@router.get("/tasks")
async def board_page(
    page: WebPage,
    session: SessionDep,
    user: CurrentUser,
    status: Annotated[str | None, Query(max_length=20)] = None,
    priority: Annotated[str | None, Query(max_length=20)] = None,
    q: Annotated[str | None, Query(max_length=QUERY_MAX)] = None,
    sort: Annotated[str | None, Query(max_length=20)] = None,
    p: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    return await _render_board(
        page, session, user, filters=_filters(status, priority, q, sort), page_number=p
    )


# --- forms ----------------------------------------------------------------------------------


def _parse(
    schema: type[TaskCreate] | type[TaskUpdate],
    values: dict[str, str],
    *,
    current_due: datetime | None = None,
) -> Any:
    """The form as ``schema``, or ``FormInvalid`` with every field's error at once. An
    unchanged due date keeps its exact time (it may have been set through the API)."""
    data: dict[str, Any] = {
        "title": values["title"],
        "description": values["description"].strip() or None,
        "priority": values["priority"] or TaskPriority.MEDIUM.value,
    }
    errors: dict[str, str] = {}
    due = values["due_date"].strip()
    if not due:
        data["due_date"] = None
    else:
        try:
            day = date.fromisoformat(due)
        except ValueError:
            errors["due_date"] = _("Enter a date like 2026-12-01.")
        else:
            if current_due is None or current_due.date() != day:
                data["due_date"] = datetime.combine(day, END_OF_DAY)
    lesson = values["lesson_id"].strip()
    if not lesson:
        data["lesson_id"] = None
    elif lesson.isdigit() and 1 <= int(lesson) <= MAX_ID:
        data["lesson_id"] = int(lesson)
    else:
        errors["lesson_id"] = _(LESSON_CHOICE)
    if values["status"]:
        data["status"] = values["status"]
    return parse_form(schema, data, extra_errors=errors)


def _errors(exc: FormInvalid | ValidationFailed) -> dict[str, str]:
    if isinstance(exc, FormInvalid):
        return exc.errors
    errors = field_errors(exc)
    if "lesson_id" in errors:
        errors["lesson_id"] = _(LESSON_CHOICE)
    return errors


def _back(form: Any) -> str:
    """Where to go after an action: the board view the form came from."""
    target = form.get("next")
    if isinstance(target, str) and (target == "/tasks" or target.startswith("/tasks?")):
        return safe_next(target, "/tasks")
    return "/tasks"


@router.post("/tasks")
async def create_task_page(page: WebPage, session: SessionDep, user: CurrentUser) -> Response:
    form = await page.form()
    values = form_values(form, *TASK_FIELDS)
    values["status"] = ""
    try:
        data = _parse(TaskCreate, values)
        task = await service.create_task(session, user, data=data)
    except (FormInvalid, ValidationFailed) as exc:
        return await _render_board(
            page,
            session,
            user,
            filters=_filters(None, None, None, None),
            form=values,
            errors=_errors(exc),
            status_code=422,
        )
    return page.redirect(_back(form), flash=_("Task “%(title)s” added.", title=task.title))


def _edit_values(task: Any) -> dict[str, Any]:
    return {
        "title": task.title,
        "description": task.description or "",
        "priority": task.priority.value,
        "status": task.status.value,
        "due_date": task.due_date.date().isoformat() if task.due_date else "",
        "lesson_id": task.lesson_id or "",
    }


async def _render_edit(
    page: WebPage,
    session: SessionDep,
    user: Any,
    task: Any,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return page.render(
        "tasks/task_form.html",
        {
            "task": task,
            "values": values,
            "errors": errors,
            "statuses": labelled(STATUSES),
            "priorities": labelled(PRIORITIES),
            "lesson_groups": await _lesson_groups(session, user, current=task.lesson_id),
            "limits": {"title": TITLE_MAX, "description": DESCRIPTION_MAX},
        },
        status_code=status_code,
    )


@router.get("/tasks/{task_id}/edit")
async def edit_task_page(
    page: WebPage, session: SessionDep, task_id: TaskId, user: CurrentUser
) -> Response:
    task = await service.get_task(session, user, task_id=task_id)
    return await _render_edit(page, session, user, task, values=_edit_values(task), errors={})


@router.post("/tasks/{task_id}/edit")
async def update_task_page(
    page: WebPage, session: SessionDep, task_id: TaskId, user: CurrentUser
) -> Response:
    task = await service.get_task(session, user, task_id=task_id)
    values = form_values(await page.form(), *TASK_FIELDS)
    try:
        data = _parse(TaskUpdate, values, current_due=task.due_date)
        task = await service.update_task(session, user, task_id=task_id, data=data)
    except (FormInvalid, ValidationFailed) as exc:
        return await _render_edit(
            page, session, user, task, values=values, errors=_errors(exc), status_code=422
        )
    return page.redirect("/tasks", flash=_("Task “%(title)s” saved.", title=task.title))


@router.post("/tasks/{task_id}/complete")
async def complete_task_page(
    page: WebPage, session: SessionDep, task_id: TaskId, user: CurrentUser
) -> Response:
    form = await page.form()
    task = await service.complete_task(session, user, task_id=task_id)
    return page.redirect(
        _back(form), flash=_("Task “%(title)s” completed. Nice work!", title=task.title)
    )


@router.post("/tasks/{task_id}/status")
async def move_task_page(
    page: WebPage, session: SessionDep, task_id: TaskId, user: CurrentUser
) -> Response:
    """Start a task (in progress) or reopen it (to do)."""
    form = await page.form()
    raw = form.get("status")
    if raw not in (TaskStatus.TODO.value, TaskStatus.IN_PROGRESS.value):
        raise ValidationFailed.field(["status"], "Choose “To do” or “In progress”.")
    task = await service.update_task(
        session, user, task_id=task_id, data=TaskUpdate(status=TaskStatus(raw))
    )
    text = (
        _("Task “%(title)s” started.", title=task.title)
        if task.status == TaskStatus.IN_PROGRESS
        else _("Task “%(title)s” moved back to To do.", title=task.title)
    )
    return page.redirect(_back(form), flash=text, kind="info")


@router.post("/tasks/{task_id}/delete")
async def delete_task_page(
    page: WebPage, session: SessionDep, task_id: TaskId, user: CurrentUser
) -> Response:
    form = await page.form()
    task = await service.delete_task(session, user, task_id=task_id)
    return page.redirect(
        _back(form), flash=_("Task “%(title)s” deleted.", title=task.title), kind="info"
    )
