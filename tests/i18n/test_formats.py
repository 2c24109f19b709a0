"""The language rule, plural forms and the locale's formats (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from campus.errors import ValidationFailed
from campus.kit import i18n
from campus.kit.i18n import FileSize, choose_locale, negotiate, use_locale


def plain(text: str) -> str:
    """``text`` with CLDR's no-break and narrow no-break spaces as plain spaces."""
    return text.replace("\xa0", " ").replace("\u202f", " ")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),
        ("en-GB,en;q=0.9,ru;q=0.8", "en"),
        ("de-DE, ru;q=0.5", "ru"),
        ("en;q=0.2, ru;q=0.9", "ru"),
        ("ru;q=0, en", "en"),
        ("de, fr", None),
        ("*", None),
        ("", None),
        (None, None),
        ("ru;q=abc", "ru"),
        ("x" * 5000, None),
    ],
)
def test_accept_language_is_negotiated(header: str | None, expected: str | None) -> None:
    assert negotiate(header) == expected


def test_saved_then_cookie_then_accept_language_then_english() -> None:
    assert choose_locale("ru", "en", "en") == "ru"
    assert choose_locale(None, "ru", "en") == "ru"
    assert choose_locale(None, None, "ru-RU") == "ru"
    assert choose_locale(None, None, "de") == "en"
    assert choose_locale("xx", "yy", None) == "en"  # unknown values are ignored


@pytest.mark.parametrize(
    ("n", "russian"),
    [
        (0, "0 курсов"),
        (1, "1 курс"),
        (2, "2 курса"),
        (4, "4 курса"),
        (5, "5 курсов"),
        (11, "11 курсов"),
        (12, "12 курсов"),
        (21, "21 курс"),
        (22, "22 курса"),
        (25, "25 курсов"),
        (111, "111 курсов"),
        (1001, "1 001 курс"),
    ],
)
def test_russian_plural_forms(n: int, russian: str) -> None:
    with use_locale("ru"):
        assert plain(i18n.counted(n, "course")) == russian
    with use_locale("en"):
        assert i18n.counted(n, "course") == f"{n:,} course{'' if n == 1 else 's'}"


def test_counted_without_a_catalog_entry_stays_english() -> None:
    with use_locale("ru"):
        assert i18n.counted(2, "walrus", "walruses") == "2 walruses"


def test_prices_dates_and_relative_times_follow_the_locale() -> None:
    moment = datetime(2026, 12, 2, 14, 5, tzinfo=UTC)
    with use_locale("ru"):
        assert plain(i18n.format_money(199000, "RUB")) == "1 990,00 ₽"
        assert plain(i18n.format_money(1990, "USD")) == "19,90 $"
        assert plain(i18n.format_money(0, "RUB")) == "Бесплатно"
        assert plain(i18n.format_date(moment)) == "2 дек. 2026 г."
        assert plain(i18n.format_date(moment, "long")) == "2 декабря 2026 г."
        assert plain(i18n.format_datetime(moment)) == "2 дек. 2026 г., 14:05"
        assert (
            plain(i18n.format_relative(moment + timedelta(hours=2), now=moment)) == "через 2 часа"
        )
        assert plain(i18n.format_relative(moment - timedelta(days=5), now=moment)) == "5 дней назад"
        assert plain(i18n.format_duration(timedelta(hours=48))) == "48 часов"
        assert plain(i18n.format_duration(timedelta(minutes=90))) == "90 минут"
        assert plain(i18n.format_number(1234567)) == "1 234 567"
    with use_locale("en"):
        assert plain(i18n.format_money(1990, "USD")) == "$19.90"
        assert plain(i18n.format_money(150000, "JPY")) == "¥1,500"
        assert plain(i18n.format_money(0, "USD")) == "Free"
        assert plain(i18n.format_date(moment)) == "Dec 2, 2026"
        assert plain(i18n.format_datetime(moment, year=False)) == "Dec 2, 2:05 PM"
        assert plain(i18n.format_relative(moment + timedelta(hours=2), now=moment)) == "in 2 hours"
        assert plain(i18n.format_duration(timedelta(hours=1))) == "1 hour"


def test_a_naive_datetime_is_read_as_utc() -> None:
    with use_locale("en"):
        assert i18n.format_date(datetime(2026, 1, 31, 23, 30)) == "Jan 31, 2026"


def test_the_locale_in_progress_is_restored() -> None:
    assert i18n.current_locale() == "en"
    with use_locale("ru"):
        assert i18n.gettext("Sign in") == "Войти"
        with use_locale("xx"):  # unknown: English
            assert i18n.gettext("Sign in") == "Sign in"
        assert i18n.current_locale() == "ru"
    assert i18n.current_locale() == "en"


def test_the_api_schema_lists_the_locales() -> None:
    from typing import get_args

    from campus.accounts.schemas import Locale

    assert set(get_args(Locale)) == set(i18n.LOCALES)


def test_an_errors_template_is_translated_then_filled_in_the_locales_formats() -> None:
    """The exception keeps the marked template and its values apart: its ``detail`` is
    the API's English, ``localized()`` the page's (numbers and sizes in its formats)."""
    too_big = ValidationFailed(
        "The image is %(size)s pixels; at most %(megapixels)s megapixels are accepted.",
        variables={"size": "9000x9000", "megapixels": 40.5},
    )
    quota = ValidationFailed(
        "Your uploads would take %(total)s, over your quota of %(quota)s. "
        "Delete files you no longer use, then try again.",
        variables={"total": FileSize(3 * 1024 * 1024), "quota": FileSize(2048)},
    )
    with use_locale("ru"):
        assert too_big.detail.startswith("The image is 9000x9000 pixels; at most 40.5 mega")
        assert plain(too_big.localized()) == (
            "Изображение размером 9000x9000 пикселей слишком большое: "
            "принимается не больше 40,5 Мп."
        )
        assert plain(quota.localized()).startswith(
            "Ваши файлы заняли бы 3 МБ — больше вашей квоты в 2 кБ."
        )
        assert "3 MB, over your quota of 2 kB." in quota.detail
        unmarked = ValidationFailed("Nobody translated this.")
        assert unmarked.localized() == unmarked.detail == "Nobody translated this."
