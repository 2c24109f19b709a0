"""Tasks JSON API (API.md §6): the signed-in user's own to-do list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from campus.http.deps import MAX_ID, IdPath, SessionDep, page_params, page_response
from campus.http.identity import CurrentUser
from campus.kit.pagination.envelope import Page
from campus.kit.pagination.params import PageParams
from campus.tasks import service
from campus.tasks.schemas import (
    DEFAULT_TASK_SORT,
    QUERY_MAX,
    TASK_SORTS,
    SearchText,
    TaskCreate,
    TaskFilters,
    TaskPriority,
    TaskRead,
    TaskReplace,
    TaskStatus,
    TaskUpdate,
    UTCInstant,
)

router = APIRouter(prefix="/tasks", tags=["tasks"])

Pagination = Annotated[PageParams, Depends(page_params(TASK_SORTS, DEFAULT_TASK_SORT))]
TaskId = Annotated[int, IdPath("The task's id.")]

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    422: {"description": "Invalid input"},
}
OWNED: dict[int | str, dict[str, Any]] = {
    **RESPONSES,
    404: {"description": "No such task, or another user's task"},
}


async def task_filters(
    status_filter: Annotated[
        TaskStatus | None, Query(description="Only tasks with this status.")
    ] = None,
    priority: Annotated[TaskPriority | None, Query(description="Only this priority.")] = None,
    lesson_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only tasks linked to this lesson.")
    ] = None,
    q: Annotated[
        SearchText | None,
        Query(
            max_length=QUERY_MAX,
            description=(
                "Case-insensitive substring of the title or the description (Unicode-aware; "
                "`%` and `_` match themselves). Empty: no filter."
            ),
        ),
    ] = None,
    due_before: Annotated[
        UTCInstant | None,
        Query(
            description=(
                "Only tasks due at or before this ISO 8601 date-time (no offset = UTC). "
                "Tasks without a due date are left out."
            )
        ),
    ] = None,
    due_after: Annotated[
        UTCInstant | None,
        Query(
            description=(
                "Only tasks due at or after this ISO 8601 date-time (no offset = UTC); "
                "later than `due_before` is a 422. Tasks without a due date are left out."
            )
        ),
    ] = None,
) -> TaskFilters:
    return TaskFilters(
        status=status_filter,
        priority=priority,
        lesson_id=lesson_id,
        q=q,
        due_before=due_before,
        due_after=due_after,
    )


@router.post("", response_model=TaskRead, status_code=status.HTTP_201_CREATED, responses=RESPONSES)
async def create_task(body: TaskCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Create a task owned by the caller. Defaults: status `todo`, priority `medium`."""
    return await service.create_task(session, user, data=body)


@router.get("", response_model=Page[TaskRead], responses=RESPONSES)
async def list_tasks(
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    params: Pagination,
    filters: Annotated[TaskFilters, Depends(task_filters)],
) -> Any:
    """The caller's own tasks.

    Sorting: `priority` by rank (low < medium < high), `status` by workflow
    (todo < in_progress < completed), `title` by `lower(title)`; a task without a due date
    sorts after every dated one (last for `due_date`, first for `-due_date`). Ties are
    broken by id. Default `-created_at`.
    """
    result = await service.list_tasks(session, user, filters=filters, params=params)
    return page_response(request, response, result)


@router.get("/{task_id}", response_model=TaskRead, responses=OWNED)
async def get_task(task_id: TaskId, user: CurrentUser, session: SessionDep) -> Any:
    return await service.get_task(session, user, task_id=task_id)


@router.put("/{task_id}", response_model=TaskRead, responses=OWNED)
async def replace_task(
    task_id: TaskId, body: TaskReplace, user: CurrentUser, session: SessionDep
) -> Any:
    """Replace the task: `title` is required; omitted optional fields get their defaults."""
    return await service.replace_task(session, user, task_id=task_id, data=body)


@router.patch("/{task_id}", response_model=TaskRead, responses=OWNED)
async def update_task(
    task_id: TaskId, body: TaskUpdate, user: CurrentUser, session: SessionDep
) -> Any:
    """Change only the fields given."""
    return await service.update_task(session, user, task_id=task_id, data=body)


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT, responses=OWNED)
async def delete_task(task_id: TaskId, user: CurrentUser, session: SessionDep) -> None:
    await service.delete_task(session, user, task_id=task_id)


@router.post("/{task_id}/complete", response_model=TaskRead, responses=OWNED)
async def complete_task(task_id: TaskId, user: CurrentUser, session: SessionDep) -> Any:
    """Mark the task completed. Idempotent: a second call keeps the first `completed_at`."""
    return await service.complete_task(session, user, task_id=task_id)
