"""Grading of every question kind (pure functions)."""

from __future__ import annotations

from campus.assessments.grading import Answer, Key, grade, is_correct
from campus.models.assessments import QuestionKind

SINGLE = Key(QuestionKind.SINGLE_CHOICE, 2, correct_option_ids=frozenset({10}))
MULTI = Key(QuestionKind.MULTIPLE_CHOICE, 3, correct_option_ids=frozenset({1, 2}))
TEXT = Key(QuestionKind.SHORT_TEXT, 1, accepted_answers=("Straße", "street"))
EXACT = Key(QuestionKind.SHORT_TEXT, 1, accepted_answers=("NaCl",), case_sensitive=True)
NUMBER = Key(QuestionKind.NUMBER, 1, number_value=3.14, number_tolerance=0.01)
ZERO_TOLERANCE = Key(QuestionKind.NUMBER, 1, number_value=0.3)


def test_single_choice() -> None:
    assert is_correct(SINGLE, Answer(1, option_ids=(10,)))
    assert not is_correct(SINGLE, Answer(1, option_ids=(11,)))
    assert not is_correct(SINGLE, Answer(1, option_ids=(10, 11)))
    assert not is_correct(SINGLE, Answer(1))
    assert not is_correct(SINGLE, None)


def test_multiple_choice_is_all_or_nothing() -> None:
    assert is_correct(MULTI, Answer(1, option_ids=(2, 1)))
    assert not is_correct(MULTI, Answer(1, option_ids=(1,)))
    assert not is_correct(MULTI, Answer(1, option_ids=(1, 2, 3)))
    assert not is_correct(MULTI, Answer(1, option_ids=()))


def test_short_text_case_folded_and_exact() -> None:
    assert is_correct(TEXT, Answer(1, text="  STRASSE "))
    assert is_correct(TEXT, Answer(1, text="Street"))
    assert not is_correct(TEXT, Answer(1, text="road"))
    assert not is_correct(TEXT, Answer(1, text=None))
    assert is_correct(EXACT, Answer(1, text=" NaCl"))
    assert not is_correct(EXACT, Answer(1, text="nacl"))


def test_number_with_tolerance() -> None:
    assert is_correct(NUMBER, Answer(1, number=3.14))
    assert is_correct(NUMBER, Answer(1, number=3.149))
    assert is_correct(NUMBER, Answer(1, number=3.13))
    assert not is_correct(NUMBER, Answer(1, number=3.16))
    assert not is_correct(NUMBER, Answer(1, number=float("nan")))
    assert is_correct(ZERO_TOLERANCE, Answer(1, number=0.1 + 0.2))
    assert not is_correct(ZERO_TOLERANCE, Answer(1, number=0.31))


def test_grade_sums_points_and_applies_the_pass_mark() -> None:
    keys = {1: SINGLE, 2: MULTI, 3: TEXT, 4: NUMBER}  # 7 points
    result = grade(
        keys,
        [Answer(1, option_ids=(10,)), Answer(2, option_ids=(1, 2)), Answer(4, number=0.0)],
        pass_percent=70,
    )
    assert (result.score, result.max_score, result.percent) == (5, 7, 71)
    assert result.passed
    assert [r["awarded"] for r in result.results] == [2, 3, 0, 0]
    assert not grade(keys, [Answer(1, option_ids=(10,))], pass_percent=70).passed
    assert not grade({}, [], pass_percent=0).passed  # an empty quiz is never passed
