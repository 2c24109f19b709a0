"""Request and response bodies of media (README "Media")."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from campus.kit.schemas import InputSchema, Schema
from campus.models.media import MediaKind

MAX_ID = 2**31 - 1


class MediaRead(Schema):
    id: int
    course_id: int
    kind: MediaKind
    content_type: str = Field(description="Of the stored file (images are re-encoded).")
    filename: str
    size_bytes: int = Field(description="Stored bytes, thumbnail included (the quota's count).")
    width: int | None
    height: int | None
    url: str = Field(description="A path on Campus's own origin; its bytes never change.")
    thumbnail_url: str | None = Field(description="A WebP thumbnail of an image.")
    markdown: str = Field(description="To paste into a lesson: an image, or a link to a PDF.")
    created_at: datetime


class CoverIn(InputSchema):
    media_id: int = Field(ge=1, le=MAX_ID, description="An image of this course.")
