"""Quiz pages: take a quiz and see the result (no JavaScript needed), the teacher's quiz
editor, and the course gradebook with its CSV export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from campus.assessments import service
from campus.assessments.schemas import QuestionCreate, QuizCreate, QuizUpdate, Submission
from campus.courses import service as course_service
from campus.errors import Conflict, NotFound, ValidationFailed
from campus.http.deps import IdPath, SessionDep, get_session
from campus.http.forms import field_errors, form_values
from campus.http.identity import CurrentUser, TeacherUser
from campus.http.web import WebPage, page_router
from campus.kit.clock import utcnow
from campus.kit.i18n import N_, labelled
from campus.kit.i18n import gettext as _
from campus.kit.pagination.params import make_page_params

router = page_router()

CourseId = Annotated[int, IdPath("Course id")]
LessonId = Annotated[int, IdPath("Lesson id")]
QuizId = Annotated[int, IdPath("Quiz id")]
QuestionId = Annotated[int, IdPath("Question id")]
AttemptId = Annotated[int, IdPath("Attempt id")]
StreamSession = Annotated[AsyncSession, Depends(get_session, scope="request")]
GRADEBOOK_PAGE_SIZE = 50
KINDS = [
    ("single_choice", N_("Single choice")),
    ("multiple_choice", N_("Multiple choice")),
    ("short_text", N_("Short text")),
    ("number", N_("Number")),
]
QUIZ_FIELDS = ("title", "pass_percent", "attempt_limit", "time_limit_seconds")
QUESTION_FIELDS = (
    "kind",
    "prompt",
    "points",
    "explanation",
    "options",
    "accepted_answers",
    "number_value",
    "number_tolerance",
)


def _quiz_url(course_id: int, lesson_id: int) -> str:
    return f"/courses/{course_id}/lessons/{lesson_id}/quiz"


def _editor_url(course_id: int, lesson_id: int) -> str:
    return f"/teach/courses/{course_id}/lessons/{lesson_id}/quiz"


# --- taking a quiz -------------------------------------------------------------------------


async def _render_quiz(
    page: WebPage,
    session: AsyncSession,
    user: Any,
    course_id: int,
    lesson_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    course = await course_service.get_course(session, user, course_id=course_id)
    quiz = await service.get_lesson_quiz(session, user, lesson_id=lesson_id)
    if quiz["course_id"] != course.id:
        raise NotFound(N_("This lesson has no quiz."))
    attempts = await service.list_my_attempts(session, user, quiz_id=quiz["id"])
    open_attempt = next((a for a in attempts if a["status"] == "open"), None)
    remaining = None
    if open_attempt and open_attempt["deadline_at"] is not None:
        remaining = max(0, int((open_attempt["deadline_at"] - utcnow()).total_seconds()))
    return page.render(
        "assessments/quiz.html",
        {
            "course": course,
            "quiz": quiz,
            "lesson_id": lesson_id,
            "attempts": [a for a in attempts if a["status"] != "open"],
            "open_attempt": open_attempt,
            "remaining": remaining,
            "values": values or {},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/courses/{course_id}/lessons/{lesson_id}/quiz")
async def quiz_page(
    page: WebPage, session: SessionDep, course_id: CourseId, lesson_id: LessonId, user: CurrentUser
) -> Response:
    return await _render_quiz(page, session, user, course_id, lesson_id)


@router.post("/courses/{course_id}/lessons/{lesson_id}/quiz/start")
async def start_attempt_page(
    page: WebPage, session: SessionDep, course_id: CourseId, lesson_id: LessonId, user: CurrentUser
) -> Response:
    quiz = await service.get_lesson_quiz(session, user, lesson_id=lesson_id)
    try:
        await service.start_attempt(session, user, quiz_id=quiz["id"])
    except Conflict as exc:
        return page.redirect(_quiz_url(course_id, lesson_id), flash=exc.localized(), kind="error")
    return page.redirect(_quiz_url(course_id, lesson_id) + "#attempt")


def _answers_from_form(
    form: Any, quiz: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The form's answers in the API's shape, and errors beside fields (a number that is not
    a number). Unanswered questions are left out (they score 0)."""
    answers: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for q in quiz["questions"]:
        name = f"q-{q['id']}"
        if q["kind"] in ("single_choice", "multiple_choice"):
            picked = [v for v in form.getlist(name) if isinstance(v, str)]
            ids = []
            for value in picked:
                if not value.isdigit():
                    errors[name] = _("Choose one of the options.")
                    break
                ids.append(int(value))
            if ids:
                answers.append({"question_id": q["id"], "option_ids": ids})
        else:
            raw = form.get(name)
            text = raw.strip() if isinstance(raw, str) else ""
            if not text:
                continue
            if q["kind"] == "short_text":
                answers.append({"question_id": q["id"], "text": text})
                continue
            try:
                number = float(text.replace(",", "."))
            except ValueError:
                errors[name] = _("Enter a number, like 3.14.")
                continue
            answers.append({"question_id": q["id"], "number": number})
    return answers, errors


