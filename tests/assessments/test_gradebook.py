"""The gradebook: who may, figures computed in SQL, sorting, the funnel, the CSV stream."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from campus.models.courses import Lesson
from campus.models.learning import EnrollmentStatus
from tests.assessments.helpers import API, make_quiz, right_answers
from tests.factories import auth_headers, create_course, create_user, enroll


@pytest.fixture
async def klass(session: AsyncSession, settings: Settings, client: httpx.AsyncClient) -> dict:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher, lessons=3)
    lessons = list(
        (
            await session.execute(
                select(Lesson).where(Lesson.course_id == course.id).order_by(Lesson.position)
            )
        ).scalars()
    )
    th = await auth_headers(session, settings, teacher)
    names = ["Ada", "=cmd|' /C calc'!A0", "Cy", "Dee"]
    students = []
    for name in names:
        user = await create_user(session, settings, full_name=name)
        await enroll(session, user, course)
        students.append((user, await auth_headers(session, settings, user)))
    gone = await create_user(session, settings, full_name="Gone")
    await enroll(session, gone, course, status=EnrollmentStatus.CANCELLED)
    quiz = await make_quiz(client, th, lessons[0].id)
    # Ada passes with 100 and finishes lesson 2; "=cmd" fails once (0); Cy completes nothing.
    ada_h, cmd_h = students[0][1], students[1][1]
    attempt = (await client.post(f"{API}/quizzes/{quiz['id']}/attempts", headers=ada_h)).json()
    await client.post(
        f"{API}/attempts/{attempt['id']}/submission",
        json={"answers": right_answers(quiz)},
        headers=ada_h,
    )
    await client.put(f"{API}/courses/{course.id}/lessons/{lessons[1].id}/completion", headers=ada_h)
    attempt = (await client.post(f"{API}/quizzes/{quiz['id']}/attempts", headers=cmd_h)).json()
    await client.post(
        f"{API}/attempts/{attempt['id']}/submission", json={"answers": []}, headers=cmd_h
    )
    await client.put(
        f"{API}/courses/{course.id}/lessons/{lessons[2].id}/completion",
        headers=students[3][1],
    )
    return {
        "course": course,
        "quiz": quiz,
        "lessons": lessons,
        "teacher_h": th,
        "teacher": teacher,
        "students": students,
    }


async def test_gradebook_figures_and_funnel(client: httpx.AsyncClient, klass: dict) -> None:
    course = klass["course"]
    response = await client.get(
        f"{API}/courses/{course.id}/gradebook?sort=name", headers=klass["teacher_h"]
    )
    assert response.status_code == 200, response.text
    book = response.json()
    assert book["total"] == 4  # the cancelled enrollment is not a student
    rows = {r["full_name"]: r for r in book["items"]}
    assert [r["full_name"] for r in book["items"]] == sorted(rows, key=str.lower)
    quiz_id = str(klass["quiz"]["id"])
    ada = rows["Ada"]
    assert (ada["completed_lessons"], ada["total_lessons"], ada["percent"]) == (2, 3, 66)
    assert ada["quiz_score"] == 100
    assert ada["quizzes_passed"] == 1
    assert ada["quiz_scores"] == {quiz_id: 100}
    cmd = rows["=cmd|' /C calc'!A0"]
    assert cmd["quiz_score"] == 0
    assert cmd["quiz_scores"] == {quiz_id: 0}
    assert cmd["completed_lessons"] == 0
    cy = rows["Cy"]
    assert cy["quiz_scores"] == {quiz_id: None}
    assert cy["last_activity"] == cy["enrolled_at"]
    assert ada["last_activity"] >= ada["enrolled_at"]
    assert [(s["position"], s["completed"]) for s in book["funnel"]] == [(1, 1), (2, 1), (3, 1)]
    assert book["funnel"][0]["percent"] == 25
    assert book["quizzes"] == [
        {"id": klass["quiz"]["id"], "lesson_position": 1, "title": "Check yourself"}
    ]


@pytest.mark.parametrize(
    ("sort", "first"),
    [
        ("-quiz_score", "Ada"),
        ("-progress", "Ada"),
        ("name", "=cmd|' /C calc'!A0"),
        ("-name", "Dee"),
    ],
)
async def test_gradebook_sorts_in_sql(
    client: httpx.AsyncClient, klass: dict, sort: str, first: str
) -> None:
    response = await client.get(
        f"{API}/courses/{klass['course'].id}/gradebook?sort={sort}&limit=1",
        headers=klass["teacher_h"],
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["items"][0]["full_name"] == first
    assert page["pages"] == 4


async def test_gradebook_bad_params_are_422(client: httpx.AsyncClient, klass: dict) -> None:
    for query in ("sort=password_hash", "limit=0", "limit=101", "skip=-1"):
        response = await client.get(
            f"{API}/courses/{klass['course'].id}/gradebook?{query}", headers=klass["teacher_h"]
        )
        assert response.status_code == 422, query


async def test_who_may_not_see_the_gradebook(
    client: httpx.AsyncClient, klass: dict, session: AsyncSession, settings: Settings
) -> None:
    course = klass["course"]
    other_teacher = await create_user(session, settings, role=UserRole.TEACHER)
    admin = await create_user(session, settings, role=UserRole.ADMIN)
    for headers in (klass["students"][0][1], await auth_headers(session, settings, other_teacher)):
        for path in ("gradebook", "gradebook.csv"):
            response = await client.get(f"{API}/courses/{course.id}/{path}", headers=headers)
            assert response.status_code == 403, path
            assert response.json()["type"].endswith("/gradebook-forbidden")
    assert (await client.get(f"{API}/courses/{course.id}/gradebook")).status_code == 401
    admin_h = await auth_headers(session, settings, admin)
    assert (
        await client.get(f"{API}/courses/{course.id}/gradebook", headers=admin_h)
    ).status_code == 200
    assert (await client.get(f"{API}/courses/999999/gradebook", headers=admin_h)).status_code == 404


async def test_csv_export_streams_every_student_in_batches(
    client: httpx.AsyncClient, klass: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campus.assessments import service

    monkeypatch.setattr(service, "CSV_BATCH", 2)  # 4 students: several batches
    async with client.stream(
        "GET", f"{API}/courses/{klass['course'].id}/gradebook.csv", headers=klass["teacher_h"]
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        chunks = [chunk async for chunk in response.aiter_text()]
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert len(rows) == 4
    names = {r["full_name"] for r in rows}
    assert "'=cmd|' /C calc'!A0" in names  # a formula is kept as text
    ada = next(r for r in rows if r["full_name"] == "Ada")
    assert ada["quiz_score"] == "100"
    assert ada["completed_lessons"] == "2"
    assert ada["quiz 1: Check yourself"] == "100"
    cy = next(r for r in rows if r["full_name"] == "Cy")
    assert cy["quiz 1: Check yourself"] == ""


async def test_csv_is_read_in_keyset_batches(
    session: AsyncSession, klass: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campus.assessments import service

    monkeypatch.setattr(service, "CSV_BATCH", 3)
    lines = await service.gradebook_csv(
        session, klass["teacher"], course_id=klass["course"].id, reader=session
    )
    chunks = [chunk async for chunk in lines]
    # The header, then batches of 3 and 1 students: never the class at once.
    assert [chunk.count("\r\n") for chunk in chunks] == [1, 3, 1]
