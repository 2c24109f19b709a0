"""Learning JSON API (API.md §5): enrollment, completion, progress, students."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from campus.http.deps import IdPath, SessionDep, page_params, page_response
from campus.http.identity import CurrentUser
from campus.kit.pagination.envelope import Page
from campus.kit.pagination.params import PageParams
from campus.learning import service
from campus.learning.schemas import CabinetEntry, EnrollmentRead, ProgressRead, StudentRead

router = APIRouter(tags=["learning"])

CourseId = Annotated[int, IdPath("Course id")]
LessonId = Annotated[int, IdPath("Lesson id")]
StudentPageParams = Annotated[
    PageParams, Depends(page_params(service.STUDENT_SORTS, "-enrolled_at"))
]
CabinetPageParams = Annotated[
    PageParams, Depends(page_params(service.CABINET_SORTS, "-enrolled_at"))
]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not allowed (`enrollment-required` when not enrolled)"},
    404: {"description": "No such course or lesson, or not visible to you"},
}


@router.post(
    "/courses/{course_id}/enrollment",
    response_model=EnrollmentRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "Already enrolled (idempotent)", "model": EnrollmentRead},
        402: {"description": "Paid course: buy it through the checkout endpoint first"},
        **ERRORS,
    },
)
async def enroll(
    course_id: CourseId, user: CurrentUser, session: SessionDep, response: Response
) -> Any:
    """Enroll in a free published course: 201 the first time, 200 when already enrolled."""
    result = await service.enroll_student(session, user, course_id=course_id)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return result.enrollment


@router.delete(
    "/courses/{course_id}/enrollment",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=ERRORS,
)
async def unenroll(course_id: CourseId, user: CurrentUser, session: SessionDep) -> None:
    """Leave a course. Not enrolled: 404. Completed lessons are kept for a later return."""
    await service.unenroll_student(session, user, course_id=course_id)


@router.get("/courses/{course_id}/progress", response_model=ProgressRead, responses=ERRORS)
async def get_progress(course_id: CourseId, user: CurrentUser, session: SessionDep) -> Any:
    return await service.get_progress(session, user, course_id=course_id)


@router.put(
    "/courses/{course_id}/lessons/{lesson_id}/completion",
    response_model=ProgressRead,
    responses=ERRORS,
)
async def complete_lesson(
    course_id: CourseId, lesson_id: LessonId, user: CurrentUser, session: SessionDep
) -> Any:
    """Mark a lesson completed (idempotent); returns the course progress."""
    return await service.complete_lesson(session, user, course_id=course_id, lesson_id=lesson_id)


@router.delete(
    "/courses/{course_id}/lessons/{lesson_id}/completion",
    response_model=ProgressRead,
    responses=ERRORS,
)
async def uncomplete_lesson(
    course_id: CourseId, lesson_id: LessonId, user: CurrentUser, session: SessionDep
) -> Any:
    """Mark a lesson not completed (idempotent); returns the course progress."""
    return await service.uncomplete_lesson(session, user, course_id=course_id, lesson_id=lesson_id)


@router.get("/courses/{course_id}/students", response_model=Page[StudentRead], responses=ERRORS)
async def list_students(
    request: Request,
    response: Response,
    course_id: CourseId,
    user: CurrentUser,
    session: SessionDep,
    params: StudentPageParams,
) -> Any:
    """The course's students and their progress (its teacher and admins only)."""
    page = await service.list_students(session, user, course_id=course_id, params=params)
    return page_response(request, response, page)


@router.get(
    "/me/courses",
    response_model=Page[CabinetEntry],
    responses={401: {"description": "Not authenticated"}},
)
async def list_my_courses(
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    params: CabinetPageParams,
) -> Any:
    """The learner's cabinet: each enrolled course, when, and the progress in it."""
    page = await service.list_my_courses(session, user, params=params)
    return page_response(request, response, page)
