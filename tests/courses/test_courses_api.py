"""API.md §4, courses: every row, who may not, visibility, validation, search, slugs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.models.courses import Course, Lesson
from campus.models.learning import Enrollment, EnrollmentStatus, LessonCompletion
from tests.courses.conftest import Actor
from tests.factories import create_course, enroll
from tests.sqlcount import count_statements

API = "/api/v1/courses"


def course_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "title": "Intro to Testing",
        "description": "How to test web APIs.",
        "level": "beginner",
    }
    body.update(overrides)
    return body


# --- create -----------------------------------------------------------------------------


async def test_teacher_creates_a_course(client: httpx.AsyncClient, teacher: Actor) -> None:
    response = await client.post(
        API,
        json=course_body(price_cents=1500, currency="eur", is_published=True),
        headers=teacher.headers,
    )
    assert response.status_code == 201, response.text
    course = response.json()
    assert set(course) == {
        "id", "slug", "title", "description", "level", "price_cents", "currency",
        "is_published", "teacher", "lessons_count", "students_count", "cover_url", "created_at",
        "updated_at",
    }  # fmt: skip
    assert course["slug"] == "intro-to-testing"
    assert course["teacher"] == {"id": teacher.id, "full_name": teacher.user.full_name}
    assert (course["lessons_count"], course["students_count"]) == (0, 0)
    assert course["cover_url"] is None
    assert course["currency"] == "EUR"
    assert course["price_cents"] == 1500
    assert course["is_published"] is True
    assert datetime.fromisoformat(course["created_at"]).utcoffset() == timedelta(0)

    fetched = await client.get(f"{API}/{course['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == course


async def test_defaults_and_admin_may_create(client: httpx.AsyncClient, admin: Actor) -> None:
    response = await client.post(API, json=course_body(), headers=admin.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["price_cents"], body["currency"], body["is_published"]) == (0, "USD", False)
    assert body["teacher"]["id"] == admin.id


async def test_student_and_anonymous_may_not_create(
    client: httpx.AsyncClient, student: Actor
) -> None:
    assert (await client.post(API, json=course_body(), headers=student.headers)).status_code == 403
    anonymous = await client.post(API, json=course_body())
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"


async def test_slug_from_a_cyrillic_title_and_collisions(
    client: httpx.AsyncClient, teacher: Actor
) -> None:
    slugs = []
    for _ in range(3):
        response = await client.post(
            API, json=course_body(title="Основы Python"), headers=teacher.headers
        )
        assert response.status_code == 201, response.text
        slugs.append(response.json()["slug"])
    assert slugs == ["osnovy-python", "osnovy-python-2", "osnovy-python-3"]

    explicit_dup = await client.post(
        API, json=course_body(slug="osnovy-python-2"), headers=teacher.headers
    )
    assert explicit_dup.status_code == 409
    assert explicit_dup.json()["type"].endswith("slug-taken")

    explicit = await client.post(API, json=course_body(slug="my-own-1"), headers=teacher.headers)
    assert explicit.json()["slug"] == "my-own-1"

    emoji = await client.post(API, json=course_body(title="🐍🐍"), headers=teacher.headers)
    assert emoji.status_code == 201
    assert emoji.json()["slug"].startswith("course")

    long_title = await client.post(
        API, json=course_body(title="word " * 39), headers=teacher.headers
    )
    assert long_title.status_code == 201
    assert len(long_title.json()["slug"]) <= 200


async def test_derived_slug_skips_a_taken_suffix(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    await create_course(session, teacher.user, slug="data-science")
    await create_course(session, teacher.user, slug="data-science-7")
    await create_course(session, teacher.user, slug="data-science-basics")
    response = await client.post(
        API, json=course_body(title="Data Science"), headers=teacher.headers
    )
    assert response.json()["slug"] == "data-science-8"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"level": "expert"}, "level"),
        ({"price_cents": -1}, "price_cents"),
        ({"price_cents": 2**31}, "price_cents"),
        ({"currency": "US"}, "currency"),
        ({"currency": "USDX"}, "currency"),
        ({"currency": "U1D"}, "currency"),
        ({"currency": "ДОЛ"}, "currency"),
        ({"title": "   "}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"description": "x" * 10_001}, "description"),
        ({"slug": "Bad Slug"}, "slug"),
        ({"slug": "bad_slug"}, "slug"),
        ({"slug": "-bad"}, "slug"),
        ({"slug": "a" * 201}, "slug"),
        ({"is_published": "maybe"}, "is_published"),
        ({"teacher_id": 1}, "teacher_id"),
    ],
)
async def test_create_validation(
    client: httpx.AsyncClient, teacher: Actor, overrides: dict[str, object], field: str
) -> None:
    response = await client.post(API, json=course_body(**overrides), headers=teacher.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(field in error["loc"] for error in response.json()["errors"]), response.json()


async def test_required_fields(client: httpx.AsyncClient, teacher: Actor) -> None:
    for missing in ("title", "description", "level"):
        body = course_body()
        del body[missing]
        response = await client.post(API, json=body, headers=teacher.headers)
        assert response.status_code == 422, missing


async def test_title_is_trimmed(client: httpx.AsyncClient, teacher: Actor) -> None:
    response = await client.post(API, json=course_body(title="  Spaced  "), headers=teacher.headers)
    assert response.json()["title"] == "Spaced"


# --- get and visibility -----------------------------------------------------------------


async def test_draft_visibility_in_get(
    client: httpx.AsyncClient,
    session: AsyncSession,
    teacher: Actor,
    other_teacher: Actor,
    student: Actor,
    admin: Actor,
) -> None:
    draft = await create_course(session, teacher.user, is_published=False)
    published = await create_course(session, teacher.user, is_published=True)
    url = f"{API}/{draft.id}"
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers=student.headers)).status_code == 404
    assert (await client.get(url, headers=other_teacher.headers)).status_code == 404
    assert (await client.get(url, headers=teacher.headers)).status_code == 200
    assert (await client.get(url, headers=admin.headers)).status_code == 200
    for headers in ({}, student.headers, other_teacher.headers):
        assert (await client.get(f"{API}/{published.id}", headers=headers)).status_code == 200
    missing = await client.get(f"{API}/999999")
    assert missing.status_code == 404
    assert missing.json()["detail"] == (await client.get(url)).json()["detail"]


@pytest.mark.parametrize("bad_id", ["abc", "0", "-1", "1.5", str(2**31), "99999999999999999999"])
async def test_non_integer_ids_are_422(client: httpx.AsyncClient, bad_id: str) -> None:
    assert (await client.get(f"{API}/{bad_id}")).status_code == 422
    assert (await client.get(f"{API}/{bad_id}/lessons")).status_code == 422
    assert (await client.get(f"{API}/1/lessons/{bad_id}")).status_code == 422


async def test_draft_visibility_in_lists_and_totals(
    client: httpx.AsyncClient,
    session: AsyncSession,
    teacher: Actor,
    other_teacher: Actor,
    student: Actor,
    admin: Actor,
) -> None:
    mine_pub = await create_course(session, teacher.user, is_published=True)
    mine_draft = await create_course(session, teacher.user, is_published=False)
    theirs_pub = await create_course(session, other_teacher.user, is_published=True)
    theirs_draft = await create_course(session, other_teacher.user, is_published=False)
    ours = {mine_pub.id, mine_draft.id, theirs_pub.id, theirs_draft.id}

    async def seen(headers: dict[str, str]) -> set[int]:
        body = (await client.get(API, params={"limit": 100}, headers=headers)).json()
        ids = {c["id"] for c in body["items"]}
        assert body["total"] == len(ids)
        return ids & ours

    assert await seen({}) == {mine_pub.id, theirs_pub.id}
    assert await seen(student.headers) == {mine_pub.id, theirs_pub.id}
    assert await seen(teacher.headers) == {mine_pub.id, mine_draft.id, theirs_pub.id}
    assert await seen(other_teacher.headers) == {mine_pub.id, theirs_pub.id, theirs_draft.id}
    assert await seen(admin.headers) == ours

    # teacher_id of another teacher never reveals their drafts
    filtered = await client.get(
        API, params={"teacher_id": other_teacher.id}, headers=teacher.headers
    )
    assert [c["id"] for c in filtered.json()["items"]] == [theirs_pub.id]
    assert filtered.json()["total"] == 1


# --- list: envelope, filters, sorts, counts -----------------------------------------------


async def test_list_envelope_filters_and_sorts(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor, other_teacher: Actor
) -> None:
    base = datetime(2030, 1, 1, tzinfo=UTC)
    a = await create_course(
        session, teacher.user, title="Alpha", price_cents=0, level="beginner", created_at=base
    )
    b = await create_course(
        session,
        teacher.user,
        title="Beta",
        price_cents=500,
        level="advanced",
        created_at=base + timedelta(days=1),
    )
    c = await create_course(
        session,
        other_teacher.user,
        title="Gamma",
        price_cents=100,
        level="intermediate",
        created_at=base + timedelta(days=2),
    )
    ids = {a.id, b.id, c.id}

    async def listed(**params: object) -> list[int]:
        body = (await client.get(API, params={"limit": 100, **params})).json()
        return [item["id"] for item in body["items"] if item["id"] in ids]

    assert await listed() == [c.id, b.id, a.id]  # default -created_at
    assert await listed(sort="created_at") == [a.id, b.id, c.id]
    assert await listed(sort="price_cents") == [a.id, c.id, b.id]
    assert await listed(sort="-price_cents") == [b.id, c.id, a.id]
    assert await listed(level="advanced") == [b.id]
    assert await listed(teacher_id=other_teacher.id) == [c.id]
    assert await listed(is_free="true") == [a.id]
    assert await listed(is_free="false", sort="title") == [b.id, c.id]

    page = (await client.get(API, params={"teacher_id": teacher.id, "limit": 1, "skip": 1})).json()
    assert page == {
        "items": page["items"],
        "total": 2,
        "page": 2,
        "page_size": 1,
        "pages": 2,
    }
    assert [i["id"] for i in page["items"]] == [a.id]


@pytest.mark.parametrize(
    "params",
    [
        {"level": "expert"},
        {"sort": "slug"},
        {"sort": "-teacher_id"},
        {"limit": 0},
        {"limit": 101},
        {"skip": -1},
        {"teacher_id": "x"},
        {"teacher_id": 0},
        {"is_free": "perhaps"},
        {"q": "x" * 201},
    ],
)
async def test_list_rejects_bad_parameters(
    client: httpx.AsyncClient, params: dict[str, object]
) -> None:
    response = await client.get(API, params=params)
    assert response.status_code == 422, response.text


async def test_counts_only_active_enrollments(
    client: httpx.AsyncClient, session: AsyncSession, settings: object, teacher: Actor
) -> None:
    from campus.config import Settings
    from tests.factories import create_user

    assert isinstance(settings, Settings)
    course = await create_course(session, teacher.user, lessons=3)
    for status in (EnrollmentStatus.ACTIVE, EnrollmentStatus.ACTIVE, EnrollmentStatus.CANCELLED):
        await enroll(session, await create_user(session, settings), course, status=status)
    body = (await client.get(f"{API}/{course.id}")).json()
    assert (body["lessons_count"], body["students_count"]) == (3, 2)
    listed = (await client.get(API, params={"teacher_id": teacher.id})).json()["items"]
    assert (listed[0]["lessons_count"], listed[0]["students_count"]) == (3, 2)


# --- search -----------------------------------------------------------------------------


async def test_search_is_case_insensitive_in_every_script(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    ru = await create_course(
        session, teacher.user, title="ОСНОВЫ Python", description="Переменные и ЦИКЛЫ"
    )
    de = await create_course(session, teacher.user, title="Straße und Öl", description="")
    gr = await create_course(session, teacher.user, title="Ελληνικά", description="ΣΟΦΙΑ")
    en = await create_course(session, teacher.user, title="Plain", description="100% FUN_stuff")
    ids = {ru.id, de.id, gr.id, en.id}

    async def found(q: str) -> set[int]:
        body = (await client.get(API, params={"q": q, "limit": 100})).json()
        return {item["id"] for item in body["items"]} & ids

    assert await found("основы") == {ru.id}
    assert await found("ОСНОВЫ PYTHON") == {ru.id}
    assert await found("циклы") == {ru.id}  # description
    assert await found("Ö") == {de.id}
    assert await found("STRASSE") == {de.id}  # full case folding
    assert await found("σοφια") == {gr.id}
    assert await found("ελληνικά") == {gr.id}
    assert await found("fun_stuff") == {en.id}
    assert await found("100%") == {en.id}
    assert await found("%") == {en.id}  # literal, not a wildcard
    assert await found("_") == {en.id}
    assert await found("p_ain") == set()
    assert await found("  plain  ") == {en.id}


async def test_search_text_follows_edits(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user, title="Старое название")
    response = await client.patch(
        f"{API}/{course.id}", json={"title": "Новое Название"}, headers=teacher.headers
    )
    assert response.status_code == 200
    hits = (await client.get(API, params={"q": "новое"})).json()["items"]
    assert [c["id"] for c in hits] == [course.id]
    assert (await client.get(API, params={"q": "старое"})).json()["total"] == 0


# --- update -----------------------------------------------------------------------------


async def test_put_replaces_and_patch_changes_given_fields(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user, price_cents=900, slug="keep-me")
    url = f"{API}/{course.id}"
    put = await client.put(
        url,
        json={"title": "New", "description": "D", "level": "advanced"},
        headers=teacher.headers,
    )
    assert put.status_code == 200, put.text
    body = put.json()
    assert (body["title"], body["level"], body["price_cents"], body["slug"]) == (
        "New",
        "advanced",
        0,
        "keep-me",
    )
    missing = await client.put(url, json={"title": "Only"}, headers=teacher.headers)
    assert missing.status_code == 422

    patch = await client.patch(url, json={"price_cents": 250}, headers=teacher.headers)
    assert patch.status_code == 200
    assert (patch.json()["title"], patch.json()["price_cents"]) == ("New", 250)
    assert patch.json()["updated_at"] >= body["updated_at"]

    for bad in ({"title": None}, {"level": None}, {"price_cents": -5}, {"nope": 1}):
        assert (await client.patch(url, json=bad, headers=teacher.headers)).status_code == 422


async def test_update_slug_conflict(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    await create_course(session, teacher.user, slug="taken")
    course = await create_course(session, teacher.user, slug="mine")
    url = f"{API}/{course.id}"
    assert (
        await client.patch(url, json={"slug": "taken"}, headers=teacher.headers)
    ).status_code == 409
    same = await client.patch(url, json={"slug": "mine"}, headers=teacher.headers)
    assert same.status_code == 200
    renamed = await client.patch(url, json={"slug": "renamed"}, headers=teacher.headers)
    assert renamed.json()["slug"] == "renamed"


async def test_who_may_not_update_or_delete(
    client: httpx.AsyncClient,
    session: AsyncSession,
    teacher: Actor,
    other_teacher: Actor,
    student: Actor,
    admin: Actor,
) -> None:
    published = await create_course(session, teacher.user, is_published=True)
    draft = await create_course(session, teacher.user, is_published=False)
    patch = {"title": "Hijacked"}
    put = course_body(title="Hijacked")
    for course, expected in ((published, 403), (draft, 404)):
        url = f"{API}/{course.id}"
        for who in (other_teacher, student):
            assert (
                await client.patch(url, json=patch, headers=who.headers)
            ).status_code == expected
            assert (await client.put(url, json=put, headers=who.headers)).status_code == expected
            assert (await client.delete(url, headers=who.headers)).status_code == expected
        assert (await client.patch(url, json=patch)).status_code == 401
        assert (await client.put(url, json=put)).status_code == 401
        assert (await client.delete(url)).status_code == 401
    unchanged = await client.get(f"{API}/{published.id}")
    assert unchanged.json()["title"] != "Hijacked"

    by_admin = await client.patch(f"{API}/{draft.id}", json=patch, headers=admin.headers)
    assert by_admin.status_code == 200
    assert by_admin.json()["teacher"]["id"] == teacher.id


async def test_delete_cascades(
    client: httpx.AsyncClient,
    session: AsyncSession,
    engine: AsyncEngine,
    teacher: Actor,
    student: Actor,
) -> None:
    course = await create_course(session, teacher.user, lessons=2)
    lesson = (
        (await session.execute(select(Lesson).where(Lesson.course_id == course.id)))
        .scalars()
        .first()
    )
    assert lesson is not None
    await enroll(session, student.user, course)
    session.add(LessonCompletion(user_id=student.id, lesson_id=lesson.id, course_id=course.id))
    await session.flush()

    response = await client.delete(f"{API}/{course.id}", headers=teacher.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"{API}/{course.id}", headers=teacher.headers)).status_code == 404
    for model in (Course, Lesson, Enrollment, LessonCompletion):
        column = model.id if model is Course else model.course_id  # type: ignore[attr-defined]
        left = await session.scalar(
            select(func.count()).select_from(model).where(column == course.id)
        )
        assert left == 0, model.__name__
    assert (await client.delete(f"{API}/{course.id}", headers=teacher.headers)).status_code == 404


async def test_admin_deletes_any_course(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor, admin: Actor
) -> None:
    course = await create_course(session, teacher.user, is_published=False)
    assert (await client.delete(f"{API}/{course.id}", headers=admin.headers)).status_code == 204


# --- no N+1 -----------------------------------------------------------------------------


async def test_course_page_runs_the_same_statements_for_20_and_100(
    client: httpx.AsyncClient, session: AsyncSession, engine: AsyncEngine, settings: object
) -> None:
    from campus.config import Settings
    from tests.factories import create_user

    assert isinstance(settings, Settings)
    teachers = [await create_user(session, settings, role="teacher") for _ in range(3)]
    student = await create_user(session, settings)
    for i in range(100):
        course = await create_course(session, teachers[i % 3], lessons=i % 3)
        if i % 4 == 0:
            await enroll(session, student, course)

    async def statements_for(limit: int) -> int:
        with count_statements(engine) as log:
            response = await client.get(API, params={"limit": limit})
        assert response.status_code == 200
        assert len(response.json()["items"]) == limit
        return len(log)

    small, large = await statements_for(20), await statements_for(100)
    assert small == large
    assert small <= 2  # the count and the page
    items = (await client.get(API, params={"limit": 100})).json()["items"]
    assert {item["teacher"]["id"] for item in items} == {t.id for t in teachers}
    assert sum(item["students_count"] for item in items) == 25
