"""Request and response bodies of courses and lessons (API.md §4)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, field_validator

from campus.kit.schemas import InputSchema, Schema
from campus.models.courses import CourseLevel
from campus.models.media import MEDIA_PATH

__all__ = [
    "CourseCreate",
    "CourseFilters",
    "CourseLevel",
    "CourseRead",
    "CourseReplace",
    "CourseUpdate",
    "LessonCreate",
    "LessonRead",
    "LessonReplace",
    "LessonSummary",
    "LessonUpdate",
]

MAX_INT = 2**31 - 1
TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
SUMMARY_MAX = 500
CONTENT_MAX = 200_000
SLUG_MAX = 200
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_CURRENCY = re.compile(r"[A-Za-z]{3}")


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


def _refuse_null(value: object) -> object:
    if value is None:
        raise ValueError("must not be null; leave the field out to keep its value")
    return value


def _currency(value: object) -> object:
    if isinstance(value, str):
        if not _CURRENCY.fullmatch(value):
            raise ValueError("must be a 3-letter ISO 4217 currency code, e.g. USD")
        return value.upper()
    return value


Title = Annotated[
    str,
    Field(min_length=1, max_length=TITLE_MAX, description="1..200 characters, not blank."),
    AfterValidator(_not_blank),
]
Description = Annotated[
    str, Field(max_length=DESCRIPTION_MAX, description="Up to 10,000 characters.")
]
Slug = Annotated[
    str,
    Field(
        min_length=1,
        max_length=SLUG_MAX,
        pattern=SLUG_PATTERN,
        description="Lower-case letters, digits and single hyphens (`[a-z0-9-]`), 1..200.",
    ),
]
Currency = Annotated[
    str,
    BeforeValidator(_currency),
    Field(
        min_length=3,
        max_length=3,
        description="ISO 4217 code: three letters, stored upper-case (`usd` becomes `USD`).",
    ),
]
PriceCents = Annotated[
    int, Field(ge=0, le=MAX_INT, description="Price in the currency's minor unit; 0 = free.")
]
Position = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_INT,
        description=(
            "1-based place in the course. On create: 1..n+1 (absent = append); on update: "
            "1..n. Outside that range the request is refused with 422 (never clamped)."
        ),
    ),
]
Minutes = Annotated[int, Field(ge=0, le=100_000, description="Estimated minutes, 0..100,000.")]


# --- courses ----------------------------------------------------------------------------


class TeacherRef(Schema):
    id: int
    full_name: str


class CourseRead(Schema):
    id: int
    slug: str
    title: str
    description: str
    level: CourseLevel
    price_cents: int
    currency: str
    is_published: bool
    teacher: TeacherRef
    lessons_count: int
    students_count: int = Field(description="Active enrollments.")
    cover_url: str | None = Field(
        default=None,
        description=(
            "The cover image: a path on Campus's own origin (`/media/...`), or null when "
            "the course has none. Set it with `PUT /courses/{id}/cover`."
        ),
    )
    created_at: datetime
    updated_at: datetime


class CourseCreate(InputSchema):
    """A new course. Without `slug`, one is derived from the title (transliterated to Latin,
    e.g. "Основы Python" -> `osnovy-python`) and given a numeric suffix if taken; an explicit
    slug that is taken is a 409."""

    title: Title
    description: Description
    level: CourseLevel
    price_cents: PriceCents = 0
    currency: Currency = "USD"
    slug: Slug | None = None
    is_published: bool = False


class CourseReplace(CourseCreate):
    """PUT: the whole course. `title`, `description` and `level` are required; absent
    `price_cents`, `currency` and `is_published` take their defaults (0, USD, false); an
    absent `slug` keeps the current one."""


class CourseUpdate(InputSchema):
    """PATCH: only the fields given change (null is refused for every field)."""

    title: Title | None = None
    description: Description | None = None
    level: CourseLevel | None = None
    price_cents: PriceCents | None = None
    currency: Currency | None = None
    slug: Slug | None = None
    is_published: bool | None = None

    @field_validator("*", mode="after")
    @classmethod
    def _no_null(cls, value: object) -> object:
        return _refuse_null(value)


# --- lessons ----------------------------------------------------------------------------


class LessonSummary(Schema):
    id: int
    course_id: int
    title: str
    summary: str | None
    position: int
    duration_minutes: int | None
    is_preview: bool
    created_at: datetime
    updated_at: datetime


class LessonRead(LessonSummary):
    content: str = Field(description="Markdown.")


class LessonCreate(InputSchema):
    """A new lesson: appended when `position` is absent, else inserted there (later lessons
    move down one place)."""

    title: Title
    summary: Annotated[str, Field(max_length=SUMMARY_MAX)] | None = None
    content: Annotated[str, Field(max_length=CONTENT_MAX, description="Markdown.")] = ""
    position: Position | None = None
    duration_minutes: Minutes | None = None
    is_preview: bool = False


class LessonReplace(LessonCreate):
    """PUT: the whole lesson. `title` is required; absent `summary`, `content`,
    `duration_minutes` and `is_preview` take their defaults; an absent `position` keeps the
    lesson where it is, a given one moves it (1..n)."""


class LessonUpdate(InputSchema):
    """PATCH: only the fields given change; `position` moves the lesson (1..n)."""

    title: Title | None = None
    summary: Annotated[str, Field(max_length=SUMMARY_MAX)] | None = None
    content: Annotated[str, Field(max_length=CONTENT_MAX, description="Markdown.")] | None = None
    position: Position | None = None
    duration_minutes: Minutes | None = None
    is_preview: bool | None = None

    @field_validator("title", "content", "position", "is_preview", mode="after")
    @classmethod
    def _no_null(cls, value: object) -> object:
        return _refuse_null(value)


@dataclass(frozen=True, slots=True)
class CourseFilters:
    """The catalog's filters (API.md §4), as the repository applies them."""

    q: str | None = None
    level: CourseLevel | None = None
    teacher_id: int | None = None
    is_free: bool | None = None


# --- read models ------------------------------------------------------------------------
#
# What the repository reads into: frozen dataclasses, not Pydantic models, because they are
# built for every row of the hottest reads (a dataclass costs a fraction of a validated
# model; docs/performance.md). The API's response models (``CourseRead``) are validated
# from them once, at the response.


@dataclass(frozen=True, slots=True)
class TeacherName:
    id: int
    full_name: str


@dataclass(frozen=True, slots=True)
class CourseCard:
    """A course as every read shows it: its columns, its teacher's name and its counts.

    Read by the repository with SQLAlchemy Core (one join, no ORM entities): the
    catalog, a course page and the cabinet are the hottest reads, and loading ORM entities
    into a session costs several times the query itself (docs/performance.md). Changes go
    through the ORM :class:`Course`. ``lessons_count`` and ``students_count`` are columns
    kept by triggers (campus.models.counters), so reading them costs nothing more.
    """

    id: int
    slug: str
    title: str
    description: str
    level: CourseLevel
    price_cents: int
    currency: str
    is_published: bool
    teacher_id: int
    lessons_count: int
    students_count: int
    created_at: datetime
    updated_at: datetime
    cover_key: str | None
    teacher: TeacherName

    @property
    def cover_url(self) -> str | None:
        return f"{MEDIA_PATH}/{self.cover_key}" if self.cover_key else None


@dataclass(frozen=True, slots=True)
class LessonRef:
    """A lesson named together with its course: enough to show and link it."""

    lesson_id: int
    title: str
    position: int
    course_id: int
    course_title: str
