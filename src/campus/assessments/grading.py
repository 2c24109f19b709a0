"""Grading of one answer against one question: pure functions, no I/O.

Choice questions are all-or-nothing: a single-choice answer scores when its one option is
correct; a multiple-choice answer scores when it picks exactly the set of correct options.
Short text matches any accepted answer after trimming surrounding whitespace, exactly or
case-folded (``str.casefold``, so ``Straße`` matches ``STRASSE``), as the question says.
A number scores when it is within the question's tolerance of the expected value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from campus.models.assessments import QuestionKind


@dataclass(frozen=True, slots=True)
class Answer:
    """A learner's answer to one question, already checked against the question's kind."""

    question_id: int
    option_ids: tuple[int, ...] = ()
    text: str | None = None
    number: float | None = None


@dataclass(frozen=True, slots=True)
class Key:
    """What a question accepts (its correct options, texts or number)."""

    kind: QuestionKind
    points: int
    correct_option_ids: frozenset[int] = frozenset()
    accepted_answers: tuple[str, ...] = ()
    case_sensitive: bool = False
    number_value: float | None = None
    number_tolerance: float = 0.0


def _normal(text: str, case_sensitive: bool) -> str:
    text = text.strip()
    return text if case_sensitive else text.casefold()


def is_correct(key: Key, answer: Answer | None) -> bool:
    if answer is None:
        return False
    match key.kind:
        case QuestionKind.SINGLE_CHOICE:
            return len(answer.option_ids) == 1 and answer.option_ids[0] in key.correct_option_ids
        case QuestionKind.MULTIPLE_CHOICE:
            return frozenset(answer.option_ids) == key.correct_option_ids
        case QuestionKind.SHORT_TEXT:
            if answer.text is None:
                return False
            given = _normal(answer.text, key.case_sensitive)
            return any(_normal(a, key.case_sensitive) == given for a in key.accepted_answers)
        case QuestionKind.NUMBER:
            if answer.number is None or key.number_value is None:
                return False
            if not math.isfinite(answer.number):
                return False
            # A small relative epsilon so 0.1 + 0.2 within a tolerance of 0 still equals 0.3.
            slack = key.number_tolerance + 1e-9 * max(1.0, abs(key.number_value))
            return abs(answer.number - key.number_value) <= slack
    return False  # pragma: no cover - every kind is matched above


@dataclass(frozen=True, slots=True)
class Grade:
    score: int
    max_score: int
    percent: int
    passed: bool
    results: list[dict[str, object]]


def grade(keys: dict[int, Key], answers: Iterable[Answer], *, pass_percent: int) -> Grade:
    """Grade every question of the quiz; an unanswered question scores nothing."""
    by_question = {a.question_id: a for a in answers}
    results: list[dict[str, object]] = []
    score = max_score = 0
    for question_id, key in keys.items():
        correct = is_correct(key, by_question.get(question_id))
        awarded = key.points if correct else 0
        score += awarded
        max_score += key.points
        results.append(
            {
                "question_id": question_id,
                "points": key.points,
                "awarded": awarded,
                "correct": correct,
            }
        )
    percent = score * 100 // max_score if max_score else 0
    return Grade(score, max_score, percent, max_score > 0 and percent >= pass_percent, results)
