"""A course with a quiz of every question kind, built through the teacher API."""

from __future__ import annotations

from typing import Any

import httpx

API = "/api/v1"

QUESTIONS: list[dict[str, Any]] = [
    {
        "kind": "single_choice",
        "prompt": "Which is a Python web framework?",
        "points": 2,
        "explanation": "FastAPI is one.",
        "options": [
            {"text": "FastAPI", "is_correct": True},
            {"text": "PostgreSQL"},
            {"text": "Redis"},
        ],
    },
    {
        "kind": "multiple_choice",
        "prompt": "Which are databases?",
        "points": 3,
        "options": [
            {"text": "SQLite", "is_correct": True},
            {"text": "PostgreSQL", "is_correct": True},
            {"text": "Jinja2"},
        ],
    },
    {
        "kind": "short_text",
        "prompt": "Name the HTTP method that reads.",
        "accepted_answers": ["GET", "HTTP GET"],
    },
    {
        "kind": "number",
        "prompt": "What is pi to two places?",
        "number_value": 3.14,
        "number_tolerance": 0.005,
        "points": 4,
    },
]


async def make_quiz(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    lesson_id: int,
    *,
    questions: list[dict[str, Any]] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/lessons/{lesson_id}/quiz",
        json={"title": "Check yourself", "pass_percent": 60, **settings},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    quiz = response.json()
    for question in QUESTIONS if questions is None else questions:
        added = await client.post(
            f"{API}/quizzes/{quiz['id']}/questions", json=question, headers=headers
        )
        assert added.status_code == 201, added.text
        quiz = added.json()
    return quiz


def right_answers(quiz: dict[str, Any]) -> list[dict[str, Any]]:
    """Correct answers to every question of a teacher's view of the quiz."""
    answers: list[dict[str, Any]] = []
    for q in quiz["questions"]:
        if q["kind"] in ("single_choice", "multiple_choice"):
            ids = [o["id"] for o in q["options"] if o["is_correct"]]
            answers.append({"question_id": q["id"], "option_ids": ids})
        elif q["kind"] == "short_text":
            answers.append({"question_id": q["id"], "text": q["accepted_answers"][0].lower()})
        else:
            answers.append({"question_id": q["id"], "number": q["number_value"]})
    return answers
