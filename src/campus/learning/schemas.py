from __future__ import annotations

from datetime import datetime

from pydantic import Field

from campus.courses.schemas import CourseRead
from campus.kit.schemas import Schema
from campus.models.learning import EnrollmentStatus

__all__ = [
    "CabinetEntry",
    "EnrollmentRead",
    "EnrollmentStatus",
    "ProgressRead",
    "StudentRead",
    "StudentUser",
]


class EnrollmentRead(Schema):
    id: int
    course_id: int
    user_id: int
    status: EnrollmentStatus
    enrolled_at: datetime


class ProgressRead(Schema):
    completed_lessons: int = Field(ge=0)
    total_lessons: int = Field(ge=0)
    percent: int = Field(ge=0, le=100, description="Whole percent of lessons completed.")
    completed_at: datetime | None = Field(
        description="When the last lesson was completed; null while any lesson is open."
    )
    quiz_score: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description=(
            "Mean of the best submitted percent of each quiz of the course (an untried quiz "
            "counts 0); null when the course has no quiz."
        ),
    )
    quizzes_passed: int = Field(default=0, ge=0)
    quizzes_total: int = Field(default=0, ge=0)


class StudentUser(Schema):
    id: int
    email: str
    full_name: str


class StudentRead(Schema):
    user: StudentUser
    enrolled_at: datetime
    progress: ProgressRead


class CabinetEntry(Schema):
    course: CourseRead
    enrolled_at: datetime
    progress: ProgressRead
