"""API.md §6 row by row: create, get, PUT, PATCH, DELETE, complete, and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from tests.tasks.helpers import (
    URL,
    create_course,
    enroll,
    post_task,
    user_with_headers,
)

TASK_KEYS = {
    "id",
    "title",
    "description",
    "status",
    "priority",
    "is_completed",
    "due_date",
    "lesson_id",
    "owner_id",
    "created_at",
    "updated_at",
    "completed_at",
}


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


async def test_create_with_defaults(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user, headers = await user_with_headers(session, settings)
    response = await client.post(URL, json={"title": "Read lesson 1"}, headers=headers)
    assert response.status_code == 201, response.text
    task = response.json()
    assert set(task) == TASK_KEYS
    assert task["title"] == "Read lesson 1"
    assert task["description"] is None
    assert task["status"] == "todo"
    assert task["priority"] == "medium"
    assert task["is_completed"] is False
    assert task["due_date"] is None
    assert task["lesson_id"] is None
    assert task["owner_id"] == user.id
    assert task["completed_at"] is None
    created = parse(task["created_at"])
    assert created.utcoffset() == timedelta(0)
    assert task["created_at"] == task["updated_at"]


async def test_create_with_every_field(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, headers = await user_with_headers(session, settings)
    task = await post_task(
        client,
        headers,
        title="  Finish the project  ",
        description="Tests first.",
        status="in_progress",
        priority="high",
        due_date="2030-05-01T18:00:00+03:00",
    )
    assert task["title"] == "Finish the project"  # surrounding whitespace is stripped
    assert task["description"] == "Tests first."
    assert task["status"] == "in_progress"
    assert task["priority"] == "high"
    assert parse(task["due_date"]) == datetime(2030, 5, 1, 15, 0, tzinfo=UTC)
    assert parse(task["due_date"]).utcoffset() == timedelta(0)
    assert task["completed_at"] is None


async def test_create_completed_sets_completed_at(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, headers = await user_with_headers(session, settings)
    task = await post_task(client, headers, status="completed")
    assert task["is_completed"] is True
    assert task["completed_at"] is not None


async def test_naive_and_date_only_due_dates_are_utc(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, headers = await user_with_headers(session, settings)
    naive = await post_task(client, headers, due_date="2030-01-02T03:04:05")
    assert parse(naive["due_date"]) == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    day = await post_task(client, headers, due_date="2030-01-02")
    assert parse(day["due_date"]) == datetime(2030, 1, 2, tzinfo=UTC)


async def test_get_put_patch_delete(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, headers = await user_with_headers(session, settings)
    task = await post_task(client, headers, title="Draft", priority="low")
    url = f"{URL}/{task['id']}"

    got = await client.get(url, headers=headers)
    assert got.status_code == 200
    assert got.json() == task

    put = await client.put(url, json={"title": "Replaced", "priority": "high"}, headers=headers)
    assert put.status_code == 200, put.text
    assert put.json()["title"] == "Replaced"
    assert put.json()["priority"] == "high"

    patch = await client.patch(url, json={"description": "More words"}, headers=headers)
    assert patch.status_code == 200, patch.text
    assert patch.json()["title"] == "Replaced"
    assert patch.json()["description"] == "More words"
    assert (await client.get(url, headers=headers)).json() == patch.json()

    deleted = await client.delete(url, headers=headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await client.get(url, headers=headers)).status_code == 404
    assert (await client.delete(url, headers=headers)).status_code == 404


async def test_put_resets_omitted_fields_patch_keeps_them(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, headers = await user_with_headers(session, settings)
    teacher, _ = await user_with_headers(session, settings, UserRole.TEACHER)
    _, lessons = await create_course(session, teacher)
    full = {
        "title": "Everything",
        "description": "desc",
        "status": "in_progress",
        "priority": "high",
        "due_date": "2030-01-01T00:00:00Z",
        "lesson_id": lessons[0].id,
    }
    task = await post_task(client, headers, **full)
    url = f"{URL}/{task['id']}"

    patched = (await client.patch(url, json={"title": "Renamed"}, headers=headers)).json()
    for key in ("description", "status", "priority", "due_date", "lesson_id"):
        assert patched[key] == task[key]
    assert patched["title"] == "Renamed"

    put = await client.put(url, json={"title": "Only a title"}, headers=headers)
    assert put.status_code == 200, put.text
    replaced = put.json()
    assert replaced["title"] == "Only a title"
    assert replaced["description"] is None
    assert replaced["status"] == "todo"
    assert replaced["priority"] == "medium"
    assert replaced["due_date"] is None
    assert replaced["lesson_id"] is None
    assert replaced["id"] == task["id"]
    assert replaced["created_at"] == task["created_at"]
    assert replaced["owner_id"] == owner.id


async def test_put_requires_title(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, headers = await user_with_headers(session, settings)
    task = await post_task(client, headers)
    response = await client.put(f"{URL}/{task['id']}", json={"priority": "low"}, headers=headers)
    assert response.status_code == 422
    assert any(e["loc"] == ["body", "title"] for e in response.json()["errors"])


async def test_patch_null_clears_nullable_fields_but_not_required_ones(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, headers = await user_with_headers(session, settings)
    task = await post_task(client, headers, description="x", due_date="2030-01-01T00:00:00Z")
    url = f"{URL}/{task['id']}"
    cleared = await client.patch(url, json={"description": None, "due_date": None}, headers=headers)
    assert cleared.status_code == 200
    assert cleared.json()["description"] is None
    assert cleared.json()["due_date"] is None
    for field in ("title", "status", "priority"):
        response = await client.patch(url, json={field: None}, headers=headers)
        assert response.status_code == 422, field
        assert response.json()["errors"][0]["loc"] == ["body", field]


async def test_patch_empty_body_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, headers = await user_with_headers(session, settings)
    task = await post_task(client, headers)
    response = await client.patch(f"{URL}/{task['id']}", json={}, headers=headers)
    assert response.status_code == 200
    assert response.json() == task


async def test_completed_at_rule_across_transitions(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, headers = await user_with_headers(session, settings)
    task = await post_task(client, headers)
    url = f"{URL}/{task['id']}"
    assert task["completed_at"] is None

    done = (await client.patch(url, json={"status": "completed"}, headers=headers)).json()
    assert done["is_completed"] is True
    first_completed_at = done["completed_at"]
    assert first_completed_at is not None

    # Changing other fields while completed keeps completed_at.
    renamed = (await client.patch(url, json={"title": "Renamed"}, headers=headers)).json()
    assert renamed["completed_at"] == first_completed_at
    same = (await client.patch(url, json={"status": "completed"}, headers=headers)).json()
    assert same["completed_at"] == first_completed_at
    put_same = await client.put(url, json={"title": "Put", "status": "completed"}, headers=headers)
    assert put_same.json()["completed_at"] == first_completed_at

    back = (await client.patch(url, json={"status": "in_progress"}, headers=headers)).json()
    assert back["status"] == "in_progress"
    assert back["is_completed"] is False
    assert back["completed_at"] is None

    again = (await client.patch(url, json={"status": "completed"}, headers=headers)).json()
    assert again["is_completed"] is True
    assert again["completed_at"] is not None
    assert parse(again["completed_at"]) >= parse(first_completed_at)

    # PUT without status resets it to todo, which leaves "completed".
    reset = (await client.put(url, json={"title": "Reset"}, headers=headers)).json()
    assert reset["status"] == "todo"
    assert reset["completed_at"] is None
    assert reset["is_completed"] is False


async def test_complete_endpoint_is_idempotent(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, headers = await user_with_headers(session, settings)
    task = await post_task(client, headers, status="in_progress")
    url = f"{URL}/{task['id']}/complete"
    first = await client.post(url, headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["status"] == "completed"
    assert body["is_completed"] is True
    assert body["completed_at"] is not None
    second = await client.post(url, headers=headers)
    assert second.status_code == 200
    assert second.json()["completed_at"] == body["completed_at"]
    assert second.json()["updated_at"] == body["updated_at"]


async def test_update_bumps_updated_at(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, headers = await user_with_headers(session, settings)
    task = await post_task(client, headers)
    patched = (
        await client.patch(f"{URL}/{task['id']}", json={"title": "New"}, headers=headers)
    ).json()
    assert parse(patched["updated_at"]) > parse(task["updated_at"])
    assert patched["created_at"] == task["created_at"]


async def test_every_verb_needs_authentication(client: httpx.AsyncClient) -> None:
    calls = [
        ("POST", URL),
        ("GET", URL),
        ("GET", f"{URL}/1"),
        ("PUT", f"{URL}/1"),
        ("PATCH", f"{URL}/1"),
        ("DELETE", f"{URL}/1"),
        ("POST", f"{URL}/1/complete"),
    ]
    for method, url in calls:
        response = await client.request(method, url, json={"title": "x"})
        assert response.status_code == 401, (method, url)
        assert response.headers["www-authenticate"].lower().startswith("bearer")
        assert response.headers["content-type"] == "application/problem+json"


# --- bad input -------------------------------------------------------------------------------

BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "\t\n"}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"title": None}, "title"),
    ({"title": 5}, "title"),
    ({"title": "nul\x00byte"}, "title"),
    ({"title": "ok", "description": "d" * 2001}, "description"),
    ({"title": "ok", "status": "done"}, "status"),
    ({"title": "ok", "status": "TODO"}, "status"),
    ({"title": "ok", "priority": "urgent"}, "priority"),
    ({"title": "ok", "due_date": "tomorrow"}, "due_date"),
    ({"title": "ok", "due_date": "2030-13-01T00:00:00Z"}, "due_date"),
    ({"title": "ok", "due_date": "2030-02-30"}, "due_date"),
    ({"title": "ok", "due_date": "0001-01-01T00:00:00+01:00"}, "due_date"),
    ({"title": "ok", "lesson_id": "abc"}, "lesson_id"),
    ({"title": "ok", "lesson_id": 0}, "lesson_id"),
    ({"title": "ok", "lesson_id": 2**31}, "lesson_id"),
    ({"title": "ok", "owner_id": 1}, "owner_id"),
    ({"title": "ok", "is_completed": True}, "is_completed"),
    ({"title": "ok", "completed_at": "2030-01-01T00:00:00Z"}, "completed_at"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
async def test_bad_create_bodies(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    body: dict[str, Any],
    field: str,
) -> None:
    _, headers = await user_with_headers(session, settings)
    response = await client.post(URL, json=body, headers=headers)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert any(e["loc"][:2] == ["body", field] for e in problem["errors"]), problem


async def test_title_at_the_limits_is_accepted(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, headers = await user_with_headers(session, settings)
    assert (await post_task(client, headers, title="x" * 200))["title"] == "x" * 200
    assert (await post_task(client, headers, title="y"))["title"] == "y"
    long_description = "d" * 2000
    task = await post_task(client, headers, description=long_description)
    assert task["description"] == long_description


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_unknown_field_in_put_and_patch_is_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, method: str
) -> None:
    _, headers = await user_with_headers(session, settings)
    task = await post_task(client, headers)
    response = await client.request(
        method, f"{URL}/{task['id']}", json={"title": "x", "colour": "red"}, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "colour"]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_bad_values_in_put_and_patch(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, method: str
) -> None:
    _, headers = await user_with_headers(session, settings)
    task = await post_task(client, headers)
    url = f"{URL}/{task['id']}"
    for body in (
        {"title": "  "},
        {"title": "x" * 201},
        {"title": "ok", "status": "finished"},
        {"title": "ok", "priority": 3},
        {"title": "ok", "due_date": "31/12/2030"},
        {"title": "ok", "description": "d" * 2001},
    ):
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 422, (method, body)
    assert (await client.get(url, headers=headers)).json() == task


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("PUT", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/complete")],
)
@pytest.mark.parametrize("bad_id", ["abc", "1.5", "0", "-1", str(2**31), "1e3"])
async def test_non_integer_or_out_of_range_id_is_422(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    method: str,
    suffix: str,
    bad_id: str,
) -> None:
    _, headers = await user_with_headers(session, settings)
    response = await client.request(
        method, f"{URL}/{bad_id}{suffix}", json={"title": "x"}, headers=headers
    )
    assert response.status_code == 422, (method, bad_id, response.text)
    assert response.json()["errors"][0]["loc"] == ["path", "task_id"]


async def test_malformed_json_is_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, headers = await user_with_headers(session, settings)
    response = await client.post(
        URL, content=b'{"title": ', headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/problem+json"


# --- lesson_id -------------------------------------------------------------------------------


async def _lesson_error(
    client: httpx.AsyncClient, headers: dict[str, str], lesson_id: int
) -> httpx.Response:
    return await client.post(URL, json={"title": "t", "lesson_id": lesson_id}, headers=headers)


def _assert_lesson_422(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert errors[0]["loc"] == ["body", "lesson_id"]


async def test_lesson_id_must_be_readable(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    student, headers = await user_with_headers(session, settings)
    teacher, _ = await user_with_headers(session, settings, UserRole.TEACHER)
    _, (preview, locked) = await create_course(session, teacher, published=True)
    _, (draft_preview, draft_locked) = await create_course(session, teacher, published=False)

    _assert_lesson_422(await _lesson_error(client, headers, 2**31 - 1))  # does not exist
    _assert_lesson_422(await _lesson_error(client, headers, draft_preview.id))  # draft
    _assert_lesson_422(await _lesson_error(client, headers, draft_locked.id))
    _assert_lesson_422(await _lesson_error(client, headers, locked.id))  # not enrolled

    ok = await _lesson_error(client, headers, preview.id)
    assert ok.status_code == 201, ok.text
    assert ok.json()["lesson_id"] == preview.id
    assert ok.json()["owner_id"] == student.id


async def test_enrolled_student_may_link_any_lesson_of_the_course(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    student, headers = await user_with_headers(session, settings)
    teacher, _ = await user_with_headers(session, settings, UserRole.TEACHER)
    course, (_, locked) = await create_course(session, teacher)
    _assert_lesson_422(await _lesson_error(client, headers, locked.id))
    await enroll(session, student, course)
    response = await _lesson_error(client, headers, locked.id)
    assert response.status_code == 201, response.text


async def test_teacher_may_link_lessons_of_own_draft(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher, headers = await user_with_headers(session, settings, UserRole.TEACHER)
    _, other_headers = await user_with_headers(session, settings, UserRole.TEACHER)
    _, (_, locked) = await create_course(session, teacher, published=False)
    assert (await _lesson_error(client, headers, locked.id)).status_code == 201
    _assert_lesson_422(await _lesson_error(client, other_headers, locked.id))


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_lesson_id_is_checked_on_put_and_patch(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, method: str
) -> None:
    _, headers = await user_with_headers(session, settings)
    teacher, _ = await user_with_headers(session, settings, UserRole.TEACHER)
    _, (preview, locked) = await create_course(session, teacher)
    _, (draft_lesson,) = await create_course(session, teacher, published=False, previews=(True,))
    task = await post_task(client, headers)
    url = f"{URL}/{task['id']}"
    for lesson_id in (locked.id, draft_lesson.id, 2**31 - 1):
        response = await client.request(
            method, url, json={"title": "t", "lesson_id": lesson_id}, headers=headers
        )
        _assert_lesson_422(response)
    response = await client.request(
        method, url, json={"title": "t", "lesson_id": preview.id}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["lesson_id"] == preview.id


async def test_linked_lesson_survives_lost_access_and_its_deletion(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    student, headers = await user_with_headers(session, settings)
    teacher, _ = await user_with_headers(session, settings, UserRole.TEACHER)
    course, (_, locked) = await create_course(session, teacher)
    enrollment = await enroll(session, student, course)
    task = await post_task(client, headers, lesson_id=locked.id)
    await session.delete(enrollment)
    await session.flush()
    url = f"{URL}/{task['id']}"
    # GET-then-PUT round-trips: an unchanged lesson_id is not re-checked.
    put = await client.put(url, json={"title": "Kept", "lesson_id": locked.id}, headers=headers)
    assert put.status_code == 200, put.text
    # The lesson goes: the task stays, unlinked.
    await session.delete(locked)
    await session.flush()
    got = await client.get(url, headers=headers)
    assert got.status_code == 200
    assert got.json()["lesson_id"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"title": "\ud800"},
        {"title": "ok", "description": "bad \udfff text"},
        {"title": "ok", "description": "nul \x00"},
        {"title": "ok", "lesson_id": True},
        {"title": "ok", "lesson_id": 1.5},
        {"title": "ok", "due_date": "9999-12-31T23:59:59-01:00"},
    ],
)
async def test_text_no_database_can_store_is_422_not_500(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, body: dict[str, Any]
) -> None:
    _, headers = await user_with_headers(session, settings)
    response = await client.post(
        URL,
        content=json.dumps(body).encode(),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