@router.post("/attempts/{attempt_id}/submit")
async def submit_attempt_page(
    page: WebPage, session: SessionDep, attempt_id: AttemptId, user: CurrentUser
) -> Response:
    form = await page.form()
    found = await service.get_attempt_with_quiz(session, user, attempt_id=attempt_id)
    quiz = found["quiz"]
    course_id, lesson_id = quiz["course_id"], quiz["lesson_id"]
    answers, errors = _answers_from_form(form, quiz)
    values = {k: form.getlist(k) for k in form}
    if not errors:
        try:
            body = Submission.model_validate({"answers": answers})
            await service.submit_attempt(session, user, attempt_id=attempt_id, answers=body.answers)
        except Conflict as exc:
            return page.redirect(
                _quiz_url(course_id, lesson_id), flash=exc.localized(), kind="error"
            )
        except ValidationError:
            errors = {"__all__": _("Some answers are too long or not valid; check them.")}
        except ValidationFailed as exc:
            errors = {"__all__": exc.localized()}
    if errors:
        return await _render_quiz(
            page,
            session,
            user,
            course_id,
            lesson_id,
            values=values,
            errors=errors,
            status_code=422,
        )
    return page.redirect(f"/attempts/{attempt_id}", flash=_("Your answers were submitted."))


@router.get("/attempts/{attempt_id}")
async def attempt_page(
    page: WebPage, session: SessionDep, attempt_id: AttemptId, user: CurrentUser
) -> Response:
    found = await service.get_attempt_with_quiz(session, user, attempt_id=attempt_id)
    quiz = found["quiz"]
    course = await course_service.get_course(session, user, course_id=quiz["course_id"])
    return page.render(
        "assessments/result.html",
        {"course": course, "quiz": quiz, "attempt": found["attempt"]},
    )


# --- the teacher's quiz editor -------------------------------------------------------------


