"""Quizzes JSON API: the teacher's editing and the learner's attempts (README "Quizzes")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from campus.assessments import service
from campus.assessments.schemas import (
    AttemptRead,
    GradebookRead,
    LearnerQuiz,
    QuestionCreate,
    QuestionOrder,
    QuestionUpdate,
    QuizCreate,
    QuizRead,
    QuizUpdate,
    Submission,
)
from campus.http.deps import IdPath, SessionDep, get_session, page_params
from campus.http.identity import CurrentUser
from campus.kit.pagination.params import PageParams

router = APIRouter(tags=["quizzes"])

CourseId = Annotated[int, IdPath("Course id")]
LessonId = Annotated[int, IdPath("Lesson id")]
QuizId = Annotated[int, IdPath("Quiz id")]
QuestionId = Annotated[int, IdPath("Question id")]
AttemptId = Annotated[int, IdPath("Attempt id")]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not allowed (see the problem's `type`)"},
    404: {"description": "No such lesson, quiz, question or attempt, or not visible to you"},
    422: {"description": "Invalid input"},
}
TEACHER = {
    **ERRORS,
    403: {"description": "Not the course's teacher nor an admin (`quiz-manage-forbidden`)"},
}


# --- teacher ---------------------------------------------------------------------------


@router.post(
    "/lessons/{lesson_id}/quiz",
    response_model=QuizRead,
    status_code=status.HTTP_201_CREATED,
    responses={**TEACHER, 409: {"description": "The lesson has a quiz already (`quiz-exists`)"}},
)
async def create_quiz(
    lesson_id: LessonId, body: QuizCreate, user: CurrentUser, session: SessionDep
) -> Any:
    """Give a lesson its quiz (one per lesson). The course's teacher and admins only."""
    return await service.create_quiz(session, user, lesson_id=lesson_id, data=body)


@router.get("/quizzes/{quiz_id}", response_model=QuizRead, responses=TEACHER)
async def get_quiz(quiz_id: QuizId, user: CurrentUser, session: SessionDep) -> Any:
    """The quiz with its answer key: the course's teacher and admins only."""
    return await service.get_quiz(session, user, quiz_id=quiz_id)


@router.patch("/quizzes/{quiz_id}", response_model=QuizRead, responses=TEACHER)
async def update_quiz(
    quiz_id: QuizId, body: QuizUpdate, user: CurrentUser, session: SessionDep
) -> Any:
    """Change the fields given (`attempt_limit` / `time_limit_seconds` null: no limit)."""
    return await service.update_quiz(session, user, quiz_id=quiz_id, data=body)


@router.delete("/quizzes/{quiz_id}", status_code=status.HTTP_204_NO_CONTENT, responses=TEACHER)
async def delete_quiz(quiz_id: QuizId, user: CurrentUser, session: SessionDep) -> None:
    """Delete the quiz with its questions and attempts (lesson completions stay)."""
    await service.delete_quiz(session, user, quiz_id=quiz_id)


@router.post(
    "/quizzes/{quiz_id}/questions",
    response_model=QuizRead,
    status_code=status.HTTP_201_CREATED,
    responses=TEACHER,
)
async def add_question(
    quiz_id: QuizId, body: QuestionCreate, user: CurrentUser, session: SessionDep
) -> Any:
    """Add a question (appended, or inserted at `position`); returns the whole quiz."""
    return await service.add_question(session, user, quiz_id=quiz_id, data=body)


@router.patch(
    "/quizzes/{quiz_id}/questions/{question_id}", response_model=QuizRead, responses=TEACHER
)
async def update_question(
    quiz_id: QuizId,
    question_id: QuestionId,
    body: QuestionUpdate,
    user: CurrentUser,
    session: SessionDep,
) -> Any:
    """Change a question; the result must still be valid for its kind (else 422)."""
    return await service.update_question(
        session, user, quiz_id=quiz_id, question_id=question_id, data=body
    )


@router.delete(
    "/quizzes/{quiz_id}/questions/{question_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=TEACHER,
)
async def delete_question(
    quiz_id: QuizId, question_id: QuestionId, user: CurrentUser, session: SessionDep
) -> None:
    """Delete a question; later questions move up. Submitted grades keep their points."""
    await service.delete_question(session, user, quiz_id=quiz_id, question_id=question_id)


@router.put("/quizzes/{quiz_id}/question-order", response_model=QuizRead, responses=TEACHER)
async def reorder_questions(
    quiz_id: QuizId, body: QuestionOrder, user: CurrentUser, session: SessionDep
) -> Any:
    """Put the questions in the order given (every question id exactly once, else 422)."""
    return await service.reorder_questions(
        session, user, quiz_id=quiz_id, question_ids=body.question_ids
    )


