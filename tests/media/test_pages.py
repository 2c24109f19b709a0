"""The teacher's file panel on pages: multipart forms with CSRF, errors beside the field,
nothing stored on error; the sanitiser keeps our own images only."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.kit.markdown import render
from campus.models.media import Media
from tests.courses.conftest import Actor
from tests.factories import DEFAULT_PASSWORD, create_course
from tests.media.conftest import (
    SVG_WITH_SCRIPT,
    ClientFactory,
    image_bytes,
    pdf_bytes,
    stored_files,
    upload,
)
from tests.pagehelpers import HTML, csrf_from, sign_in


async def _signed_in(client: httpx.AsyncClient, actor: Actor) -> None:
    response = await sign_in(client, actor.user.email, DEFAULT_PASSWORD)
    assert response.status_code in (200, 303), response.text


async def test_upload_from_the_course_editor_and_use_as_cover(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user, title="Paged course")
    await _signed_in(client, teacher)
    editor = await client.get(f"/teach/courses/{course.id}", headers=HTML)
    assert editor.status_code == 200
    assert 'enctype="multipart/form-data"' in editor.text
    token = csrf_from(editor.text)
    sent = await client.post(
        f"/teach/courses/{course.id}/media",
        data={"csrf_token": token, "back": f"/teach/courses/{course.id}"},
        files={"file": ("chart.png", image_bytes(), "image/png")},
        headers=HTML,
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/teach/courses/{course.id}#media"
    page = await client.get(f"/teach/courses/{course.id}", headers=HTML)
    snippet = re.search(r'value="(!\[chart\]\(/media/[^)]+\))"', page.text)
    assert snippet, "the Markdown snippet is shown"
    assert '-thumb.webp"' in page.text
    media_id = re.search(r'name="media_id" value="(\d+)"', page.text)
    assert media_id
    cover = await client.post(
        f"/teach/courses/{course.id}/cover/set",
        data={"csrf_token": token, "media_id": media_id.group(1)},
        headers=HTML,
    )
    assert cover.status_code == 303
    catalog = await client.get("/", params={"q": "Paged course"}, headers=HTML)
    assert 'class="course-cover level-beginner has-image"' in catalog.text


async def test_a_refused_upload_shows_its_reason_beside_the_field(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user)
    await _signed_in(client, teacher)
    token = csrf_from((await client.get(f"/teach/courses/{course.id}", headers=HTML)).text)
    before = stored_files(settings)
    for field, path in (("file", "media"), ("cover", "cover")):
        refused = await client.post(
            f"/teach/courses/{course.id}/{path}",
            data={"csrf_token": token},
            files={field: ("logo.png", SVG_WITH_SCRIPT, "image/png")},
            headers=HTML,
        )
        assert refused.status_code == 415
        assert f'id="e-{field}"' in refused.text
        assert "SVG image" in refused.text
        assert f'id="f-{field}"' in refused.text
    missing = await client.post(
        f"/teach/courses/{course.id}/media", data={"csrf_token": token}, headers=HTML
    )
    assert missing.status_code == 422
    assert "Choose a file to upload." in missing.text
    assert stored_files(settings) == before
    assert (await session.execute(select(func.count()).select_from(Media))).scalar_one() == 0


RU = {**HTML, "Accept-Language": "ru-RU,ru;q=0.9"}


def _field_error(html: str, field: str) -> str:
    found = re.search(rf'<p class="error-text" id="e-{field}" role="alert">([^<]*)</p>', html)
    assert found, f"no error beside {field}"
    return found.group(1)


async def test_a_refused_upload_is_explained_in_the_pages_language(
    client_with: ClientFactory, session: AsyncSession, settings: Settings, teacher: Actor
) -> None:
    """Beside the field in Russian on a Russian page (a message with a value in the
    locale's format too); the API's problem for the same file stays English."""
    course = await create_course(session, teacher.user)
    big = image_bytes("PNG", (200, 200), colour=None) + b"\x00" * 5000
    async with client_with(media_max_upload_bytes=4096) as c:
        await _signed_in(c, teacher)
        manager = f"/teach/courses/{course.id}/media"
        token = csrf_from((await c.get(manager, headers=RU)).text)
        svg = await c.post(
            manager,
            data={"csrf_token": token},
            files={"file": ("logo.png", SVG_WITH_SCRIPT, "image/png")},
            headers=RU,
        )
        assert svg.status_code == 415
        assert _field_error(svg.text, "file") == (
            "Этот файл — изображение SVG: в нём могут быть скрипты, поэтому он не принимается. "
            "Загрузите изображение PNG, JPEG, WebP или GIF либо PDF-файл."
        )
        too_large = await c.post(
            manager, data={"csrf_token": token}, files={"file": ("a.png", big)}, headers=RU
        )
        assert too_large.status_code == 413
        said = _field_error(too_large.text, "file").replace("\xa0", " ").replace("\u202f", " ")
        assert said == "Файл больше 4 кБ — это предел для одной загрузки."
        cover = await c.post(
            f"/teach/courses/{course.id}/cover",
            data={"csrf_token": token},
            files={"cover": ("a.pdf", pdf_bytes(), "application/pdf")},
            headers=RU,
        )
        assert cover.status_code == 415
        assert _field_error(cover.text, "cover") == (
            "Обложкой может быть только изображение PNG, JPEG, WebP или GIF."
        )
        api = await c.post(
            f"/api/v1/courses/{course.id}/media",
            headers={**teacher.headers, "Accept-Language": "ru"},
            **upload(big),
        )
        assert api.status_code == 413
        assert api.json()["title"] == "Content Too Large"
        assert api.json()["detail"] == "The file is larger than 4 kB, the limit of one upload."
    assert (await session.execute(select(func.count()).select_from(Media))).scalar_one() == 0


async def test_an_upload_without_the_csrf_token_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user)
    await _signed_in(client, teacher)
    before = stored_files(settings)
    response = await client.post(
        f"/teach/courses/{course.id}/media",
        files={"file": ("a.png", image_bytes(), "image/png")},
        headers=HTML,
    )
    assert response.status_code == 403
    assert stored_files(settings) == before


async def test_a_student_cannot_reach_the_file_manager(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor, student: Actor
) -> None:
    course = await create_course(session, teacher.user)
    await _signed_in(client, student)
    response = await client.get(f"/teach/courses/{course.id}/media", headers=HTML)
    assert response.status_code == 403


def test_lesson_markdown_shows_images_from_our_origin_only() -> None:
    html = render(
        "![ours](/media/AAAAAAAAAAAAAAAAAAAAAA.png) ![theirs](https://tracker.example/p.gif)"
        " ![proto](//tracker.example/p.gif) ![data](data:image/png;base64,AAAA)"
    )
    assert '<img src="/media/AAAAAAAAAAAAAAAAAAAAAA.png" alt="ours">' in html
    assert "tracker.example" not in html
    assert "data:" not in html
    assert html.count("<img") == 4
