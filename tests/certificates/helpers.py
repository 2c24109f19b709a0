"""A course of two lessons (the first with a quiz) and a student who completes it through
the API, as a person would: pass the quiz, complete the other lesson."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import User, UserRole
from campus.models.courses import Course, Lesson
from tests.assessments.helpers import API, make_quiz, right_answers
from tests.factories import auth_headers, create_course, create_lesson, create_user, enroll

STUDENT_NAME = "Иван Петров-Водкин"
TEACHER_NAME = "Мария Склодовская"
COURSE_TITLE = "Основы Python: от нуля до FastAPI"


@dataclass
class World:
    teacher: User
    student: User
    other: User
    admin: User
    course: Course
    lessons: list[Lesson]
    h: dict[str, dict[str, str]]


async def make_world(session: AsyncSession, settings: Settings) -> World:
    teacher = await create_user(session, settings, role=UserRole.TEACHER, full_name=TEACHER_NAME)
    student = await create_user(session, settings, full_name=STUDENT_NAME)
    other = await create_user(session, settings, full_name="Other Student")
    admin = await create_user(session, settings, role=UserRole.ADMIN, full_name="Ad Min")
    course = await create_course(session, teacher, title=COURSE_TITLE)
    lessons = [await create_lesson(session, course, position=p) for p in (1, 2)]
    await enroll(session, student, course)
    await enroll(session, other, course)
    h = {
        "teacher": await auth_headers(session, settings, teacher),
        "student": await auth_headers(session, settings, student),
        "other": await auth_headers(session, settings, other),
        "admin": await auth_headers(session, settings, admin),
    }
    return World(teacher, student, other, admin, course, lessons, h)


async def add_quiz(client: httpx.AsyncClient, world: World) -> dict:
    return await make_quiz(client, world.h["teacher"], world.lessons[0].id)


async def pass_quiz(client: httpx.AsyncClient, quiz: dict, headers: dict[str, str]) -> None:
    attempt = (await client.post(f"{API}/quizzes/{quiz['id']}/attempts", headers=headers)).json()
    r = await client.post(
        f"{API}/attempts/{attempt['id']}/submission",
        json={"answers": right_answers(quiz)},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["passed"]


async def complete_lesson(
    client: httpx.AsyncClient, world: World, lesson: Lesson, headers: dict[str, str]
) -> httpx.Response:
    return await client.put(
        f"{API}/courses/{world.course.id}/lessons/{lesson.id}/completion", headers=headers
    )


async def complete_course(client: httpx.AsyncClient, world: World, who: str = "student") -> None:
    """Pass the quiz of lesson 1 (which completes it), then complete lesson 2."""
    quiz = await add_quiz(client, world)
    await pass_quiz(client, quiz, world.h[who])
    r = await complete_lesson(client, world, world.lessons[1], world.h[who])
    assert r.status_code == 200, r.text
    assert r.json()["percent"] == 100
