from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from campus.db import Base
from campus.models._columns import created_at_column, str_enum


class EnrollmentStatus(enum.StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"  # the learner left, or a refund ended it


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("user_id", "course_id"),
        Index("ix_enrollments_course_id_enrolled_at", "course_id", "enrolled_at"),
        Index("ix_enrollments_user_id_enrolled_at", "user_id", "enrolled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    status: Mapped[EnrollmentStatus] = mapped_column(
        str_enum(EnrollmentStatus, "enrollment_status"), default=EnrollmentStatus.ACTIVE
    )
    enrolled_at: Mapped[datetime] = created_at_column()
    # The course's completion time is derived, not stored: it is the time of the last lesson
    # completion while every lesson is completed (see campus.learning.service.Progress).


class LessonCompletion(Base):
    __tablename__ = "lesson_completions"
    __table_args__ = (
        UniqueConstraint("user_id", "lesson_id"),
        Index("ix_lesson_completions_user_id_course_id", "user_id", "course_id"),
        Index("ix_lesson_completions_lesson_id", "lesson_id"),
        Index("ix_lesson_completions_course_id", "course_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    # Denormalised from the lesson so progress is one indexed count per (user, course).
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    completed_at: Mapped[datetime] = created_at_column()
