"""Media through the API on the local filesystem: upload, serve, delete, cover; every
bad input refused with nothing stored; who may not."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.media import service
from campus.media.storage import BlobStorage, storage_for
from campus.models.media import Media
from tests.courses.conftest import Actor
from tests.factories import DEFAULT_PASSWORD, create_course, enroll
from tests.media.conftest import (
    HTML_AS_PNG,
    SVG_WITH_SCRIPT,
    ClientFactory,
    image_bytes,
    jpeg_with_exif,
    pdf_bytes,
    png_bomb,
    stored_files,
    truncated_png,
    upload,
)
from tests.pagehelpers import sign_in

PROBLEM = "application/problem+json"
UNSUPPORTED = "unsupported-media-type"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def _rows(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Media))).scalar_one())


async def test_an_image_is_stored_re_encoded_and_served_from_our_origin(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user)
    response = await client.post(
        f"/api/v1/courses/{course.id}/media",
        headers=teacher.headers,
        **upload(image_bytes("PNG", (64, 48)), "../../etc/My Picture.png", "text/plain"),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "image"
    assert body["content_type"] == "image/png"
    assert body["filename"] == "My Picture.png"
    assert (body["width"], body["height"]) == (64, 48)
    assert body["url"].startswith("/media/")
    assert body["url"].endswith(".png")
    assert body["thumbnail_url"].endswith("-thumb.webp")
    assert body["markdown"] == f"![My Picture]({body['url']})"

    served = await client.get(body["url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "content-disposition" not in served.headers
    assert "set-cookie" not in served.headers
    assert Image.open(io.BytesIO(served.content)).size == (64, 48)

    thumb = await client.get(body["thumbnail_url"])
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.content)).format == "WEBP"

    listed = await client.get(f"/api/v1/courses/{course.id}/media", headers=teacher.headers)
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [body["id"]]


async def test_metadata_is_stripped_and_large_images_are_scaled_down(
    client_with: ClientFactory, session: AsyncSession, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user)
    async with client_with(media_max_dimension=100) as c:
        jpeg = await c.post(
            f"/api/v1/courses/{course.id}/media",
            headers=teacher.headers,
            **upload(jpeg_with_exif(), "photo.jpg", "image/jpeg"),
        )
        assert jpeg.status_code == 201, jpeg.text
        stored = Image.open(io.BytesIO((await c.get(jpeg.json()["url"])).content))
        assert stored.format == "JPEG"
        assert not stored.getexif()
        assert "comment" not in stored.info
        assert "exif" not in stored.info

        big = await c.post(
            f"/api/v1/courses/{course.id}/media",
            headers=teacher.headers,
            **upload(image_bytes("WEBP", (400, 200)), "wide.webp", "image/webp"),
        )
        assert big.status_code == 201, big.text
        assert (big.json()["width"], big.json()["height"]) == (100, 50)


async def test_a_gif_becomes_a_png(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user)
    response = await client.post(
        f"/api/v1/courses/{course.id}/media",
        headers=teacher.headers,
        **upload(image_bytes("GIF", (20, 20), colour=(1, 2, 3)), "anim.gif", "image/gif"),
    )
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == "image/png"
    assert response.json()["filename"] == "anim.png"


async def test_a_pdf_is_served_as_an_attachment(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user)
    response = await client.post(
        f"/api/v1/courses/{course.id}/media",
        headers=teacher.headers,
        **upload(pdf_bytes(), "Übung 1.pdf", "application/octet-stream"),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "pdf"
    assert body["thumbnail_url"] is None
    assert body["markdown"] == f"[Übung 1 (PDF)]({body['url']})"
    served = await client.get(body["url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"] == (
        "attachment; filename=\"_bung 1.pdf\"; filename*=UTF-8''%C3%9Cbung%201.pdf"
    )
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]


BAD_INPUTS = [
    pytest.param(HTML_AS_PNG, "page.png", 415, UNSUPPORTED, "HTML", id="html-as-png"),
    pytest.param(SVG_WITH_SCRIPT, "logo.png", 415, UNSUPPORTED, "SVG", id="svg"),
    pytest.param(b"some text\n" * 10, "a.txt", 415, UNSUPPORTED, "not accepted", id="text"),
    pytest.param(truncated_png(), "cut.png", 422, "invalid-image", "damaged", id="truncated"),
    pytest.param(png_bomb(), "bomb.png", 422, "image-too-large", "megapixels", id="bomb"),
    pytest.param(png_bomb(8000), "b.png", 422, "image-too-large", "8000x8000", id="bomb-64mp"),
    pytest.param(PNG_MAGIC + b"no", "f.png", 422, "invalid-image", "damaged", id="magic-only"),
    pytest.param(b"%PDF-1.7\nbroken", "broken.pdf", 422, "invalid-pdf", "PDF", id="broken-pdf"),
    pytest.param(b"", "empty.png", 422, "empty-file", "empty", id="empty"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "name", "status", "code", "words"), BAD_INPUTS)
async def test_bad_files_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    teacher: Actor,
    data: bytes,
    name: str,
    status: int,
    code: str,
    words: str,
) -> None:
    course = await create_course(session, teacher.user)
    files_before, rows_before = stored_files(settings), await _rows(session)
    response = await client.post(
        f"/api/v1/courses/{course.id}/media", headers=teacher.headers, **upload(data, name)
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"].endswith("/" + code)
    assert words in problem["detail"]
    assert stored_files(settings) == files_before
    assert await _rows(session) == rows_before


async def test_over_the_size_limit_is_a_413_and_nothing_is_stored(
    client_with: ClientFactory, session: AsyncSession, settings: Settings, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user)
    files_before = stored_files(settings)
    big = image_bytes("PNG", (200, 200), colour=None) + b"\x00" * 5000
    async with client_with(media_max_upload_bytes=4096) as c:
        response = await c.post(
            f"/api/v1/courses/{course.id}/media", headers=teacher.headers, **upload(big)
        )
        assert response.status_code == 413
        assert response.json()["type"].endswith("/file-too-large")
        assert response.json()["detail"] == "The file is larger than 4 kB, the limit of one upload."
        # Far over it, the body limit refuses before the route reads anything.
        huge = await c.post(
            f"/api/v1/courses/{course.id}/media",
            headers=teacher.headers,
            **upload(b"\x89PNG" + b"\x00" * 200_000),
        )
        assert huge.status_code == 413
    assert stored_files(settings) == files_before
    assert await _rows(session) == 0


async def test_over_the_quota_is_a_409_and_nothing_is_stored(
    client_with: ClientFactory, session: AsyncSession, settings: Settings, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user)
    first = image_bytes("PNG", (40, 40))
    async with client_with(media_quota_bytes=3000) as c:
        ok = await c.post(
            f"/api/v1/courses/{course.id}/media", headers=teacher.headers, **upload(first)
        )
        assert ok.status_code == 201, ok.text
        files_before = stored_files(settings)
        noisy = Image.effect_noise((64, 64), 90).convert("RGB")
        out = io.BytesIO()
        noisy.save(out, format="PNG")
        refused = await c.post(
            f"/api/v1/courses/{course.id}/media", headers=teacher.headers, **upload(out.getvalue())
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"].endswith("/media-quota-exceeded")
        assert "quota" in refused.json()["detail"]
    assert stored_files(settings) == files_before
    assert await _rows(session) == 1


async def test_a_failed_storage_write_stores_no_row_and_no_blob(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    teacher: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    course = await create_course(session, teacher.user)
    original = BlobStorage.put
    calls = 0

    async def flaky_put(self: BlobStorage, key: str, data: bytes, *, content_type: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the thumbnail
            raise OSError("disk full")
        await original(self, key, data, content_type=content_type)

    monkeypatch.setattr(BlobStorage, "put", flaky_put)
    files_before = stored_files(settings)
    response = await client.post(
        f"/api/v1/courses/{course.id}/media", headers=teacher.headers, **upload(image_bytes())
    )
    assert response.status_code == 503
    assert stored_files(settings) == files_before
    assert await _rows(session) == 0


# --- who may not ------------------------------------------------------------------------


async def test_who_may_not_upload_list_or_delete(
    client: httpx.AsyncClient,
    session: AsyncSession,
    teacher: Actor,
    other_teacher: Actor,
    student: Actor,
    admin: Actor,
) -> None:
    course = await create_course(session, teacher.user)
    draft = await create_course(session, teacher.user, is_published=False)
    await enroll(session, student.user, course)
    made = await client.post(
        f"/api/v1/courses/{course.id}/media", headers=teacher.headers, **upload(image_bytes())
    )
    media_id = made.json()["id"]
    base = f"/api/v1/courses/{course.id}/media"
    for headers, status in ((student.headers, 403), (other_teacher.headers, 403), ({}, 401)):
        assert (
            await client.post(base, headers=headers, **upload(image_bytes()))
        ).status_code == status
        assert (await client.get(base, headers=headers)).status_code == status
        assert (await client.delete(f"{base}/{media_id}", headers=headers)).status_code == status
        cover = await client.put(
            f"/api/v1/courses/{course.id}/cover", headers=headers, json={"media_id": media_id}
        )
        assert cover.status_code == status
    # A draft another teacher cannot see is a 404, not a 403.
    hidden = await client.post(
        f"/api/v1/courses/{draft.id}/media", headers=other_teacher.headers, **upload(image_bytes())
    )
    assert hidden.status_code == 404
    # An admin may.
    assert (await client.get(base, headers=admin.headers)).json()["total"] == 1
    assert (await client.delete(f"{base}/{media_id}", headers=admin.headers)).status_code == 204
    # An item of another course is not found through this one.
    other = await create_course(session, teacher.user)
    again = await client.post(base, headers=teacher.headers, **upload(image_bytes()))
    wrong = await client.delete(
        f"/api/v1/courses/{other.id}/media/{again.json()['id']}", headers=teacher.headers
    )
    assert wrong.status_code == 404


async def test_a_drafts_files_are_only_for_those_who_see_the_draft(
    client: httpx.AsyncClient,
    session: AsyncSession,
    teacher: Actor,
    other_teacher: Actor,
    admin: Actor,
) -> None:
    draft = await create_course(session, teacher.user, is_published=False)
    made = await client.post(
        f"/api/v1/courses/{draft.id}/media", headers=teacher.headers, **upload(image_bytes())
    )
    url = made.json()["url"]
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers=other_teacher.headers)).status_code == 404
    # /media is read by browsers: the sign-in cookie counts there (a bearer token does not).
    assert (await client.get(url, headers=teacher.headers)).status_code == 404
    await sign_in(client, teacher.user.email, DEFAULT_PASSWORD)
    own = await client.get(url)
    assert own.status_code == 200
    assert own.headers["cache-control"] == "private, max-age=31536000, immutable"
    # Unknown, malformed and traversal keys: a plain 404.
    for key in ("AAAAAAAAAAAAAAAAAAAAAA.png", "..%2F..%2Fetc%2Fpasswd", "x.svg"):
        assert (await client.get(f"/media/{key}")).status_code == 404


# --- cover --------------------------------------------------------------------------------


async def test_cover_set_shown_and_cleared(
    client: httpx.AsyncClient, session: AsyncSession, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user, title="Covered course")
    image = await client.post(
        f"/api/v1/courses/{course.id}/media", headers=teacher.headers, **upload(image_bytes())
    )
    pdf = await client.post(
        f"/api/v1/courses/{course.id}/media",
        headers=teacher.headers,
        **upload(pdf_bytes(), "a.pdf"),
    )
    before = await client.get(f"/api/v1/courses/{course.id}")
    assert before.json()["cover_url"] is None
    refused = await client.put(
        f"/api/v1/courses/{course.id}/cover",
        headers=teacher.headers,
        json={"media_id": pdf.json()["id"]},
    )
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/not-an-image")
    done = await client.put(
        f"/api/v1/courses/{course.id}/cover",
        headers=teacher.headers,
        json={"media_id": image.json()["id"]},
    )
    assert done.status_code == 200, done.text
    assert done.json()["cover_url"] == image.json()["url"]
    listed = await client.get("/api/v1/courses", params={"q": "Covered course"})
    assert listed.json()["items"][0]["cover_url"] == image.json()["url"]
    catalog = await client.get("/", params={"q": "Covered course"})
    assert f'src="{image.json()["url"]}"' in catalog.text
    page = await client.get(f"/courses/{course.id}")
    assert f'class="course-hero-image" src="{image.json()["url"]}"' in page.text

    cleared = await client.delete(f"/api/v1/courses/{course.id}/cover", headers=teacher.headers)
    assert cleared.status_code == 200
    assert cleared.json()["cover_url"] is None


async def test_deleting_the_cover_image_clears_the_cover(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, teacher: Actor
) -> None:
    course = await create_course(session, teacher.user)
    image = (
        await client.post(
            f"/api/v1/courses/{course.id}/media", headers=teacher.headers, **upload(image_bytes())
        )
    ).json()
    await client.put(
        f"/api/v1/courses/{course.id}/cover",
        headers=teacher.headers,
        json={"media_id": image["id"]},
    )
    gone = await client.delete(
        f"/api/v1/courses/{course.id}/media/{image['id']}", headers=teacher.headers
    )
    assert gone.status_code == 204
    assert (await client.get(f"/api/v1/courses/{course.id}")).json()["cover_url"] is None
    assert (await client.get(image["url"])).status_code == 404
    # The blobs go with the purge (the job after the commit; here on the test's session).
    key = image["url"].rsplit("/", 1)[1]
    assert await storage_for(settings).exists(key)
    assert await service.purge_deleted(session, settings) == (1, 0)
    assert not await storage_for(settings).exists(key)
    assert not await storage_for(settings).exists(image["thumbnail_url"].rsplit("/", 1)[1])
    assert await _rows(session) == 0


async def test_a_blob_that_cannot_be_deleted_is_retried_later(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    teacher: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    course = await create_course(session, teacher.user)
    image = (
        await client.post(
            f"/api/v1/courses/{course.id}/media", headers=teacher.headers, **upload(image_bytes())
        )
    ).json()
    assert (
        await client.delete(
            f"/api/v1/courses/{course.id}/media/{image['id']}", headers=teacher.headers
        )
    ).status_code == 204

    async def broken(self: BlobStorage, key: str) -> None:
        raise OSError("storage unreachable")

    with monkeypatch.context() as patched:
        patched.setattr(BlobStorage, "delete", broken)
        assert await service.purge_deleted(session, settings) == (0, 1)
    assert await _rows(session) == 1  # kept for the next run
    assert await service.purge_deleted(session, settings) == (1, 0)
    assert await _rows(session) == 0
