"""Quiz pages over httpx: take a quiz without JavaScript, the editor, the gradebook page."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from campus.models.courses import Lesson
from tests.assessments.helpers import make_quiz
from tests.factories import DEFAULT_PASSWORD, auth_headers, create_course, create_user, enroll
from tests.pagehelpers import HTML, csrf_from, post_form, sign_in


@pytest.fixture
async def setup(session: AsyncSession, settings: Settings, client: httpx.AsyncClient) -> dict:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    student = await create_user(session, settings, full_name="Quiz Taker")
    course = await create_course(session, teacher, lessons=2)
    await enroll(session, student, course)
    lessons = list(
        (
            await session.execute(
                select(Lesson).where(Lesson.course_id == course.id).order_by(Lesson.position)
            )
        ).scalars()
    )
    th = await auth_headers(session, settings, teacher)
    quiz = await make_quiz(client, th, lessons[0].id, time_limit_seconds=600)
    return {
        "teacher": teacher,
        "student": student,
        "course": course,
        "lessons": lessons,
        "quiz": quiz,
    }


async def test_take_a_quiz_without_javascript(client: httpx.AsyncClient, setup: dict) -> None:
    course, lesson, quiz = setup["course"], setup["lessons"][0], setup["quiz"]
    await sign_in(client, setup["student"].email, DEFAULT_PASSWORD)
    lesson_page = await client.get(f"/courses/{course.id}/lessons/{lesson.id}", headers=HTML)
    assert "Take the quiz to complete this lesson" in lesson_page.text
    assert "Mark complete" not in lesson_page.text
    path = f"/courses/{course.id}/lessons/{lesson.id}/quiz"
    started = await post_form(client, f"{path}/start", {}, from_page=path)
    assert started.status_code == 303
    page = await client.get(path, headers=HTML)
    assert page.status_code == 200
    assert "Time left" in page.text
    assert 'data-countdown="' in page.text
    for secret in ("is_correct", "HTTP GET", "FastAPI is one"):
        assert secret not in page.text
    q = quiz["questions"]
    attempt_id = int(page.text.split('action="/attempts/')[1].split("/")[0])
    token = csrf_from(page.text)
    bad = await client.post(
        f"/attempts/{attempt_id}/submit",
        data={"csrf_token": token, f"q-{q[3]['id']}": "pi"},
        headers=HTML,
    )
    assert bad.status_code == 422
    assert "Enter a number" in bad.text
    answers = {
        "csrf_token": csrf_from(bad.text),
        f"q-{q[0]['id']}": str(next(o["id"] for o in q[0]["options"] if o["is_correct"])),
        f"q-{q[1]['id']}": [str(o["id"]) for o in q[1]["options"] if o["is_correct"]],
        f"q-{q[2]['id']}": " get ",
        f"q-{q[3]['id']}": "3,14",
    }
    done = await client.post(f"/attempts/{attempt_id}/submit", data=answers, headers=HTML)
    assert done.status_code == 303
    assert done.headers["location"] == f"/attempts/{attempt_id}"
    result = await client.get(f"/attempts/{attempt_id}", headers=HTML)
    assert result.status_code == 200
    assert "10 / 10" in result.text
    assert "Passed" in result.text
    assert "FastAPI is one." in result.text  # the explanation, revealed after submitting
    again = await client.post(f"/attempts/{attempt_id}/submit", data=answers, headers=HTML)
    assert again.status_code == 303  # submitted already: back to the quiz with a message
    assert again.headers["location"] == path
    lesson_page = await client.get(f"/courses/{course.id}/lessons/{lesson.id}", headers=HTML)
    assert "✓ Completed" in lesson_page.text


async def test_student_may_not_open_the_editor_or_gradebook(
    client: httpx.AsyncClient, setup: dict
) -> None:
    course, lesson = setup["course"], setup["lessons"][0]
    await sign_in(client, setup["student"].email, DEFAULT_PASSWORD)
    for path in (
        f"/teach/courses/{course.id}/lessons/{lesson.id}/quiz",
        f"/teach/courses/{course.id}/students",
        f"/teach/courses/{course.id}/students.csv",
    ):
        response = await client.get(path, headers=HTML)
        assert response.status_code == 403, path
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with anonymous:
        response = await anonymous.get(
            f"/courses/{course.id}/lessons/{lesson.id}/quiz", headers=HTML
        )
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")


async def test_teacher_edits_a_quiz_and_reads_the_gradebook(
    client: httpx.AsyncClient, setup: dict
) -> None:
    course, lesson = setup["course"], setup["lessons"][1]
    await sign_in(client, setup["teacher"].email, DEFAULT_PASSWORD)
    editor = f"/teach/courses/{course.id}/lessons/{lesson.id}/quiz"
    page = await client.get(editor, headers=HTML)
    assert page.status_code == 200
    assert "Create the quiz" in page.text
    bad = await post_form(client, editor, {"title": "", "pass_percent": "150"})
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.text
    created = await post_form(
        client, editor, {"title": "Lesson 2 check", "pass_percent": "50", "reveal_answers": "on"}
    )
    assert created.status_code == 303
    page = await client.get(editor, headers=HTML)
    quiz_id = int(page.text.split('action="/teach/quizzes/')[1].split("/")[0])
    add = f"/teach/quizzes/{quiz_id}/questions"
    missing_correct = await post_form(
        client,
        add,
        {"kind": "single_choice", "prompt": "Pick", "points": "1", "options": "A\nB"},
        from_page=editor,
    )
    assert missing_correct.status_code == 422
    assert "exactly one correct option" in missing_correct.text
    for data in (
        {"kind": "single_choice", "prompt": "Pick A", "points": "2", "options": "*A\nB\nC"},
        {"kind": "short_text", "prompt": "Say hi", "points": "1", "accepted_answers": "hi\nhello"},
        {
            "kind": "number",
            "prompt": "Two",
            "points": "1",
            "number_value": "2",
            "number_tolerance": "0.5",
        },
    ):
        added = await post_form(client, add, data, from_page=editor)
        assert added.status_code == 303, added.text
    api_view = await client.get(
        f"/teach/courses/{course.id}/lessons/{lesson.id}/quiz", headers=HTML
    )
    assert "Pick A" in api_view.text
    assert "✓ A" in api_view.text
    book = await client.get(f"/teach/courses/{course.id}/students?sort=-quiz_score", headers=HTML)
    assert book.status_code == 200
    assert "Quiz Taker" in book.text
    assert "Lesson funnel" in book.text
    odd = await client.get(f"/teach/courses/{course.id}/students?sort=password", headers=HTML)
    assert odd.status_code == 200  # an unknown sort falls back to the default
    csv_page = await client.get(f"/teach/courses/{course.id}/students.csv", headers=HTML)
    assert csv_page.status_code == 200
    assert "Quiz Taker" in csv_page.text
    assert csv_page.text.startswith("user_id,full_name")
