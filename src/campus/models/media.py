"""Media: images and PDF attachments uploaded for a course (campus.media)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from campus.db import Base
from campus.models._columns import created_at_column, str_enum

MEDIA_PATH = "/media"  # where campus.media serves the files, on Campus's own origin
TOKEN_LENGTH = 22  # secrets.token_urlsafe(16): 128 random bits
FILENAME_MAX = 200


class MediaKind(enum.StrEnum):
    IMAGE = "image"
    PDF = "pdf"


class Media(Base):
    """One uploaded file. Its blobs are named by ``token`` (random, never reused), so a
    URL always names the same bytes and may be cached for ever.

    A row whose ``course_id`` is NULL is waiting for its blobs to be deleted (its course
    or the item itself was deleted): ``campus.media.service.purge_deleted`` removes the
    blobs, then the row, and retries what failed on the next run.
    """

    __tablename__ = "media"
    __table_args__ = (
        Index("ix_media_token", "token", unique=True),
        Index("ix_media_course_id_created_at", "course_id", "created_at"),
        Index("ix_media_uploaded_by_id", "uploaded_by_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(TOKEN_LENGTH))
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="SET NULL"), nullable=True
    )
    # The quota is the uploader's; an account deleted later leaves its files to the course.
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[MediaKind] = mapped_column(str_enum(MediaKind, "media_kind"))
    content_type: Mapped[str] = mapped_column(String(40))
    extension: Mapped[str] = mapped_column(String(5))
    filename: Mapped[str] = mapped_column(String(FILENAME_MAX))
    # Bytes stored: the file and, for an image, its thumbnail (what the quota counts).
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    has_thumbnail: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = created_at_column()

    @property
    def key(self) -> str:
        return f"{self.token}.{self.extension}"

    @property
    def thumbnail_key(self) -> str | None:
        return f"{self.token}-thumb.webp" if self.has_thumbnail else None

    @property
    def url(self) -> str:
        return f"{MEDIA_PATH}/{self.key}"

    @property
    def thumbnail_url(self) -> str | None:
        key = self.thumbnail_key
        return f"{MEDIA_PATH}/{key}" if key else None

    @property
    def markdown(self) -> str:
        """What a teacher pastes into a lesson to show (an image) or link (a PDF) it."""
        label = self.filename.rsplit(".", 1)[0].translate({ord(c): None for c in "[]()"})
        if self.kind == MediaKind.IMAGE:
            return f"![{label}]({self.url})"
        return f"[{label} (PDF)]({self.url})"

    @property
    def blob_keys(self) -> list[str]:
        return [self.key] + ([self.thumbnail_key] if self.thumbnail_key else [])
