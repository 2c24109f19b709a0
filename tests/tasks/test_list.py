"""GET /tasks: the envelope, every filter, every sort with ties, and ownership isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from campus.models.tasks import TaskPriority, TaskStatus
from tests.tasks.helpers import (
    URL,
    add_task,
    create_course,
    enroll,
    list_ids,
    post_task,
    user_with_headers,
)

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


async def test_envelope_and_default_order(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, headers = await user_with_headers(session, settings)
    tasks = [
        await add_task(session, owner, f"t{i}", created_at=T0 + timedelta(minutes=i))
        for i in range(5)
    ]
    response = await client.get(URL, params={"limit": 2, "skip": 2}, headers=headers)
    assert response.status_code == 200
    page = response.json()
    assert page["total"] == 5
    assert page["page"] == 2
    assert page["page_size"] == 2
    assert page["pages"] == 3
    # Default -created_at: newest first.
    assert [t["id"] for t in page["items"]] == [tasks[2].id, tasks[1].id]
    assert await list_ids(client, headers) == [t.id for t in reversed(tasks)]

    empty = await client.get(URL, params={"skip": 50}, headers=headers)
    assert empty.json()["items"] == []
    assert empty.json()["total"] == 5


async def test_default_order_breaks_ties_by_id(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, headers = await user_with_headers(session, settings)
    tasks = [await add_task(session, owner, f"same {i}", created_at=T0) for i in range(4)]
    # -created_at with equal timestamps: the tie-breaker follows the direction (id desc).
    assert await list_ids(client, headers) == [t.id for t in reversed(tasks)]
    assert await list_ids(client, headers, sort="created_at") == [t.id for t in tasks]
    # Pages never repeat or skip a row on ties.
    seen: list[int] = []
    for skip in range(4):
        page = await client.get(URL, params={"limit": 1, "skip": skip}, headers=headers)
        seen.extend(item["id"] for item in page.json()["items"])
    assert sorted(seen) == sorted(t.id for t in tasks)
    assert len(set(seen)) == 4


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"skip": -1},
        {"limit": "x"},
        {"sort": "owner_id"},
        {"sort": "-colour"},
        {"sort": "priority,bogus"},
        {"status_filter": "done"},
        {"priority": "urgent"},
        {"lesson_id": "abc"},
        {"lesson_id": 0},
        {"due_before": "yesterday"},
        {"due_after": "2030-02-30"},
        {"q": "x" * 201},
        {"q": "a\x00b"},
        {"due_after": "2030-01-02T00:00:00Z", "due_before": "2030-01-01T00:00:00Z"},
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, params: dict[str, object]
) -> None:
    _, headers = await user_with_headers(session, settings)
    response = await client.get(URL, params=params, headers=headers)
    assert response.status_code == 422, (params, response.text)
    assert response.json()["errors"][0]["loc"][0] == "query"


async def test_filter_by_status_and_priority(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, headers = await user_with_headers(session, settings)
    todo_low = await add_task(session, owner, status=TaskStatus.TODO, priority=TaskPriority.LOW)
    doing_high = await add_task(
        session, owner, status=TaskStatus.IN_PROGRESS, priority=TaskPriority.HIGH
    )
    done_high = await add_task(
        session, owner, status=TaskStatus.COMPLETED, priority=TaskPriority.HIGH
    )
    assert await list_ids(client, headers, status_filter="todo") == [todo_low.id]
    assert await list_ids(client, headers, status_filter="in_progress") == [doing_high.id]
    assert await list_ids(client, headers, status_filter="completed") == [done_high.id]
    assert await list_ids(client, headers, priority="high", sort="created_at") == [
        doing_high.id,
        done_high.id,
    ]
    assert await list_ids(client, headers, priority="medium") == []
    assert await list_ids(client, headers, priority="high", status_filter="completed") == [
        done_high.id
    ]
    total = await client.get(URL, params={"priority": "high"}, headers=headers)
    assert total.json()["total"] == 2


async def test_filter_by_lesson(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, headers = await user_with_headers(session, settings)
    teacher, _ = await user_with_headers(session, settings, UserRole.TEACHER)
    _, (first, second) = await create_course(session, teacher, previews=(True, True))
    linked = await add_task(session, owner, lesson_id=first.id)
    await add_task(session, owner, lesson_id=second.id)
    await add_task(session, owner)
    assert await list_ids(client, headers, lesson_id=first.id) == [linked.id]
    assert await list_ids(client, headers, lesson_id=2**31 - 1) == []


async def test_filter_q_is_case_insensitive_substring_of_title_or_description(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, headers = await user_with_headers(session, settings)
    in_title = await add_task(session, owner, "Read about FastAPI dependencies")
    in_description = await add_task(
        session, owner, "Homework", description="Write the fastapi router"
    )
    await add_task(session, owner, "Unrelated", description=None)
    expected = sorted([in_title.id, in_description.id])
    for q in ("fastapi", "FASTAPI", "FastApi", "stap"):
        assert sorted(await list_ids(client, headers, q=q)) == expected, q
    assert await list_ids(client, headers, q="nothing like this") == []
    # Empty q means no filter.
    assert len(await list_ids(client, headers, q="")) == 3


async def test_filter_q_folds_non_ascii_text(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, headers = await user_with_headers(session, settings)
    russian = await add_task(session, owner, "Прочитать УРОК о зависимостях")  # noqa: RUF001
    german = await add_task(session, owner, "Übung", description="ÄPFEL und Birnen")
    greek = await add_task(session, owner, "ΣΗΜΕΙΩΣΕΙΣ")
    await add_task(session, owner, "plain ascii")
    assert await list_ids(client, headers, q="урок") == [russian.id]
    assert await list_ids(client, headers, q="ПРОЧИТАТЬ") == [russian.id]
    assert await list_ids(client, headers, q="übung") == [german.id]
    assert await list_ids(client, headers, q="äpfel") == [german.id]
    assert await list_ids(client, headers, q="σημει") == [greek.id]


async def test_filter_q_treats_like_wildcards_literally(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, headers = await user_with_headers(session, settings)
    percent = await add_task(session, owner, "Reach 100% coverage")
    underscore = await add_task(session, owner, "rename snake_case names")
    backslash = await add_task(session, owner, "escape C:\\path")
    await add_task(session, owner, "100 pages, snakeXcase")
    assert await list_ids(client, headers, q="%") == [percent.id]
    assert await list_ids(client, headers, q="0%") == [percent.id]
    assert await list_ids(client, headers, q="e_c") == [underscore.id]
    assert await list_ids(client, headers, q="_") == [underscore.id]
    assert await list_ids(client, headers, q="\\") == [backslash.id]
    assert await list_ids(client, headers, q="'; DROP TABLE tasks; --") == []


async def test_filter_by_due_range(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, headers = await user_with_headers(session, settings)
    early = await add_task(session, owner, "early", due_date=T0)
    middle = await add_task(session, owner, "middle", due_date=T0 + timedelta(days=1))
    late = await add_task(session, owner, "late", due_date=T0 + timedelta(days=2))
    await add_task(session, owner, "no due date")

    def iso(dt: datetime) -> str:
        return dt.isoformat()

    by_due = {"sort": "due_date"}
    assert await list_ids(client, headers, due_before=iso(T0 + timedelta(days=1)), **by_due) == [
        early.id,
        middle.id,
    ]  # inclusive
    assert await list_ids(client, headers, due_after=iso(T0 + timedelta(days=1)), **by_due) == [
        middle.id,
        late.id,
    ]
    assert await list_ids(
        client,
        headers,
        due_after=iso(T0 + timedelta(hours=1)),
        due_before=iso(T0 + timedelta(days=1, hours=1)),
    ) == [middle.id]
    # An equal bound is a one-instant range, not an error.
    assert await list_ids(client, headers, due_after=iso(T0), due_before=iso(T0)) == [early.id]
    # Offsets are honoured: 15:00+03:00 is 12:00Z.
    assert await list_ids(client, headers, due_before="2030-01-01T15:00:00+03:00") == [early.id]
    # No offset means UTC.
    assert await list_ids(client, headers, due_before="2030-01-01T12:00:00") == [early.id]
    assert await list_ids(client, headers, due_before="2029-12-31T23:00:00Z") == []


async def test_sort_by_priority_uses_rank(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, headers = await user_with_headers(session, settings)
    high = await add_task(session, owner, priority=TaskPriority.HIGH)
    low = await add_task(session, owner, priority=TaskPriority.LOW)
    medium = await add_task(session, owner, priority=TaskPriority.MEDIUM)
    high2 = await add_task(session, owner, priority=TaskPriority.HIGH)
    assert await list_ids(client, headers, sort="priority") == [
        low.id,
        medium.id,
        high.id,
        high2.id,
    ]
    assert await list_ids(client, headers, sort="-priority") == [
        high2.id,
        high.id,
        medium.id,
        low.id,
    ]


async def test_sort_by_status_uses_workflow(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, headers = await user_with_headers(session, settings)
    done = await add_task(session, owner, status=TaskStatus.COMPLETED)
    todo = await add_task(session, owner, status=TaskStatus.TODO)
    doing = await add_task(session, owner, status=TaskStatus.IN_PROGRESS)
    todo2 = await add_task(session, owner, status=TaskStatus.TODO)
    assert await list_ids(client, headers, sort="status") == [todo.id, todo2.id, doing.id, done.id]
    assert await list_ids(client, headers, sort="-status") == [done.id, doing.id, todo2.id, todo.id]


async def test_sort_by_title_is_case_insensitive_with_ties_by_id(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, headers = await user_with_headers(session, settings)
    banana = await add_task(session, owner, "banana")
    apple = await add_task(session, owner, "Apple")
    cherry = await add_task(session, owner, "cherry")
    apple2 = await add_task(session, owner, "apple")
    assert await list_ids(client, headers, sort="title") == [
        apple.id,
        apple2.id,
        banana.id,
        cherry.id,
    ]
    assert await list_ids(client, headers, sort="-title") == [
        cherry.id,
        banana.id,
        apple2.id,
        apple.id,
    ]


async def test_sort_by_due_date_puts_undated_after_every_date(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, headers = await user_with_headers(session, settings)
    undated = await add_task(session, owner, "undated")
    late = await add_task(session, owner, "late", due_date=T0 + timedelta(days=3))
    early = await add_task(session, owner, "early", due_date=T0)
    early_tie = await add_task(session, owner, "early tie", due_date=T0)
    undated2 = await add_task(session, owner, "undated 2")
    far = await add_task(session, owner, "far", due_date=datetime(9999, 12, 31, tzinfo=UTC))
    assert await list_ids(client, headers, sort="due_date") == [
        early.id,
        early_tie.id,
        late.id,
        far.id,
        undated.id,
        undated2.id,
    ]
    assert await list_ids(client, headers, sort="-due_date") == [
        undated2.id,
        undated.id,
        far.id,
        late.id,
        early_tie.id,
        early.id,
    ]


async def test_sort_by_timestamps_and_multiple_keys(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, headers = await user_with_headers(session, settings)
    a = await add_task(
        session,
        owner,
        "a",
        priority=TaskPriority.HIGH,
        created_at=T0,
        updated_at=T0 + timedelta(days=5),
    )
    b = await add_task(
        session,
        owner,
        "b",
        priority=TaskPriority.LOW,
        created_at=T0 + timedelta(days=1),
        updated_at=T0 + timedelta(days=1),
    )
    c = await add_task(
        session,
        owner,
        "c",
        priority=TaskPriority.HIGH,
        created_at=T0 + timedelta(days=2),
        updated_at=T0 + timedelta(days=2),
    )
    assert await list_ids(client, headers, sort="created_at") == [a.id, b.id, c.id]
    assert await list_ids(client, headers, sort="-created_at") == [c.id, b.id, a.id]
    assert await list_ids(client, headers, sort="updated_at") == [b.id, c.id, a.id]
    assert await list_ids(client, headers, sort="-updated_at") == [a.id, c.id, b.id]
    assert await list_ids(client, headers, sort="-priority,created_at") == [a.id, c.id, b.id]
    assert await list_ids(client, headers, sort="-priority,-created_at") == [c.id, a.id, b.id]


async def test_updated_at_sort_follows_real_updates(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, headers = await user_with_headers(session, settings)
    first = await post_task(client, headers, title="first")
    second = await post_task(client, headers, title="second")
    await client.patch(f"{URL}/{first['id']}", json={"priority": "high"}, headers=headers)
    assert await list_ids(client, headers, sort="-updated_at") == [first["id"], second["id"]]


# --- ownership -------------------------------------------------------------------------------


async def test_another_users_task_is_404_on_every_verb(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, owner_headers = await user_with_headers(session, settings)
    _, intruder_headers = await user_with_headers(session, settings)
    admin, admin_headers = await user_with_headers(session, settings, UserRole.ADMIN)
    task = await post_task(client, owner_headers, title="Private plans")
    url = f"{URL}/{task['id']}"
    missing = f"{URL}/{2**31 - 1}"
    for headers in (intruder_headers, admin_headers):
        for method, path, body in (
            ("GET", url, None),
            ("PUT", url, {"title": "hijacked"}),
            ("PATCH", url, {"title": "hijacked"}),
            ("DELETE", url, None),
            ("POST", f"{url}/complete", None),
        ):
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status_code == 404, (method, response.text)
            never_existed = await client.request(
                method, path.replace(url, missing), json=body, headers=headers
            )
            # Indistinguishable from a task that does not exist.
            assert never_existed.status_code == 404
            assert response.json()["detail"] == never_existed.json()["detail"]
            assert "Private plans" not in response.text
    # Nothing changed.
    after = await client.get(url, headers=owner_headers)
    assert after.json() == task
    assert admin.id != owner.id


async def test_lists_filters_and_counts_show_only_own_tasks(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice, alice_headers = await user_with_headers(session, settings)
    bob, bob_headers = await user_with_headers(session, settings)
    teacher, _ = await user_with_headers(session, settings, UserRole.TEACHER)
    course, (preview, locked) = await create_course(session, teacher)
    await enroll(session, alice, course)
    await enroll(session, bob, course)

    alice_task = await post_task(
        client, alice_headers, title="shared words", lesson_id=locked.id, priority="high"
    )
    bob_tasks = [
        await post_task(client, bob_headers, title="shared words", lesson_id=locked.id),
        await post_task(client, bob_headers, title="bob only", lesson_id=preview.id),
    ]

    for params in (
        {},
        {"q": "shared"},
        {"lesson_id": locked.id},
        {"priority": "high"},
        {"status_filter": "todo"},
        {"sort": "title"},
    ):
        alice_page = (await client.get(URL, params=params, headers=alice_headers)).json()
        assert [t["id"] for t in alice_page["items"]] == [alice_task["id"]], params
        assert alice_page["total"] == 1, params
        assert all(t["owner_id"] == alice.id for t in alice_page["items"])

    bob_page = (await client.get(URL, headers=bob_headers)).json()
    assert bob_page["total"] == 2
    assert {t["id"] for t in bob_page["items"]} == {t["id"] for t in bob_tasks}
    assert all(t["owner_id"] == bob.id for t in bob_page["items"])

    empty = (await client.get(URL, params={"lesson_id": preview.id}, headers=alice_headers)).json()
    assert empty == {"items": [], "total": 0, "page": 1, "page_size": 20, "pages": 0}


async def test_new_user_sees_an_empty_list(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, _ = await user_with_headers(session, settings)
    await add_task(session, owner)
    _, headers = await user_with_headers(session, settings)
    page = (await client.get(URL, headers=headers)).json()
    assert page == {"items": [], "total": 0, "page": 1, "page_size": 20, "pages": 0}
