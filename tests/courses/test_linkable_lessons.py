"""The lessons offered to link a task to, and lesson descriptions (both one statement)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.courses import service
from campus.learning import service as learning_service
from campus.models.accounts import UserRole
from campus.models.learning import EnrollmentStatus
from tests.factories import create_course, create_lesson, create_user, enroll


async def test_linkable_lessons_are_those_of_courses_taken_or_taught(
    session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    taught_draft = await create_course(session, teacher, title="B draft", is_published=False)
    draft_lesson = await create_lesson(session, taught_draft, position=1)
    taken = await create_course(session, teacher, title="A taken")
    second = await create_lesson(session, taken, position=2, title="Two")
    first = await create_lesson(session, taken, position=1, title="One")
    left = await create_course(session, teacher, title="C left", lessons=1)
    other = await create_course(session, teacher, title="D other", lessons=1)
    student = await create_user(session, settings)
    await enroll(session, student, taken)
    await enroll(session, student, left, status=EnrollmentStatus.CANCELLED)
    await enroll(session, student, taught_draft)  # a draft is invisible to a student

    mine = await service.list_linkable_lessons(session, student)
    assert [ref.lesson_id for ref in mine] == [first.id, second.id]
    assert mine[0].course_title == "A taken"
    assert mine[0].course_id == taken.id
    taught = await service.list_linkable_lessons(session, teacher)
    assert {ref.course_id for ref in taught} == {taught_draft.id, taken.id, left.id, other.id}
    assert len(await service.list_linkable_lessons(session, teacher, limit=2)) == 2

    described = await service.describe_lessons(
        session, student, lesson_ids=[first.id, draft_lesson.id, 999_999]
    )
    assert set(described) == {first.id}
    assert described[first.id].title == "One"
    assert await service.describe_lessons(session, student, lesson_ids=[]) == {}


async def test_completed_lesson_ids_are_the_learners_own_in_one_course(
    session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher)
    one = await create_lesson(session, course, position=1)
    await create_lesson(session, course, position=2)
    elsewhere = await create_course(session, teacher)
    far = await create_lesson(session, elsewhere, position=1)
    student = await create_user(session, settings)
    peer = await create_user(session, settings)
    for learner in (student, peer):
        await enroll(session, learner, course)
        await enroll(session, learner, elsewhere)
    await learning_service.complete_lesson(session, student, course_id=course.id, lesson_id=one.id)
    await learning_service.complete_lesson(
        session, student, course_id=elsewhere.id, lesson_id=far.id
    )
    assert await learning_service.completed_lesson_ids(
        session, student, course_id=course.id
    ) == frozenset({one.id})
    assert await learning_service.completed_lesson_ids(session, peer, course_id=course.id) == (
        frozenset()
    )
    assert await learning_service.completed_lesson_ids(
        session, student, course_id=elsewhere.id
    ) == frozenset({far.id})