async def _render_editor(
    page: WebPage,
    session: AsyncSession,
    user: Any,
    course_id: int,
    lesson_id: int,
    *,
    quiz_values: dict[str, Any] | None = None,
    quiz_errors: dict[str, str] | None = None,
    question_values: dict[str, Any] | None = None,
    question_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    course = await course_service.get_course(session, user, course_id=course_id)
    lesson = await course_service.get_readable_lesson(
        session, user, lesson_id=lesson_id, course_id=course.id
    )
    quiz = await service.get_quiz_of_lesson_for_teacher(session, user, lesson_id=lesson.id)
    if quiz_values is None:
        quiz_values = (
            {name: "" if quiz[name] is None else str(quiz[name]) for name in QUIZ_FIELDS}
            | {"reveal_answers": quiz["reveal_answers"]}
            if quiz
            else {
                "title": f"Quiz: {lesson.title}"[:200],
                "pass_percent": "60",
                "reveal_answers": True,
            }
        )
    return page.render(
        "assessments/editor.html",
        {
            "course": course,
            "lesson": lesson,
            "quiz": quiz,
            "kinds": labelled(KINDS),
            "quiz_values": quiz_values,
            "quiz_errors": quiz_errors or {},
            "question_values": question_values or {"kind": "single_choice", "points": "1"},
            "question_errors": question_errors or {},
        },
        status_code=status_code,
    )


@router.get("/teach/courses/{course_id}/lessons/{lesson_id}/quiz")
async def quiz_editor_page(
    page: WebPage,
    session: SessionDep,
    course_id: CourseId,
    lesson_id: LessonId,
    user: TeacherUser,
) -> Response:
    return await _render_editor(page, session, user, course_id, lesson_id)


def _optional_int(value: str) -> str | None:
    return value.strip() or None


@router.post("/teach/courses/{course_id}/lessons/{lesson_id}/quiz")
async def save_quiz_page(
    page: WebPage,
    session: SessionDep,
    course_id: CourseId,
    lesson_id: LessonId,
    user: TeacherUser,
) -> Response:
    form = await page.form()
    values: dict[str, Any] = form_values(form, *QUIZ_FIELDS)
    values["reveal_answers"] = form.get("reveal_answers") == "on"
    data = {
        "title": values["title"],
        "pass_percent": values["pass_percent"].strip() or "60",
        "attempt_limit": _optional_int(values["attempt_limit"]),
        "time_limit_seconds": _optional_int(values["time_limit_seconds"]),
        "reveal_answers": values["reveal_answers"],
    }
    existing = await service.get_quiz_of_lesson_for_teacher(session, user, lesson_id=lesson_id)
    try:
        if existing is None:
            await service.create_quiz(
                session, user, lesson_id=lesson_id, data=QuizCreate.model_validate(data)
            )
        else:
            await service.update_quiz(
                session, user, quiz_id=existing["id"], data=QuizUpdate.model_validate(data)
            )
    except (ValidationError, ValidationFailed) as exc:
        return await _render_editor(
            page,
            session,
            user,
            course_id,
            lesson_id,
            quiz_values=values,
            quiz_errors=field_errors(exc),
            status_code=422,
        )
    return page.redirect(_editor_url(course_id, lesson_id), flash=_("Quiz saved."))


def _question_data(values: dict[str, str], case_sensitive: bool) -> dict[str, Any]:
    """A question form as the API's input: options one per line, a leading * marks the
    correct ones; accepted answers one per line."""
    kind = values["kind"]
    data: dict[str, Any] = {
        "kind": kind,
        "prompt": values["prompt"],
        "points": values["points"].strip() or "1",
        "explanation": values["explanation"].strip() or None,
    }
    lines = [line.strip() for line in values["options"].splitlines() if line.strip()]
    if kind in ("single_choice", "multiple_choice"):
        data["options"] = [
            {"text": line.lstrip("*").strip() or line, "is_correct": line.startswith("*")}
            for line in lines
        ]
    elif kind == "short_text":
        data["accepted_answers"] = [
            line.strip() for line in values["accepted_answers"].splitlines() if line.strip()
        ]
        data["case_sensitive"] = case_sensitive
    elif kind == "number":
        data["number_value"] = values["number_value"].strip().replace(",", ".") or None
        data["number_tolerance"] = values["number_tolerance"].strip().replace(",", ".") or None
    return data


@router.post("/teach/quizzes/{quiz_id}/questions")
async def add_question_page(
    page: WebPage, session: SessionDep, quiz_id: QuizId, user: TeacherUser
) -> Response:
    form = await page.form()
    quiz = await service.get_quiz(session, user, quiz_id=quiz_id)
    values = form_values(form, *QUESTION_FIELDS)
    case_sensitive = form.get("case_sensitive") == "on"
    try:
        data = QuestionCreate.model_validate(_question_data(values, case_sensitive))
        await service.add_question(session, user, quiz_id=quiz_id, data=data)
    except (ValidationError, ValidationFailed) as exc:
        return await _render_editor(
            page,
            session,
            user,
            quiz["course_id"],
            quiz["lesson_id"],
            question_values={**values, "case_sensitive": case_sensitive},
            question_errors=field_errors(exc),
            status_code=422,
        )
    return page.redirect(
        _editor_url(quiz["course_id"], quiz["lesson_id"]) + "#questions", flash=_("Question added.")
    )


@router.post("/teach/quizzes/{quiz_id}/questions/{question_id}/delete")
async def delete_question_page(
    page: WebPage,
    session: SessionDep,
    quiz_id: QuizId,
    question_id: QuestionId,
    user: TeacherUser,
) -> Response:
    quiz = await service.get_quiz(session, user, quiz_id=quiz_id)
    await service.delete_question(session, user, quiz_id=quiz_id, question_id=question_id)
    return page.redirect(
        _editor_url(quiz["course_id"], quiz["lesson_id"]) + "#questions",
        flash=_("Question deleted."),
    )


@router.post("/teach/quizzes/{quiz_id}/questions/{question_id}/move")
async def move_question_page(
    page: WebPage,
    session: SessionDep,
    quiz_id: QuizId,
    question_id: QuestionId,
    user: TeacherUser,
) -> Response:
    form = await page.form()
    quiz = await service.get_quiz(session, user, quiz_id=quiz_id)
    ids = [q["id"] for q in quiz["questions"]]
    if question_id not in ids:
        raise NotFound(N_("Question not found."))
    i = ids.index(question_id)
    j = i - 1 if form.get("direction") == "up" else i + 1
    if 0 <= j < len(ids):
        ids[i], ids[j] = ids[j], ids[i]
        await service.reorder_questions(session, user, quiz_id=quiz_id, question_ids=ids)
    return page.redirect(_editor_url(quiz["course_id"], quiz["lesson_id"]) + "#questions")


@router.post("/teach/quizzes/{quiz_id}/delete")
async def delete_quiz_page(
    page: WebPage, session: SessionDep, quiz_id: QuizId, user: TeacherUser
) -> Response:
    quiz = await service.get_quiz(session, user, quiz_id=quiz_id)
    await service.delete_quiz(session, user, quiz_id=quiz_id)
    return page.redirect(
        f"/teach/courses/{quiz['course_id']}/lessons/{quiz['lesson_id']}", flash=_("Quiz deleted.")
    )


# --- the gradebook -------------------------------------------------------------------------


@router.get("/teach/courses/{course_id}/students")
async def gradebook_page(
    page: WebPage,
    session: SessionDep,
    course_id: CourseId,
    user: TeacherUser,
    p: Annotated[int, Query(ge=1, le=10_000)] = 1,
    sort: Annotated[str, Query(max_length=40)] = "-last_activity",
) -> Response:
    allowed = {s for name in service.GRADEBOOK_SORTS for s in (name, f"-{name}")}
    if sort not in allowed:
        sort = "-last_activity"
    params = make_page_params(
        skip=(p - 1) * GRADEBOOK_PAGE_SIZE,
        limit=GRADEBOOK_PAGE_SIZE,
        sort=sort,
        allowed=service.GRADEBOOK_SORTS,
        default="-last_activity",
    )
    book = await service.get_gradebook(session, user, course_id=course_id, params=params)
    return page.render(
        "assessments/gradebook.html",
        {
            "course": book.course,
            "quizzes": book.quizzes,
            "rows": book.page.items,
            "total": book.page.total,
            "pages": book.page.pages,
            "page_number": book.page.page,
            "funnel": book.funnel,
            "sort": sort,
        },
    )


@router.get("/teach/courses/{course_id}/students.csv")
async def gradebook_csv_page(
    course_id: CourseId, user: TeacherUser, session: SessionDep, reader: StreamSession
) -> StreamingResponse:
    lines = await service.gradebook_csv(session, user, course_id=course_id, reader=reader)
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="gradebook-{course_id}.csv"'},
    )
