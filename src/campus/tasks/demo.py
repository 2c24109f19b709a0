"""Demo data: the demo student's study plan, some tasks pointing at lessons they can read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts import service as accounts_service
from campus.config import Settings, get_settings
from campus.courses import service as course_service
from campus.demo import DemoContext, demo_loader
from campus.errors import CampusError
from campus.kit.clock import utcnow
from campus.models.accounts import User, UserRole
from campus.models.tasks import TaskPriority, TaskStatus
from campus.tasks import repository, service
from campus.tasks.schemas import TaskCreate

STUDENT_EMAIL = "student@campus.example"
STUDENT_PASSWORD = "campus-student-demo"  # noqa: S105 - the documented demo sign-in


@dataclass(frozen=True)
class _DemoTask:
    title: str
    description: str | None
    status: TaskStatus
    priority: TaskPriority
    due_in_days: int | None
    lesson_index: int | None  # index into the readable lessons found, if any


DEMO_TASKS: tuple[_DemoTask, ...] = (
    _DemoTask(
        "Read the first lesson and take notes",
        "Write down three things that were new to me.",
        TaskStatus.COMPLETED,
        TaskPriority.MEDIUM,
        -2,
        0,
    ),
    _DemoTask(
        "Redo the lesson's exercise without looking at the solution",
        None,
        TaskStatus.IN_PROGRESS,
        TaskPriority.HIGH,
        1,
        1,
    ),
    _DemoTask(
        "Write tests for the create and delete endpoints",
        "Use httpx against the app; check the 201 and the 204, and that a second delete is 404.",
        TaskStatus.TODO,
        TaskPriority.HIGH,
        3,
        2,
    ),
    _DemoTask(
        "Review pagination: skip, limit and the total",
        "Why must the order be stable for paging to work?",
        TaskStatus.TODO,
        TaskPriority.MEDIUM,
        7,
        None,
    ),
    _DemoTask(
        "Ask in the course chat about token expiry",
        None,
        TaskStatus.TODO,
        TaskPriority.LOW,
        None,
        None,
    ),
    _DemoTask(
        "Plan next week's study sessions",
        "Two evenings and Saturday morning.",
        TaskStatus.TODO,
        TaskPriority.LOW,
        6,
        None,
    ),
)


async def _demo_student(session: AsyncSession, ctx: DemoContext) -> User:
    """The student the accounts loader made, else the one with the demo email (created)."""
    student = ctx.objects.get("student")
    if isinstance(student, User):
        return student
    settings = ctx.objects.get("settings")
    if not isinstance(settings, Settings):
        settings = get_settings()
    student = await accounts_service.ensure_demo_user(
        session,
        settings,
        email=STUDENT_EMAIL,
        password=STUDENT_PASSWORD,
        full_name="Sam Student",
        role=UserRole.STUDENT,
    )
    ctx.objects["student"] = student
    sign_in = (UserRole.STUDENT.value, STUDENT_EMAIL, STUDENT_PASSWORD)
    if sign_in not in ctx.sign_ins:
        ctx.sign_ins.append(sign_in)
    return student


async def _readable_lessons(session: AsyncSession, student: User, *, wanted: int) -> list[int]:
    """Lessons of published courses the student may read (preview or enrolled), in order."""
    readable: list[int] = []
    for lesson_id in await repository.published_lesson_ids(session, limit=200):
        try:
            await course_service.get_readable_lesson(session, student, lesson_id=lesson_id)
        except CampusError:
            continue
        readable.append(lesson_id)
        if len(readable) == wanted:
            break
    return readable


@demo_loader("tasks", order=40)
async def load(session: AsyncSession, ctx: DemoContext) -> None:
    """Give the demo student a handful of study tasks; tasks already there are kept."""
    student = await _demo_student(session, ctx)
    existing = await repository.owner_task_titles(session, owner_id=student.id)
    missing = [spec for spec in DEMO_TASKS if spec.title not in existing]
    if not missing:
        return
    lessons = await _readable_lessons(session, student, wanted=3)
    now = utcnow()
    for spec in missing:
        lesson_id = None
        if spec.lesson_index is not None and spec.lesson_index < len(lessons):
            lesson_id = lessons[spec.lesson_index]
        due = None
        if spec.due_in_days is not None:
            due = (now + timedelta(days=spec.due_in_days)).replace(
                hour=17, minute=0, second=0, microsecond=0
            )
        await service.create_task(
            session,
            student,
            data=TaskCreate(
                title=spec.title,
                description=spec.description,
                status=spec.status,
                priority=spec.priority,
                due_date=due,
                lesson_id=lesson_id,
            ),
        )
