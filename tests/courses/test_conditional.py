"""Conditional GETs of courses, lessons and the catalog: strong ETags, 304, caching rules."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from tests.courses.conftest import Actor
from tests.factories import auth_headers, create_course, create_lesson, create_user, enroll

API = "/api/v1/courses"


def assert_strong(etag: str) -> None:
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert not etag.startswith("W/")


async def revalidate(
    client: httpx.AsyncClient, url: str, etag: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.get(url, headers={**(headers or {}), "If-None-Match": etag})


async def test_a_course_revalidates_to_a_bodiless_304(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user)
    first = await client.get(f"{API}/{course.id}")
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert_strong(etag)
    assert first.headers["cache-control"] == "public, no-cache"
    assert "Authorization" in first.headers["vary"]
    assert "Cookie" in first.headers["vary"]

    again = await revalidate(client, f"{API}/{course.id}", etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "public, no-cache"
    # The same representation gives the same tag on a full GET.
    assert (await client.get(f"{API}/{course.id}")).headers["etag"] == etag


async def test_if_none_match_forms(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user)
    url = f"{API}/{course.id}"
    etag = (await client.get(url)).headers["etag"]
    assert (await revalidate(client, url, f"W/{etag}")).status_code == 304  # weak comparison
    assert (await revalidate(client, url, f'"nope", {etag}')).status_code == 304  # a list
    assert (await revalidate(client, url, "*")).status_code == 304
    assert (await revalidate(client, url, '"nope", W/"other"')).status_code == 200
    assert (await revalidate(client, url, etag[:-2] + '"')).status_code == 200


async def test_the_course_etag_follows_what_changes_it(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor, student: Actor
) -> None:
    course = await create_course(session, teacher.user)
    url = f"{API}/{course.id}"
    tags = [(await client.get(url)).headers["etag"]]

    changed = await client.patch(url, json={"title": "A new title"}, headers=teacher.headers)
    assert changed.status_code == 200
    assert changed.headers.get("etag") is None or changed.headers["etag"] not in tags
    tags.append((await client.get(url)).headers["etag"])
    await create_lesson(session, course, position=1)  # lessons_count, kept by a trigger
    tags.append((await client.get(url)).headers["etag"])
    await enroll(session, student.user, course)  # students_count
    tags.append((await client.get(url)).headers["etag"])
    renamed = await client.patch(
        "/api/v1/auth/me", json={"full_name": "Renamed Teacher"}, headers=teacher.headers
    )
    assert renamed.status_code == 200
    tags.append((await client.get(url)).headers["etag"])
    assert len(set(tags)) == len(tags)
    # An old tag no longer matches: the full body comes back.
    stale = await revalidate(client, url, tags[0])
    assert stale.status_code == 200
    assert stale.json()["title"] == "A new title"


async def test_a_signed_in_response_is_private(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    draft = await create_course(session, teacher.user, is_published=False)
    url = f"{API}/{draft.id}"
    response = await client.get(url, headers=teacher.headers)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-cache"
    assert "public" not in response.headers["cache-control"]
    not_modified = await revalidate(client, url, response.headers["etag"], teacher.headers)
    assert not_modified.status_code == 304
    assert not_modified.headers["cache-control"] == "private, no-cache"
    # Who may not see the draft gets no 304 with its tag, only the 404.
    assert (await revalidate(client, url, response.headers["etag"])).status_code == 404


async def test_a_lesson_revalidates_after_the_access_check(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    teacher: Actor,
    student: Actor,
) -> None:
    course = await create_course(session, teacher.user)
    lesson = await create_lesson(session, course, position=1)
    preview = await create_lesson(session, course, position=2, is_preview=True)
    url = f"{API}/{course.id}/lessons/{lesson.id}"
    await enroll(session, student.user, course)
    first = await client.get(url, headers=student.headers)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert_strong(etag)
    assert first.headers["cache-control"] == "private, no-cache"
    again = await revalidate(client, url, etag, student.headers)
    assert (again.status_code, again.content) == (304, b"")

    # Another student, not enrolled, never gets a 304 for it.
    stranger = await create_user(session, settings, role=UserRole.STUDENT)
    headers = await auth_headers(session, settings, stranger)
    assert (await revalidate(client, url, etag, headers)).status_code == 403
    assert (await revalidate(client, url, etag)).status_code == 401

    changed = await client.patch(url, json={"content": "New text"}, headers=teacher.headers)
    assert changed.status_code == 200
    fresh = await revalidate(client, url, etag, student.headers)
    assert fresh.status_code == 200
    assert fresh.headers["etag"] != etag

    public = await client.get(f"{API}/{course.id}/lessons/{preview.id}")
    assert public.headers["cache-control"] == "public, no-cache"


async def test_the_catalog_revalidates_and_changes_with_its_rows(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor, student: Actor
) -> None:
    course = await create_course(session, teacher.user)
    url = f"{API}?limit=5"
    first = await client.get(url)
    etag = first.headers["etag"]
    assert_strong(etag)
    assert first.headers["cache-control"] == "public, no-cache"
    again = await revalidate(client, url, etag)
    assert (again.status_code, again.content) == (304, b"")

    await enroll(session, student.user, course)  # a row's count changes
    changed = await revalidate(client, url, etag)
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    # Other parameters are another page with another tag.
    assert (await client.get(f"{API}?limit=4")).headers["etag"] != changed.headers["etag"]
    await create_course(session, teacher.user)  # a new row and a new total
    assert (await revalidate(client, url, changed.headers["etag"])).status_code == 200


async def test_the_catalog_tag_depends_on_the_viewer(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    await create_course(session, teacher.user)
    await create_course(session, teacher.user, is_published=False)
    anonymous = await client.get(API)
    own = await client.get(API, headers=teacher.headers)
    assert own.json()["total"] == anonymous.json()["total"] + 1
    assert own.headers["etag"] != anonymous.headers["etag"]
    assert own.headers["cache-control"] == "private, no-cache"
    # The teacher's tag does not revalidate the anonymous catalog.
    assert (await revalidate(client, API, own.headers["etag"])).status_code == 200
