from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campus.db import Base
from campus.kit.text import search_document
from campus.models._columns import created_at_column, str_enum, updated_at_column
from campus.models.accounts import User


class CourseLevel(enum.StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class Course(Base):
    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        Index("ix_courses_published_created_at", "is_published", "created_at"),
        Index("ix_courses_teacher_id_created_at", "teacher_id", "created_at"),
        # The catalog's level and price filters, with publication second: a filtered
        # catalog's exact total is an index-only count (bench/explain.py, 1m courses).
        Index("ix_courses_level_is_published", "level", "is_published"),
        Index("ix_courses_price_cents_is_published", "price_cents", "is_published"),
        Index("ix_courses_title", "title"),
        # Substring search (``q``) on PostgreSQL: a trigram index serves ``LIKE '%...%'``.
        # SQLite has no such index type and scans; Alembic autogenerate and the drift test
        # honour ``ddl_if`` through ``campus.migrations.runner.include_object``.
        Index(
            "ix_courses_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(220), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[CourseLevel] = mapped_column(
        str_enum(CourseLevel, "course_level"), default=CourseLevel.BEGINNER
    )
    price_cents: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    is_published: Mapped[bool] = mapped_column(Boolean, default=False)
    # A user who still teaches courses cannot be deleted (RESTRICT): reassign or delete first.
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    # Case-folded title and description (campus.kit.text.search_document), kept in step by
    # the mapper events below, so ``q`` is case-insensitive in every script on both databases.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    # The media key (campus.media) of the cover image, shown on catalog cards; no foreign
    # key: the media domain clears it when it deletes that image.
    cover_key: Mapped[str | None] = mapped_column(String(40), nullable=True)

    teacher: Mapped[User] = relationship(lazy="raise")

    # Kept exact by database triggers (campus.models.counters): never written by the ORM,
    # read like any column, so no request counts a course's lessons or students.
    lessons_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    students_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


@event.listens_for(Course, "before_insert")
@event.listens_for(Course, "before_update")
def _fill_search_text(_mapper: Any, _connection: Any, course: Course) -> None:
    course.search_text = search_document(course.title, course.description)


class Lesson(Base):
    __tablename__ = "lessons"
    __table_args__ = (
        UniqueConstraint("course_id", "position"),
        CheckConstraint("position >= 1", name="position_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(String(500), nullable=True)
    content: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer)
    duration_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    is_preview: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