# --- learner ---------------------------------------------------------------------------


@router.get("/lessons/{lesson_id}/quiz", response_model=LearnerQuiz, responses=ERRORS)
async def get_lesson_quiz(lesson_id: LessonId, user: CurrentUser, session: SessionDep) -> Any:
    """The lesson's quiz for taking it: questions and options, never the answer key, and
    the caller's attempts so far. Whoever may read the lesson; no quiz: 404."""
    return await service.get_lesson_quiz(session, user, lesson_id=lesson_id)


@router.post(
    "/quizzes/{quiz_id}/attempts",
    response_model=AttemptRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "An attempt is still open: that one", "model": AttemptRead},
        **ERRORS,
        403: {"description": "Not enrolled (`enrollment-required`)"},
        409: {"description": "`attempt-limit-reached`, `quiz-empty` or `attempt-conflict`"},
    },
)
async def start_attempt(
    quiz_id: QuizId, user: CurrentUser, session: SessionDep, response: Response
) -> Any:
    """Start an attempt (enrolled learners). The deadline, if the quiz has a time limit,
    is fixed now by the server."""
    result = await service.start_attempt(session, user, quiz_id=quiz_id)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return result.attempt


@router.get("/quizzes/{quiz_id}/attempts", response_model=list[AttemptRead], responses=ERRORS)
async def list_my_attempts(quiz_id: QuizId, user: CurrentUser, session: SessionDep) -> Any:
    """The caller's own attempts at the quiz, oldest first."""
    return await service.list_my_attempts(session, user, quiz_id=quiz_id)


@router.get("/attempts/{attempt_id}", response_model=AttemptRead, responses=ERRORS)
async def get_attempt(attempt_id: AttemptId, user: CurrentUser, session: SessionDep) -> Any:
    """An attempt with its grade and feedback once submitted: its learner, or the course's
    teacher and admins (who always see the answer key); anyone else 403 `not-your-attempt`."""
    return await service.get_attempt(session, user, attempt_id=attempt_id)


@router.post(
    "/attempts/{attempt_id}/submission",
    response_model=AttemptRead,
    responses={
        **ERRORS,
        403: {"description": "Another learner's attempt (`not-your-attempt`)"},
        409: {"description": "`attempt-submitted` or `attempt-expired`; nothing is stored"},
        422: {"description": "Unknown question or option ids, or answers that do not fit"},
    },
)
async def submit_attempt(
    attempt_id: AttemptId, body: Submission, user: CurrentUser, session: SessionDep
) -> Any:
    """Submit the answers: graded on the server, once; the attempt never changes after.
    Passing the quiz completes its lesson."""
    return await service.submit_attempt(session, user, attempt_id=attempt_id, answers=body.answers)


# --- the gradebook ---------------------------------------------------------------------

GradebookParams = Annotated[
    PageParams, Depends(page_params(service.GRADEBOOK_SORTS, "-last_activity"))
]
# The CSV streams after the handler returns: it reads with a second session that lives
# until the response is sent (scope "request") and is first used once streaming starts.
StreamSession = Annotated[AsyncSession, Depends(get_session, scope="request")]
GRADEBOOK_ERRORS = {
    **ERRORS,
    403: {"description": "Not the course's teacher nor an admin (`gradebook-forbidden`)"},
}


@router.get(
    "/courses/{course_id}/gradebook", response_model=GradebookRead, responses=GRADEBOOK_ERRORS
)
async def get_gradebook(
    course_id: CourseId, user: CurrentUser, session: SessionDep, params: GradebookParams
) -> Any:
    """Every active student's progress, quiz scores and last activity (a page, sorted by
    `enrolled_at`, `name`, `progress`, `quiz_score` or `last_activity`; default
    `-last_activity`), the course's quizzes and the per-lesson completion funnel."""
    book = await service.get_gradebook(session, user, course_id=course_id, params=params)
    return {
        **book.page.envelope(),
        "quizzes": book.quizzes,
        "funnel": book.funnel,
    }


@router.get(
    "/courses/{course_id}/gradebook.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **GRADEBOOK_ERRORS},
)
async def export_gradebook(
    course_id: CourseId, user: CurrentUser, session: SessionDep, reader: StreamSession
) -> StreamingResponse:
    """The whole gradebook as CSV (one row per student, a column per quiz), streamed in
    batches of students as it is read."""
    lines = await service.gradebook_csv(session, user, course_id=course_id, reader=reader)
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="gradebook-{course_id}.csv"'},
    )
