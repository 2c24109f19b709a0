"""Quizzes through the API: editing, taking, grading, and every "who may not"."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.kit.clock import utcnow
from campus.models.accounts import UserRole
from campus.models.assessments import QuizAttempt
from tests.assessments.helpers import API, make_quiz, right_answers
from tests.factories import auth_headers, create_course, create_user, enroll


@pytest.fixture
async def world(session: AsyncSession, settings: Settings) -> dict:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    other_teacher = await create_user(session, settings, role=UserRole.TEACHER)
    admin = await create_user(session, settings, role=UserRole.ADMIN)
    student = await create_user(session, settings)
    other = await create_user(session, settings)
    outsider = await create_user(session, settings)
    course = await create_course(session, teacher, lessons=2)
    await enroll(session, student, course)
    await enroll(session, other, course)
    from campus.models.courses import Lesson

    lessons = list(
        (
            await session.execute(
                select(Lesson).where(Lesson.course_id == course.id).order_by(Lesson.position)
            )
        ).scalars()
    )
    users = {
        "teacher": teacher,
        "other_teacher": other_teacher,
        "admin": admin,
        "student": student,
        "other": other,
        "outsider": outsider,
    }
    return {
        "course": course,
        "lessons": lessons,
        "users": users,
        "h": {name: await auth_headers(session, settings, u) for name, u in users.items()},
    }


async def _quiz(client: httpx.AsyncClient, world: dict, **settings: object) -> dict:
    return await make_quiz(client, world["h"]["teacher"], world["lessons"][0].id, **settings)


async def _start(client: httpx.AsyncClient, h: dict, quiz: dict) -> httpx.Response:
    return await client.post(f"{API}/quizzes/{quiz['id']}/attempts", headers=h)


async def _submit(
    client: httpx.AsyncClient, h: dict, attempt_id: int, answers: list
) -> httpx.Response:
    return await client.post(
        f"{API}/attempts/{attempt_id}/submission", json={"answers": answers}, headers=h
    )


async def _attempts_stored(session: AsyncSession, **where: object) -> list[QuizAttempt]:
    stmt = select(QuizAttempt).filter_by(**where).execution_options(populate_existing=True)
    return list((await session.execute(stmt)).scalars())


# --- editing ------------------------------------------------------------------------------


async def test_teacher_builds_a_quiz_of_every_kind(client: httpx.AsyncClient, world: dict) -> None:
    quiz = await _quiz(client, world)
    assert [q["kind"] for q in quiz["questions"]] == [
        "single_choice",
        "multiple_choice",
        "short_text",
        "number",
    ]
    assert [q["position"] for q in quiz["questions"]] == [1, 2, 3, 4]
    assert quiz["max_score"] == 10
    assert quiz["questions"][3]["number_tolerance"] == 0.005
    assert quiz["questions"][2]["case_sensitive"] is False
    admin_view = await client.get(f"{API}/quizzes/{quiz['id']}", headers=world["h"]["admin"])
    assert admin_view.status_code == 200
    again = await client.post(
        f"{API}/lessons/{world['lessons'][0].id}/quiz",
        json={"title": "Twice"},
        headers=world["h"]["teacher"],
    )
    assert again.status_code == 409
    assert again.json()["type"].endswith("/quiz-exists")


@pytest.mark.parametrize("who", ["student", "other_teacher", "outsider"])
async def test_who_may_not_edit_or_read_the_answer_key(
    client: httpx.AsyncClient, world: dict, who: str
) -> None:
    quiz = await _quiz(client, world)
    h = world["h"][who]
    lesson_id = world["lessons"][1].id
    qid = quiz["id"]
    question_id = quiz["questions"][0]["id"]
    attempts = [
        await client.post(f"{API}/lessons/{lesson_id}/quiz", json={"title": "x"}, headers=h),
        await client.get(f"{API}/quizzes/{qid}", headers=h),
        await client.patch(f"{API}/quizzes/{qid}", json={"title": "Mine"}, headers=h),
        await client.delete(f"{API}/quizzes/{qid}", headers=h),
        await client.post(
            f"{API}/quizzes/{qid}/questions",
            json={"kind": "number", "prompt": "1+1", "number_value": 2},
            headers=h,
        ),
        await client.patch(
            f"{API}/quizzes/{qid}/questions/{question_id}", json={"points": 9}, headers=h
        ),
        await client.delete(f"{API}/quizzes/{qid}/questions/{question_id}", headers=h),
        await client.put(
            f"{API}/quizzes/{qid}/question-order",
            json={"question_ids": [q["id"] for q in reversed(quiz["questions"])]},
            headers=h,
        ),
    ]
    for response in attempts:
        assert response.status_code == 403, (response.request.url, response.text)
    teacher_view = await client.get(f"{API}/quizzes/{qid}", headers=world["h"]["teacher"])
    assert teacher_view.json() == quiz  # nothing changed
    anonymous = await client.get(f"{API}/quizzes/{qid}")
    assert anonymous.status_code == 401


async def test_learner_view_carries_no_answer_key(client: httpx.AsyncClient, world: dict) -> None:
    quiz = await _quiz(client, world)
    response = await client.get(
        f"{API}/lessons/{world['lessons'][0].id}/quiz", headers=world["h"]["student"]
    )
    assert response.status_code == 200, response.text
    body = response.json()
    text = response.text
    for secret in (
        "is_correct",
        "accepted_answers",
        "HTTP GET",
        "3.14",
        "explanation",
        "FastAPI is one",
    ):
        assert secret not in text, secret
    assert [q["id"] for q in body["questions"]] == [q["id"] for q in quiz["questions"]]
    assert body["attempts_used"] == 0
    assert body["attempts_left"] is None
    assert body["passed"] is False
    assert body["open_attempt_id"] is None
    started = await _start(client, world["h"]["student"], quiz)
    assert started.status_code == 201
    assert started.json()["feedback"] is None
    for secret in ("is_correct", "accepted_answers", "correct_answer"):
        assert secret not in started.text
    none = await client.get(
        f"{API}/lessons/{world['lessons'][1].id}/quiz", headers=world["h"]["student"]
    )
    assert none.status_code == 404


@pytest.mark.parametrize(
    ("question", "loc_part"),
    [
        ({"kind": "single_choice", "prompt": "p", "options": [{"text": "a"}, {"text": "b"}]}, ""),
        (
            {
                "kind": "single_choice",
                "prompt": "p",
                "options": [{"text": "a", "is_correct": True}, {"text": "b", "is_correct": True}],
            },
            "",
        ),
        (
            {
                "kind": "multiple_choice",
                "prompt": "p",
                "options": [{"text": "a", "is_correct": True}],
            },
            "",
        ),
        ({"kind": "short_text", "prompt": "p"}, ""),
        ({"kind": "short_text", "prompt": "p", "accepted_answers": ["  "]}, ""),
        ({"kind": "number", "prompt": "p"}, ""),
        ({"kind": "number", "prompt": "p", "number_value": 1, "number_tolerance": -1}, ""),
        ({"kind": "number", "prompt": "p", "number_value": 1, "accepted_answers": ["1"]}, ""),
        ({"kind": "short_text", "prompt": "p", "accepted_answers": ["a"], "options": []}, ""),
        ({"kind": "essay", "prompt": "p"}, ""),
        ({"kind": "number", "prompt": " ", "number_value": 1}, ""),
        ({"kind": "number", "prompt": "p", "number_value": 1, "points": 0}, ""),
        ({"kind": "number", "prompt": "p", "number_value": 1, "position": 9}, ""),
        ({"kind": "number", "prompt": "p", "number_value": 1, "surprise": True}, ""),
    ],
)
async def test_invalid_questions_are_422(
    client: httpx.AsyncClient, world: dict, question: dict, loc_part: str
) -> None:
    quiz = await _quiz(client, world, questions=[])
    response = await client.post(
        f"{API}/quizzes/{quiz['id']}/questions", json=question, headers=world["h"]["teacher"]
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_invalid_quiz_settings_are_422(client: httpx.AsyncClient, world: dict) -> None:
    lesson_id = world["lessons"][0].id
    for body in (
        {"title": ""},
        {"title": "t", "pass_percent": 101},
        {"title": "t", "attempt_limit": 0},
        {"title": "t", "time_limit_seconds": 5},
    ):
        response = await client.post(
            f"{API}/lessons/{lesson_id}/quiz", json=body, headers=world["h"]["teacher"]
        )
        assert response.status_code == 422, body
    quiz = await _quiz(client, world, questions=[])
    bad = await client.patch(
        f"{API}/quizzes/{quiz['id']}", json={"title": None}, headers=world["h"]["teacher"]
    )
    assert bad.status_code == 422


async def test_edit_reorder_and_delete_questions(client: httpx.AsyncClient, world: dict) -> None:
    h = world["h"]["teacher"]
    quiz = await _quiz(client, world)
    ids = [q["id"] for q in quiz["questions"]]
    order = await client.put(
        f"{API}/quizzes/{quiz['id']}/question-order",
        json={"question_ids": list(reversed(ids))},
        headers=h,
    )
    assert order.status_code == 200
    assert [q["id"] for q in order.json()["questions"]] == list(reversed(ids))
    for bad in (ids[:-1], [*ids, ids[0]], [ids[0]] * 4, [*ids[:-1], 999999]):
        response = await client.put(
            f"{API}/quizzes/{quiz['id']}/question-order", json={"question_ids": bad}, headers=h
        )
        assert response.status_code == 422, bad
    # A change must leave a valid question: single choice with two correct options is not.
    single = ids[0]
    two_right = await client.patch(
        f"{API}/quizzes/{quiz['id']}/questions/{single}",
        json={"options": [{"text": "a", "is_correct": True}, {"text": "b", "is_correct": True}]},
        headers=h,
    )
    assert two_right.status_code == 422
    to_number = await client.patch(
        f"{API}/quizzes/{quiz['id']}/questions/{single}",
        json={"kind": "number", "number_value": 42},
        headers=h,
    )
    assert to_number.status_code == 200, to_number.text
    changed = next(q for q in to_number.json()["questions"] if q["id"] == single)
    assert changed["options"] == []
    assert changed["number_value"] == 42
    points = await client.patch(
        f"{API}/quizzes/{quiz['id']}/questions/{ids[1]}", json={"points": 7}, headers=h
    )
    assert next(q for q in points.json()["questions"] if q["id"] == ids[1])["points"] == 7
    gone = await client.delete(f"{API}/quizzes/{quiz['id']}/questions/{ids[2]}", headers=h)
    assert gone.status_code == 204
    after = (await client.get(f"{API}/quizzes/{quiz['id']}", headers=h)).json()
    assert [q["position"] for q in after["questions"]] == [1, 2, 3]
    assert ids[2] not in [q["id"] for q in after["questions"]]
    missing = await client.delete(f"{API}/quizzes/{quiz['id']}/questions/{ids[2]}", headers=h)
    assert missing.status_code == 404


# --- taking -------------------------------------------------------------------------------


async def test_pass_completes_the_lesson_and_progress_shows_the_score(
    client: httpx.AsyncClient, world: dict
) -> None:
    h = world["h"]["student"]
    course, lesson = world["course"], world["lessons"][0]
    quiz = await _quiz(client, world)
    blocked = await client.put(
        f"{API}/courses/{course.id}/lessons/{lesson.id}/completion", headers=h
    )
    assert blocked.status_code == 409
    assert blocked.json()["type"].endswith("/quiz-not-passed")
    attempt = (await _start(client, h, quiz)).json()
    assert attempt["status"] == "open"
    assert attempt["deadline_at"] is None
    same = await _start(client, h, quiz)
    assert same.status_code == 200
    assert same.json()["id"] == attempt["id"]
    answers = right_answers(quiz)
    answers[1]["option_ids"] = answers[1]["option_ids"][:1]  # multiple choice half right: 0
    result = await _submit(client, h, attempt["id"], answers)
    assert result.status_code == 200, result.text
    graded = result.json()
    assert (graded["score"], graded["max_score"], graded["percent"]) == (7, 10, 70)
    assert graded["passed"] is True
    assert graded["status"] == "submitted"
    feedback = {f["question_id"]: f for f in graded["feedback"]}
    multi = quiz["questions"][1]
    assert feedback[multi["id"]]["correct"] is False
    assert feedback[multi["id"]]["correct_answer"]["option_ids"] == [
        o["id"] for o in multi["options"] if o["is_correct"]
    ]
    assert feedback[quiz["questions"][0]["id"]]["explanation"] == "FastAPI is one."
    progress = (await client.get(f"{API}/courses/{course.id}/progress", headers=h)).json()
    assert progress["completed_lessons"] == 1
    assert progress["quiz_score"] == 70
    assert (progress["quizzes_passed"], progress["quizzes_total"]) == (1, 1)
    assert progress["completed_at"] is None
    done = await client.put(
        f"{API}/courses/{course.id}/lessons/{world['lessons'][1].id}/completion", headers=h
    )
    assert done.json()["completed_at"] is not None  # every lesson: the course is completed
    cabinet = (await client.get(f"{API}/me/courses", headers=h)).json()
    assert cabinet["items"][0]["progress"]["quiz_score"] == 70
    students = await client.get(
        f"{API}/courses/{course.id}/students", headers=world["h"]["teacher"]
    )
    scores = {s["user"]["id"]: s["progress"]["quiz_score"] for s in students.json()["items"]}
    assert scores == {world["users"]["student"].id: 70, world["users"]["other"].id: 0}
    again = await _submit(client, h, attempt["id"], right_answers(quiz))
    assert again.status_code == 409
    assert again.json()["type"].endswith("/attempt-submitted")
    kept = (await client.get(f"{API}/attempts/{attempt['id']}", headers=h)).json()
    assert kept["score"] == 7  # immutable


async def test_failing_leaves_the_lesson_open_and_limits_attempts(
    client: httpx.AsyncClient, world: dict, session: AsyncSession
) -> None:
    h = world["h"]["student"]
    quiz = await _quiz(client, world, attempt_limit=2, reveal_answers=False)
    for number in (1, 2):
        attempt = (await _start(client, h, quiz)).json()
        assert attempt["number"] == number
        result = (await _submit(client, h, attempt["id"], [])).json()
        assert result["passed"] is False
        assert result["score"] == 0
        assert all(f["correct_answer"] is None for f in result["feedback"])
        assert all(f["explanation"] is None for f in result["feedback"])
        assert "FastAPI is one" not in json.dumps(result)
    beyond = await _start(client, h, quiz)
    assert beyond.status_code == 409
    assert beyond.json()["type"].endswith("/attempt-limit-reached")
    assert len(await _attempts_stored(session, quiz_id=quiz["id"])) == 2
    view = (await client.get(f"{API}/lessons/{world['lessons'][0].id}/quiz", headers=h)).json()
    assert view["attempts_left"] == 0
    assert view["best_percent"] == 0
    course = world["course"]
    progress = (await client.get(f"{API}/courses/{course.id}/progress", headers=h)).json()
    assert progress["completed_lessons"] == 0
    assert progress["quiz_score"] == 0
    # The teacher always sees the key of a learner's attempt.
    attempt_id = view["open_attempt_id"] or (await _attempts_stored(session, number=1))[0].id
    teacher = await client.get(f"{API}/attempts/{attempt_id}", headers=world["h"]["teacher"])
    assert teacher.status_code == 200
    assert all(f["correct_answer"] is not None for f in teacher.json()["feedback"])


async def test_another_learners_attempt_is_403(
    client: httpx.AsyncClient, world: dict, session: AsyncSession
) -> None:
    quiz = await _quiz(client, world)
    attempt = (await _start(client, world["h"]["student"], quiz)).json()
    for who in ("other", "outsider", "other_teacher"):
        read = await client.get(f"{API}/attempts/{attempt['id']}", headers=world["h"][who])
        assert read.status_code == 403, who
        assert read.json()["type"].endswith("/not-your-attempt")
        write = await _submit(client, world["h"][who], attempt["id"], right_answers(quiz))
        assert write.status_code == 403, who
    stored = (await _attempts_stored(session, id=attempt["id"]))[0]
    assert stored.submitted_at is None
    assert stored.score is None
    assert (
        await client.get(f"{API}/attempts/999999", headers=world["h"]["student"])
    ).status_code == 404


async def test_not_enrolled_cannot_start(client: httpx.AsyncClient, world: dict) -> None:
    quiz = await _quiz(client, world)
    response = await _start(client, world["h"]["outsider"], quiz)
    assert response.status_code == 403
    assert response.json()["type"].endswith("/enrollment-required")
    lesson_view = await client.get(
        f"{API}/lessons/{world['lessons'][0].id}/quiz", headers=world["h"]["outsider"]
    )
    assert lesson_view.status_code == 403
    assert (await _start(client, {}, quiz)).status_code == 401
    unknown = await client.post(f"{API}/quizzes/999999/attempts", headers=world["h"]["student"])
    assert unknown.status_code == 404


async def test_bad_answers_are_422_and_store_nothing(
    client: httpx.AsyncClient, world: dict, session: AsyncSession
) -> None:
    h = world["h"]["student"]
    quiz = await _quiz(client, world)
    other_quiz = await make_quiz(client, world["h"]["teacher"], world["lessons"][1].id)
    attempt = (await _start(client, h, quiz)).json()
    q = quiz["questions"]
    foreign_option = other_quiz["questions"][0]["options"][0]["id"]
    cases = [
        [{"question_id": other_quiz["questions"][0]["id"], "option_ids": [foreign_option]}],
        [{"question_id": q[0]["id"], "option_ids": [foreign_option]}],
        [{"question_id": q[0]["id"], "option_ids": [o["id"] for o in q[0]["options"][:2]]}],
        [{"question_id": q[0]["id"], "text": "FastAPI"}],
        [{"question_id": q[2]["id"], "number": 1}],
        [{"question_id": q[3]["id"], "text": "3.14"}],
        [{"question_id": q[3]["id"], "number": 3.14}, {"question_id": q[3]["id"], "number": 3}],
        [{"question_id": 0, "text": "x"}],
        [{"question_id": q[2]["id"], "text": "x" * 201}],
        [{"question_id": q[2]["id"], "text": "GET", "extra": 1}],
    ]
    for answers in cases:
        response = await _submit(client, h, attempt["id"], answers)
        assert response.status_code == 422, (answers, response.text)
    nan = await client.post(
        f"{API}/attempts/{attempt['id']}/submission",
        content=b'{"answers": [{"question_id": %d, "number": NaN}]}' % q[3]["id"],
        headers={**h, "Content-Type": "application/json"},
    )
    assert nan.status_code == 422
    stored = (await _attempts_stored(session, id=attempt["id"]))[0]
    assert stored.submitted_at is None
    assert stored.answers is None
    ok = await _submit(client, h, attempt["id"], right_answers(quiz))
    assert ok.status_code == 200
    assert ok.json()["percent"] == 100


async def test_time_limit_is_enforced_by_the_server(
    client: httpx.AsyncClient, world: dict, session: AsyncSession
) -> None:
    h = world["h"]["student"]
    quiz = await _quiz(client, world, time_limit_seconds=60, attempt_limit=2)
    attempt = (await _start(client, h, quiz)).json()
    assert attempt["deadline_at"] is not None
    # The clock moves past the deadline and its grace period.
    await session.execute(
        update(QuizAttempt)
        .where(QuizAttempt.id == attempt["id"])
        .values(deadline_at=utcnow() - timedelta(seconds=6))
    )
    late = await _submit(client, h, attempt["id"], right_answers(quiz))
    assert late.status_code == 409
    assert late.json()["type"].endswith("/attempt-expired")
    stored = (await _attempts_stored(session, id=attempt["id"]))[0]
    assert stored.submitted_at is None
    assert stored.score is None
    view = (await client.get(f"{API}/attempts/{attempt['id']}", headers=h)).json()
    assert view["status"] == "expired"
    second = await _start(client, h, quiz)
    assert second.status_code == 201
    assert second.json()["number"] == 2
    assert (await _start(client, h, quiz)).json()["id"] == second.json()["id"]
    within = await _submit(client, h, second.json()["id"], right_answers(quiz))
    assert within.status_code == 200


async def test_deleting_the_quiz_unblocks_completion(
    client: httpx.AsyncClient, world: dict, session: AsyncSession
) -> None:
    quiz = await _quiz(client, world)
    course, lesson = world["course"], world["lessons"][0]
    gone = await client.delete(f"{API}/quizzes/{quiz['id']}", headers=world["h"]["teacher"])
    assert gone.status_code == 204
    done = await client.put(
        f"{API}/courses/{course.id}/lessons/{lesson.id}/completion", headers=world["h"]["student"]
    )
    assert done.status_code == 200
    count = await session.scalar(select(func.count(QuizAttempt.id)))
    assert count == 0
