"""Demo data: the demo student's study plan, some tasks pointing at lessons they can read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts.service import bootstrap
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
    # The lesson of the demo course ("Build a task API with FastAPI") at this position; without
    # that course, the n-th lesson the student can read stands in, in the order of the specs.
    lesson_position: int | None


DEMO_TASKS: tuple[_DemoTask, ...] = (
    _DemoTask(
        "Set up the project with uv and run it",
        "Write down three things that were new to me.",
        TaskStatus.COMPLETED,
        TaskPriority.MEDIUM,
        -3,
        1,
    ),
    _DemoTask(
        "Redo the CRUD exercise without looking at the solution",
        "Create, read, update, delete — and a 404 for a missing task.",
        TaskStatus.IN_PROGRESS,
        TaskPriority.HIGH,
        1,
        3,
    ),
    _DemoTask(
        "Explain why another user's task must be a 404, not a 403",
        None,
        TaskStatus.TODO,
        TaskPriority.MEDIUM,
        4,
        6,
    ),
    _DemoTask(
        "Review pagination: skip, limit and the total",
        "Why must the order be stable for paging to work?",
        TaskStatus.TODO,
        TaskPriority.MEDIUM,
        7,
        8,
    ),
    _DemoTask(
        "Write tests for the create and delete endpoints",
        "Use httpx against the app; check the 201 and the 204, and that a second delete is 404.",
        TaskStatus.TODO,
        TaskPriority.HIGH,
        10,
        10,
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
    student = await bootstrap.ensure_demo_user(
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


async def _readable(session: AsyncSession, student: User, lesson_id: int) -> bool:
    try:
        await course_service.get_readable_lesson(session, student, lesson_id=lesson_id)
    except CampusError:
        return False
    return True


async def _lesson_links(
    session: AsyncSession, ctx: DemoContext, student: User, specs: list[_DemoTask]
) -> dict[str, int]:
    """Task title -> a lesson the student can read (only links the student may make)."""
    wanted = [spec for spec in specs if spec.lesson_position is not None]
    if not wanted:
        return {}
    course = ctx.objects.get("demo_course")
    if course is not None:
        by_position = await repository.lesson_ids_by_position(session, course_id=course.id)
        candidates = [by_position.get(spec.lesson_position or 0) for spec in wanted]
    else:
        published = await repository.published_lesson_ids(session, limit=200)
        readable = [i for i in published[: len(wanted) * 4] if await _readable(session, student, i)]
        candidates = [readable[n] if n < len(readable) else None for n in range(len(wanted))]
    links: dict[str, int] = {}
    for spec, lesson_id in zip(wanted, candidates, strict=True):
        if lesson_id is not None and await _readable(session, student, lesson_id):
            links[spec.title] = lesson_id
    return links


@demo_loader("tasks", order=40)
async def load(session: AsyncSession, ctx: DemoContext) -> None:
    """Give the demo student a handful of study tasks; tasks already there are kept."""
    student = await _demo_student(session, ctx)
    existing = await repository.owner_task_titles(session, owner_id=student.id)
    missing = [spec for spec in DEMO_TASKS if spec.title not in existing]
    if not missing:
        return
    links = await _lesson_links(session, ctx, student, missing)
    now = utcnow()
    for spec in missing:
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
                lesson_id=links.get(spec.title),
            ),
        )
