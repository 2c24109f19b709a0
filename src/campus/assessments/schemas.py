"""Quiz inputs and outputs (README "Quizzes"; OpenAPI at /docs)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from campus.kit.schemas import InputSchema, Schema
from campus.models.assessments import QuestionKind

__all__ = [
    "AnswerIn",
    "AttemptRead",
    "CorrectAnswer",
    "FunnelStepRead",
    "GradebookRead",
    "GradebookRowRead",
    "LearnerQuiz",
    "OptionIn",
    "QuestionCreate",
    "QuestionFeedback",
    "QuestionKind",
    "QuestionOrder",
    "QuestionRead",
    "QuestionUpdate",
    "QuizCreate",
    "QuizRead",
    "QuizUpdate",
    "Submission",
]

MAX_INT = 2**31 - 1
TITLE_MAX = 200
PROMPT_MAX = 5000
OPTION_MAX = 500
ANSWER_MAX = 200
OPTIONS_MAX = 20
ACCEPTED_MAX = 20
QUESTIONS_MAX = 200
TIME_LIMIT_MAX = 24 * 3600
ATTEMPT_LIMIT_MAX = 1000
NUMBER_MAX = 1e15


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value) or abs(value) > NUMBER_MAX:
        raise ValueError(f"must be a finite number within ±{NUMBER_MAX:g}")
    return value


Title = Annotated[
    str,
    Field(min_length=1, max_length=TITLE_MAX, description="1..200 characters, not blank."),
    AfterValidator(_not_blank),
]
Prompt = Annotated[str, Field(min_length=1, max_length=PROMPT_MAX), AfterValidator(_not_blank)]
Finite = Annotated[float, AfterValidator(_finite)]
Id = Annotated[int, Field(strict=True, ge=1, le=MAX_INT)]
PassPercent = Annotated[
    int, Field(ge=0, le=100, description="Whole percent of the points needed to pass.")
]
AttemptLimit = Annotated[
    int | None,
    Field(ge=1, le=ATTEMPT_LIMIT_MAX, description="Attempts per learner; null: unlimited."),
]
TimeLimit = Annotated[
    int | None,
    Field(
        ge=10,
        le=TIME_LIMIT_MAX,
        description=(
            "Seconds an attempt stays open after it starts (enforced by the server; a "
            "submission more than 5 seconds late is refused). Null: no time limit."
        ),
    ),
]


# --- teacher: quizzes and questions -------------------------------------------------------


class QuizCreate(InputSchema):
    title: Title
    pass_percent: PassPercent = 60
    attempt_limit: AttemptLimit = None
    time_limit_seconds: TimeLimit = None
    reveal_answers: bool = Field(
        default=True,
        description="Show learners the correct answers and explanations after they submit.",
    )


class QuizUpdate(InputSchema):
    title: Title | None = None
    pass_percent: PassPercent | None = None
    attempt_limit: AttemptLimit = None
    time_limit_seconds: TimeLimit = None
    reveal_answers: bool | None = None

    @model_validator(mode="after")
    def _no_null_title(self) -> QuizUpdate:
        for name in ("title", "pass_percent", "reveal_answers"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} must not be null; leave it out to keep its value")
        return self


class OptionIn(InputSchema):
    text: Annotated[str, Field(min_length=1, max_length=OPTION_MAX), AfterValidator(_not_blank)]
    is_correct: bool = False


AcceptedAnswer = Annotated[
    str, Field(min_length=1, max_length=ANSWER_MAX), AfterValidator(_not_blank)
]


class QuestionCreate(InputSchema):
    """A question. Which fields apply depends on ``kind``:

    - `single_choice`: `options` (2..20), exactly one with `is_correct`;
    - `multiple_choice`: `options` (2..20), at least one with `is_correct`;
    - `short_text`: `accepted_answers` (1..20) and `case_sensitive` (default false: compared
      case-folded); surrounding whitespace never counts;
    - `number`: `number_value` and `number_tolerance` (default 0, absolute).

    Fields of another kind are a 422.
    """

    kind: QuestionKind
    prompt: Prompt
    points: int = Field(default=1, ge=1, le=1000)
    explanation: Annotated[str | None, Field(max_length=PROMPT_MAX)] = None
    position: int | None = Field(
        default=None, ge=1, le=MAX_INT, description="1-based; absent: appended."
    )
    options: Annotated[list[OptionIn] | None, Field(max_length=OPTIONS_MAX)] = None
    accepted_answers: Annotated[list[AcceptedAnswer] | None, Field(max_length=ACCEPTED_MAX)] = None
    case_sensitive: bool | None = None
    number_value: Finite | None = None
    number_tolerance: Annotated[Finite | None, Field(ge=0)] = None

    @model_validator(mode="after")
    def _fits_kind(self) -> QuestionCreate:
        choice = self.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE)
        foreign: list[str] = []
        if not choice and self.options is not None:
            foreign.append("options")
        if self.kind != QuestionKind.SHORT_TEXT:
            foreign += [n for n in ("accepted_answers", "case_sensitive") if getattr(self, n)]
        if self.kind != QuestionKind.NUMBER:
            foreign += [
                n for n in ("number_value", "number_tolerance") if getattr(self, n) is not None
            ]
        if foreign:
            raise ValueError(f"{', '.join(foreign)} do not apply to a {self.kind} question")
        if choice:
            options = self.options or []
            if len(options) < 2:
                raise ValueError("a choice question needs at least 2 options")
            correct = sum(o.is_correct for o in options)
            if self.kind == QuestionKind.SINGLE_CHOICE and correct != 1:
                raise ValueError("a single_choice question needs exactly one correct option")
            if self.kind == QuestionKind.MULTIPLE_CHOICE and correct < 1:
                raise ValueError("a multiple_choice question needs at least one correct option")
        if self.kind == QuestionKind.SHORT_TEXT and not self.accepted_answers:
            raise ValueError("a short_text question needs at least one accepted answer")
        if self.kind == QuestionKind.NUMBER and self.number_value is None:
            raise ValueError("a number question needs number_value")
        return self


class QuestionUpdate(InputSchema):
    """Change only the fields given; the question as changed must still be valid for its
    kind (checked like a new one). Given `options` replace all options (new ids)."""

    kind: QuestionKind | None = None
    prompt: Prompt | None = None
    points: int | None = Field(default=None, ge=1, le=1000)
    explanation: Annotated[str | None, Field(max_length=PROMPT_MAX)] = None
    options: Annotated[list[OptionIn] | None, Field(max_length=OPTIONS_MAX)] = None
    accepted_answers: Annotated[list[AcceptedAnswer] | None, Field(max_length=ACCEPTED_MAX)] = None
    case_sensitive: bool | None = None
    number_value: Finite | None = None
    number_tolerance: Annotated[Finite | None, Field(ge=0)] = None


class QuestionOrder(InputSchema):
    question_ids: list[Id] = Field(
        max_length=QUESTIONS_MAX,
        description="Every question id of the quiz exactly once, in the new order.",
    )


class OptionKey(Schema):
    id: int
    position: int
    text: str
    is_correct: bool


class QuestionRead(Schema):
    """A question as its teacher sees it: with the correct answers."""

    id: int
    position: int
    kind: QuestionKind
    prompt: str
    points: int
    explanation: str | None
    options: list[OptionKey]
    accepted_answers: list[str] | None
    case_sensitive: bool
    number_value: float | None
    number_tolerance: float | None


class QuizFields(Schema):
    id: int
    lesson_id: int
    course_id: int
    title: str
    pass_percent: int
    attempt_limit: int | None
    time_limit_seconds: int | None
    reveal_answers: bool
    max_score: int = Field(description="The sum of the questions' points.")


class QuizRead(QuizFields):
    created_at: datetime
    updated_at: datetime
    questions: list[QuestionRead]


# --- learner: taking a quiz ------------------------------------------------------------


class OptionPublic(Schema):
    id: int
    position: int
    text: str


class QuestionPublic(Schema):
    """A question as a learner sees it: never which option or answer is correct."""

    id: int
    position: int
    kind: QuestionKind
    prompt: str
    points: int
    options: list[OptionPublic]


class LearnerQuiz(QuizFields):
    questions: list[QuestionPublic]
    attempts_used: int
    attempts_left: int | None = Field(description="Null: unlimited.")
    best_percent: int | None = Field(description="The best submitted attempt; null if none.")
    passed: bool
    open_attempt_id: int | None = Field(description="An attempt still open, if any.")


class AnswerIn(InputSchema):
    """One answer: `option_ids` for choice questions (one id for single choice), `text`
    for short text, `number` for number questions. Any other field for the kind is a 422."""

    question_id: Id
    option_ids: Annotated[list[Id] | None, Field(max_length=OPTIONS_MAX)] = None
    text: Annotated[str | None, Field(max_length=ANSWER_MAX)] = None
    number: Finite | None = None


class Submission(InputSchema):
    answers: list[AnswerIn] = Field(
        max_length=QUESTIONS_MAX,
        description="At most one answer per question; unanswered questions score 0.",
    )


class CorrectAnswer(Schema):
    option_ids: list[int] | None = None
    accepted_answers: list[str] | None = None
    number_value: float | None = None
    number_tolerance: float | None = None


class GivenAnswer(Schema):
    option_ids: list[int] | None = None
    text: str | None = None
    number: float | None = None


class QuestionFeedback(Schema):
    question_id: int
    points: int
    awarded: int
    correct: bool
    answer: GivenAnswer | None = Field(description="What was submitted; null if unanswered.")
    correct_answer: CorrectAnswer | None = Field(
        description="Only when the quiz reveals answers (always for its teacher)."
    )
    explanation: str | None


class AttemptRead(Schema):
    id: int
    quiz_id: int
    user_id: int
    number: int
    status: Literal["open", "submitted", "expired"]
    started_at: datetime
    deadline_at: datetime | None
    submitted_at: datetime | None
    score: int | None
    max_score: int | None
    percent: int | None
    passed: bool | None
    feedback: list[QuestionFeedback] | None = Field(
        description="Per question, once submitted; null before."
    )


# --- the gradebook ---------------------------------------------------------------------


class GradebookQuizRead(Schema):
    id: int
    lesson_position: int
    title: str


class GradebookRowRead(Schema):
    user_id: int
    full_name: str
    email: str
    enrolled_at: datetime
    completed_lessons: int
    total_lessons: int
    percent: int
    quiz_score: int | None
    quizzes_passed: int
    last_activity: datetime = Field(
        description="The latest of enrolling, completing a lesson and a quiz attempt."
    )
    quiz_scores: dict[int, int | None] = Field(
        description="Best submitted percent per quiz id; null if not tried."
    )


class FunnelStepRead(Schema):
    lesson_id: int
    position: int
    title: str
    completed: int = Field(description="Active students who completed this lesson.")
    percent: int


class GradebookRead(Schema):
    items: list[GradebookRowRead]
    total: int
    page: int
    page_size: int
    pages: int
    quizzes: list[GradebookQuizRead]
    funnel: list[FunnelStepRead]
