"""The tasks demo loader: realistic tasks for the demo student, linked only to readable
lessons, and idempotent."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.courses import service as course_service
from campus.demo import DemoContext, registered_loaders, run_loaders
from campus.models.accounts import User, UserRole
from campus.models.courses import Lesson
from campus.models.tasks import Task
from campus.tasks import demo
from tests.factories import create_user
from tests.tasks.helpers import create_course, enroll


async def _tasks_of(session: AsyncSession, user: User) -> list[Task]:
    stmt = select(Task).where(Task.owner_id == user.id).order_by(Task.id)
    return list((await session.execute(stmt)).scalars().all())


async def test_loader_is_registered() -> None:
    assert "tasks" in registered_loaders()


async def test_demo_student_gets_tasks_once(session: AsyncSession, settings: Settings) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    _, (draft_lesson,) = await create_course(session, teacher, published=False, previews=(True,))
    _, (locked_other,) = await create_course(session, teacher, previews=(False,))
    _, (preview, _locked) = await create_course(session, teacher)

    ctx = DemoContext(objects={"settings": settings})
    await demo.load(session, ctx)
    student = ctx.objects["student"]
    assert student.email == demo.STUDENT_EMAIL
    assert ("student", demo.STUDENT_EMAIL, demo.STUDENT_PASSWORD) in ctx.sign_ins
    tasks = await _tasks_of(session, student)
    assert len(tasks) == len(demo.DEMO_TASKS)
    linked = {t.lesson_id for t in tasks if t.lesson_id is not None}
    assert preview.id in linked
    assert draft_lesson.id not in linked
    assert locked_other.id not in linked
    for lesson_id in linked:
        await course_service.get_readable_lesson(session, student, lesson_id=lesson_id)
    assert all(t.is_completed == (t.completed_at is not None) for t in tasks)

    # A second run (a fresh context, as on the next `campus demo`) adds nothing.
    await demo.load(session, DemoContext(objects={"settings": settings}))
    count = await session.scalar(select(func.count()).where(Task.owner_id == student.id))
    assert count == len(demo.DEMO_TASKS)


async def test_existing_demo_student_is_reused_and_enrolled_lessons_linked(
    session: AsyncSession, settings: Settings
) -> None:
    student = await create_user(session, settings, email=demo.STUDENT_EMAIL)
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course, lessons = await create_course(session, teacher, previews=(False, False, False))
    await enroll(session, student, course)
    ctx = DemoContext(objects={"settings": settings})
    await demo.load(session, ctx)
    assert ctx.objects["student"].id == student.id
    assert ctx.sign_ins == [("student", demo.STUDENT_EMAIL, demo.STUDENT_PASSWORD)]
    linked = {t.lesson_id for t in await _tasks_of(session, student)} - {None}
    assert linked
    assert linked <= {lesson.id for lesson in lessons}


async def test_full_demo_links_tasks_to_demo_lessons(session: AsyncSession) -> None:
    await run_loaders(session)
    ctx = await run_loaders(session)
    student = ctx.objects["student"]
    tasks = await _tasks_of(session, student)
    assert len(tasks) == len(demo.DEMO_TASKS)
    linked = [t.lesson_id for t in tasks if t.lesson_id is not None]
    expected = [spec for spec in demo.DEMO_TASKS if spec.lesson_position is not None]
    assert len(linked) == len(expected)  # the student is enrolled in the demo course
    course_ids = set(
        (await session.execute(select(Lesson.course_id).where(Lesson.id.in_(linked))))
        .scalars()
        .all()
    )
    assert course_ids == {ctx.objects["demo_course"].id}
    for lesson_id in linked:
        await course_service.get_readable_lesson(session, student, lesson_id=lesson_id)
