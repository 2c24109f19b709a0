"""Quizzes: a lesson's quiz, its questions and options, and the learners' attempts."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from campus.db import Base
from campus.kit.types import UTCDateTime
from campus.models._columns import created_at_column, str_enum, updated_at_column


class QuestionKind(enum.StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    SHORT_TEXT = "short_text"
    NUMBER = "number"


class Quiz(Base):
    """At most one quiz per lesson; the course id is copied from the lesson so a course's
    quizzes are one indexed lookup (progress, gradebook)."""

    __tablename__ = "quizzes"
    __table_args__ = (
        UniqueConstraint("lesson_id"),
        Index("ix_quizzes_course_id", "course_id"),
        CheckConstraint("pass_percent >= 0 AND pass_percent <= 100", name="pass_percent_range"),
        CheckConstraint(
            "attempt_limit IS NULL OR attempt_limit >= 1", name="attempt_limit_positive"
        ),
        CheckConstraint(
            "time_limit_seconds IS NULL OR time_limit_seconds >= 10", name="time_limit_min"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    pass_percent: Mapped[int] = mapped_column(Integer, default=60)
    attempt_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    time_limit_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Whether a learner sees the correct answers (and explanations) after submitting.
    reveal_answers: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class QuizQuestion(Base):
    __tablename__ = "quiz_questions"
    __table_args__ = (
        Index("ix_quiz_questions_quiz_id_position", "quiz_id", "position"),
        CheckConstraint("points >= 1", name="points_positive"),
        CheckConstraint(
            "number_tolerance IS NULL OR number_tolerance >= 0", name="tolerance_not_negative"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[QuestionKind] = mapped_column(str_enum(QuestionKind, "question_kind"))
    prompt: Mapped[str] = mapped_column(Text)
    points: Mapped[int] = mapped_column(Integer, default=1)
    explanation: Mapped[str | None] = mapped_column(Text, nullable=True)
    # short_text: the accepted answers, compared exactly or case-folded.
    accepted_answers: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    case_sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    # number: the expected value and the allowed absolute difference.
    number_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    number_tolerance: Mapped[float | None] = mapped_column(Float, nullable=True)


class QuizOption(Base):
    __tablename__ = "quiz_options"
    __table_args__ = (Index("ix_quiz_options_question_id_position", "question_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("quiz_questions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(500))
    is_correct: Mapped[bool] = mapped_column(Boolean, default=False)


class QuizAttempt(Base):
    """One try at a quiz. ``number`` counts a learner's attempts at one quiz from 1; the
    unique (quiz, user, number) makes the attempt limit hold under concurrent starts.
    Once ``submitted_at`` is set (by a conditional UPDATE) the row never changes again."""

    __tablename__ = "quiz_attempts"
    __table_args__ = (
        UniqueConstraint("quiz_id", "user_id", "number"),
        Index("ix_quiz_attempts_user_id_submitted_at", "user_id", "submitted_at"),
        CheckConstraint("number >= 1", name="number_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = created_at_column()
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    percent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # What was submitted and how each question was graded, frozen at submission.
    answers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
