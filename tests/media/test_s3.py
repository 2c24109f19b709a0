"""Media on S3: the same API against moto's S3 server on loopback (the real protocol,
through obstore, the client production uses)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy.ext.asyncio import AsyncSession

from campus.media import service
from campus.media.storage import S3_PREFIX
from tests.courses.conftest import Actor
from tests.factories import create_course
from tests.media.conftest import HTML_AS_PNG, ClientFactory, image_bytes, pdf_bytes, upload

BUCKET = "campus-media-test"
KEYS = {"s3_access_key_id": "testing", "s3_secret_access_key": "testing"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def s3_settings(s3_endpoint: str) -> dict[str, Any]:
    return {
        "media_backend": "s3",
        "s3_bucket": BUCKET,
        "s3_endpoint_url": s3_endpoint,
        "s3_region": "us-east-1",
        **KEYS,
    }


def _objects(endpoint: str) -> set[str]:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    listed = client.list_objects_v2(Bucket=BUCKET)
    return {item["Key"] for item in listed.get("Contents", [])}


async def test_upload_serve_delete_on_s3(
    client_with: ClientFactory,
    session: AsyncSession,
    s3_settings: dict[str, Any],
    s3_endpoint: str,
    teacher: Actor,
    settings: Any,
) -> None:
    course = await create_course(session, teacher.user)
    before = _objects(s3_endpoint)
    async with client_with(**s3_settings) as c:
        made = await c.post(
            f"/api/v1/courses/{course.id}/media", headers=teacher.headers, **upload(image_bytes())
        )
        assert made.status_code == 201, made.text
        body = made.json()
        key = body["url"].rsplit("/", 1)[1]
        thumb = body["thumbnail_url"].rsplit("/", 1)[1]
        assert _objects(s3_endpoint) - before == {f"{S3_PREFIX}/{key}", f"{S3_PREFIX}/{thumb}"}

        served = await c.get(body["url"])
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/png"
        assert served.headers["cache-control"].endswith("immutable")
        assert served.content.startswith(b"\x89PNG")

        pdf = await c.post(
            f"/api/v1/courses/{course.id}/media",
            headers=teacher.headers,
            **upload(pdf_bytes(), "notes.pdf"),
        )
        assert pdf.status_code == 201
        assert (await c.get(pdf.json()["url"])).content.startswith(b"%PDF-")

        # Refused: nothing reaches the bucket.
        stored = _objects(s3_endpoint)
        refused = await c.post(
            f"/api/v1/courses/{course.id}/media", headers=teacher.headers, **upload(HTML_AS_PNG)
        )
        assert refused.status_code == 415
        assert _objects(s3_endpoint) == stored

        deleted = await c.delete(
            f"/api/v1/courses/{course.id}/media/{body['id']}", headers=teacher.headers
        )
        assert deleted.status_code == 204
        assert (await c.get(body["url"])).status_code == 404
    s3 = settings.model_copy(update=s3_settings)
    assert await service.purge_deleted(session, s3) == (1, 0)
    remaining = _objects(s3_endpoint)
    assert f"{S3_PREFIX}/{key}" not in remaining
    assert f"{S3_PREFIX}/{thumb}" not in remaining
    assert any(name.endswith(".pdf") for name in remaining - before)


async def test_an_unreachable_bucket_fails_the_upload_and_stores_no_row(
    client_with: ClientFactory, session: AsyncSession, teacher: Actor, s3_settings: dict[str, Any]
) -> None:
    course = await create_course(session, teacher.user)
    broken = {**s3_settings, "s3_bucket": "no-such-bucket"}
    async with client_with(**broken) as c:
        response = await c.post(
            f"/api/v1/courses/{course.id}/media", headers=teacher.headers, **upload(image_bytes())
        )
        assert response.status_code == 503
        listed = await c.get(f"/api/v1/courses/{course.id}/media", headers=teacher.headers)
        assert listed.json()["total"] == 0
