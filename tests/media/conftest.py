"""Actors, files good and bad, and clients on apps with other media settings."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from pypdf import PdfWriter
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from campus.config import Settings
from campus.main import create_app
from campus.models.accounts import UserRole
from tests.conftest import on_test_transaction
from tests.courses.conftest import Actor, make_actor


@pytest.fixture
async def admin(session: AsyncSession, settings: Settings) -> Actor:
    return await make_actor(session, settings, UserRole.ADMIN)


@pytest.fixture
async def teacher(session: AsyncSession, settings: Settings) -> Actor:
    return await make_actor(session, settings, UserRole.TEACHER)


@pytest.fixture
async def other_teacher(session: AsyncSession, settings: Settings) -> Actor:
    return await make_actor(session, settings, UserRole.TEACHER)


@pytest.fixture
async def student(session: AsyncSession, settings: Settings) -> Actor:
    return await make_actor(session, settings, UserRole.STUDENT)


# --- files ------------------------------------------------------------------------------


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (64, 48), colour: Any = (200, 30, 60), **save: Any
) -> bytes:
    mode = "RGBA" if fmt in ("PNG", "WEBP") else "RGB"
    image = Image.new(mode, size, colour)
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (40, 30), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "Editor 1.0"  # Software
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), comment=b"private comment")
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 20_000) -> bytes:
    """A valid PNG header claiming side x side pixels (400 MP), a few hundred bytes long."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    row = b"\x00" + b"\x00" * side
    compressor = zlib.compressobj(9)
    data = compressor.compress(row * 16) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


HTML_AS_PNG = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script><rect width='10' height='10'/></svg>"
)


def truncated_png() -> bytes:
    whole = image_bytes("PNG", (300, 300), colour=None)
    noisy = Image.effect_noise((300, 300), 80).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, format="PNG")
    whole = out.getvalue()
    return whole[: len(whole) // 2]


def stored_files(settings: Settings) -> set[str]:
    root = Path(settings.media_dir)
    return {p.name for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def upload(
    file: bytes, name: str = "picture.png", content_type: str = "image/png"
) -> dict[str, Any]:
    return {"files": {"file": (name, file, content_type)}}


# --- clients on apps with other settings ---------------------------------------------------


ClientFactory = Callable[..., Any]


@pytest.fixture
def client_with(settings: Settings, connection: AsyncConnection) -> ClientFactory:
    """``async with client_with(media_quota_bytes=...) as c``: an app with those settings
    on the test's transaction."""

    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(settings.model_copy(update=overrides))
        transport = httpx.ASGITransport(app=on_test_transaction(app, connection))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c

    return make
