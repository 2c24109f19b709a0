"""Languages: the message catalogs, the locale of the request in progress, and the locale's
formats of dates, relative times, numbers and prices (Babel).

- **Catalogs** are the ``.po`` files under ``campus/locale/<locale>/LC_MESSAGES/``; each is
  compiled in memory the first time it is needed (``read_po`` then ``write_mo`` into a
  buffer), once per process, so there is no build step and no ``.mo`` in the repository.
  English is the source language: its catalog lists every message (``pybabel update``),
  and an empty translation shows the message itself.
- **The locale in progress** is a context variable: the HTTP layer sets it for each
  request (``campus.http.middleware``: the visitor's cookie or ``Accept-Language``; then
  the page layer: the signed-in user's saved preference first, see :func:`choose_locale`),
  and a mail is rendered under the recipient's locale (:func:`use_locale`). ``gettext``
  and the formats below read it; the JSON API stays English.
- **Marking**: ``gettext("Signed in as %(name)s.", name=...)`` in Python code that runs
  in a request; :func:`N_` marks a module constant for extraction and ``gettext(CONSTANT)``
  translates it where it is shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import Locale, dates, numbers
from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from babel.units import format_unit
from jinja2 import Environment

DEFAULT_LOCALE = "en"
# The languages Campus speaks, each named in itself (the switcher and /account list them).
LOCALES: dict[str, str] = {"en": "English", "ru": "Русский"}
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"

_current: ContextVar[str] = ContextVar("campus_locale", default=DEFAULT_LOCALE)


# --- which language ----------------------------------------------------------------------


def supported(value: str | None) -> str | None:
    """``value`` if Campus speaks it (``"ru"``), else None."""
    return value if value in LOCALES else None


_ACCEPT_ITEM = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q=([0-9.]+))?")


def negotiate(accept_language: str | None) -> str | None:
    """The best locale Campus speaks for an ``Accept-Language`` header (Babel's
    negotiation over the header's languages by quality), or None."""
    if not accept_language:
        return None
    wanted: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language[:1000].split(",")[:20]):
        match = _ACCEPT_ITEM.match(item)
        if match is None or match.group(1) == "*":
            continue
        try:
            quality = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if quality > 0:
            wanted.append((-quality, position, match.group(1).replace("-", "_")))
    preferred = [tag for _, _, tag in sorted(wanted)]
    return negotiate_locale(preferred, list(LOCALES), sep="_")


def choose_locale(saved: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The one rule: the account's saved preference, else the visitor's cookie (the
    footer's switcher), else ``Accept-Language``, else English."""
    return supported(saved) or supported(cookie) or negotiate(accept_language) or DEFAULT_LOCALE


def current_locale() -> str:
    return _current.get()


def set_locale(locale: str | None) -> Token[str]:
    """Make ``locale`` (or English) the locale in progress; reset it with the token."""
    return _current.set(supported(locale) or DEFAULT_LOCALE)


def reset_locale(token: Token[str]) -> None:
    _current.reset(token)


@contextmanager
def use_locale(locale: str | None) -> Iterator[str]:
    """Within the block, ``locale`` (e.g. a mail's recipient's) is the locale in progress."""
    token = set_locale(locale)
    try:
        yield current_locale()
    finally:
        reset_locale(token)


# --- messages ---------------------------------------------------------------------------------


def catalog_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog of ``locale`` (from its ``.po``, in memory, once)."""
    path = catalog_path(locale)
    if supported(locale) is None or not path.is_file():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def warm_up() -> None:
    """Compile every catalog and load the locales' CLDR data (about a second, once per
    process): ``campus.main`` runs this in a thread at start-up."""
    for locale in LOCALES:
        translations(locale)
        with use_locale(locale):
            format_datetime(datetime.now(UTC))


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Mark ``message`` for extraction only; ``gettext(message)`` translates it later."""
    return message


class FileSize(int):
    """A number of bytes that a message shows as a size: ``2 kB`` / ``2 кБ``."""


def _shown(value: object) -> object:
    """A message's variable in the locale's format: a :class:`FileSize` as a size, a
    number with the locale's digits (``1 234``, ``0,5``), anything else as it is."""
    if isinstance(value, FileSize):
        return format_filesize(value)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return format_number(value)
    return value


def translate(message: str, variables: Mapping[str, object] | None = None) -> str:
    """A marked message template (``"The file is larger than %(limit)s."``) in the locale
    in progress, then its ``variables`` filled in, in the locale's formats (``_shown``)."""
    text = translations(current_locale()).gettext(message)
    return text % {name: _shown(value) for name, value in variables.items()} if variables else text


def english(message: str, variables: Mapping[str, object] | None = None) -> str:
    """``message`` filled in as the English API says it, whatever the locale in progress
    (English is the source language: the message is its own text)."""
    if not variables:
        return message
    with use_locale(DEFAULT_LOCALE):
        return translate(message, variables)


def labelled(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(value, label)`` choices (labels marked with :func:`N_`) in the locale in progress."""
    return [(value, gettext(label)) for value, label in items]


def gettext(message: str, **variables: object) -> str:
    """``message`` in the locale in progress, ``%(name)s`` filled from ``variables``."""
    text = translations(current_locale()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    """The plural form for ``n`` (Russian has three: 1 курс, 2 курса, 5 курсов);
    ``%(num)s`` is ``n`` in the locale's digits."""
    text = translations(current_locale()).ngettext(singular, plural, n)
    variables.setdefault("num", format_number(n))
    return text % variables


# --- formats ----------------------------------------------------------------------------------


def _locale() -> Locale:
    return Locale.parse(current_locale())


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def format_date(value: date | datetime | None, format: str = "medium") -> str:
    """``Dec 2, 2026`` / ``2 дек. 2026 г.`` (``long``: ``December 2, 2026`` /
    ``2 декабря 2026 г.``); datetimes are read in UTC."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _aware(value).astimezone(UTC).date()
    return dates.format_date(value, format=format, locale=_locale())


def format_datetime(value: datetime | None, *, year: bool = True) -> str:
    """``Dec 2, 2026, 2:05 PM`` / ``2 дек. 2026 г., 14:05`` in UTC (``year=False``:
    ``Dec 2, 2:05 PM`` / ``2 дек., 14:05``)."""
    if value is None:
        return ""
    moment = _aware(value).astimezone(UTC)
    locale = _locale()
    day = (
        dates.format_date(moment.date(), "medium", locale=locale)
        if year
        else dates.format_skeleton("MMMd", moment, locale=locale)
    )
    time = dates.format_time(moment, "short", tzinfo=UTC, locale=locale)
    pattern = str(locale.datetime_formats["medium"])
    return pattern.replace("{1}", day).replace("{0}", time)


def format_time(value: datetime | None, *, seconds: bool = False) -> str:
    """``2:05 PM`` / ``14:05`` in UTC (``seconds``: ``2:05:09 PM`` / ``14:05:09``)."""
    if value is None:
        return ""
    return dates.format_time(
        _aware(value), "medium" if seconds else "short", tzinfo=UTC, locale=_locale()
    )


def format_relative(value: datetime | None, now: datetime | None = None) -> str:
    """How far ``value`` is from now: ``in 2 hours`` / ``через 2 часа``, ``3 days ago`` /
    ``3 дня назад``."""
    if value is None:
        return ""
    delta: timedelta = _aware(value) - (now or datetime.now(UTC))
    return dates.format_timedelta(
        delta, granularity="minute", threshold=0.9, add_direction=True, locale=_locale()
    )


def format_duration(value: timedelta) -> str:
    """How long, in whole hours when it is (``2 hours`` / ``2 часа``), else in minutes."""
    minutes = int(value.total_seconds() // 60)
    if minutes % 60 or not minutes:
        return ngettext("%(num)s minute", "%(num)s minutes", minutes)
    return ngettext("%(num)s hour", "%(num)s hours", minutes // 60)


def format_number(value: int | float | Decimal | None) -> str:
    """``1,234`` / ``1 234``."""
    return numbers.format_decimal(value or 0, locale=_locale())


def format_filesize(size: int | None) -> str:
    """Bytes for people, in binary steps: ``2048`` is "2 kB" ("2 кБ"), ``3_500_000``
    "3.3 MB" ("3,3 МБ")."""
    n = size or 0
    if n < 1024:
        return str(format_unit(n, "digital-byte", length="long", locale=_locale()))
    if n < 1024 * 1024:
        value: float = round(n / 1024)
        unit = "digital-kilobyte"
    else:
        value, unit = round(n / (1024 * 1024), 1), "digital-megabyte"
    return str(format_unit(value, unit, length="short", locale=_locale()))


def format_money(cents: int | None, currency: str | None = "USD") -> str:
    """A price in hundredths of the currency (zero-decimal currencies too: Campus keeps
    ``JPY 1500`` as 150000): ``$19.90`` / ``19,90 $``, ``1 990,00 ₽``; nothing is free."""
    if not cents:
        return gettext("Free")
    code = (currency or "USD").upper()
    amount = Decimal(cents) / 100
    try:
        return numbers.format_currency(amount, code, locale=_locale())
    except (ValueError, numbers.UnknownCurrencyError):
        return f"{format_number(amount)} {code}"


# --- templates ---------------------------------------------------------------------------------

# The nouns templates count with ``counted``, each with its plural forms (1 урок, 2 урока,
# 5 уроков): written out so that ``pybabel extract`` finds them.
COUNTED: dict[str, Callable[[int], str]] = {
    "lesson": lambda n: ngettext("%(num)s lesson", "%(num)s lessons", n),
    "student": lambda n: ngettext("%(num)s student", "%(num)s students", n),
    "course": lambda n: ngettext("%(num)s course", "%(num)s courses", n),
    "quiz": lambda n: ngettext("%(num)s quiz", "%(num)s quizzes", n),
    "question": lambda n: ngettext("%(num)s question", "%(num)s questions", n),
    "point": lambda n: ngettext("%(num)s point", "%(num)s points", n),
    "task": lambda n: ngettext("%(num)s task", "%(num)s tasks", n),
    "device": lambda n: ngettext("%(num)s device", "%(num)s devices", n),
    "user": lambda n: ngettext("%(num)s user", "%(num)s users", n),
    "notification": lambda n: ngettext("%(num)s notification", "%(num)s notifications", n),
}


def counted(count: int | None, noun: str, plural: str | None = None) -> str:
    """``3 | counted("lesson")`` is "3 lessons" ("3 урока"), in the locale's plural form
    (``COUNTED``). ``plural`` is the English plural of a noun not listed there, which is
    then shown in English."""
    n = count or 0
    known = COUNTED.get(noun)
    if known is not None:
        return known(n)
    return f"{format_number(n)} {noun if n == 1 else (plural or noun + 's')}"


def _gettext(message: str) -> str:
    return translations(current_locale()).gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale()).ngettext(singular, plural, n)


def _pgettext(context: str, message: str) -> str:
    return str(translations(current_locale()).pgettext(context, message))


def _npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return str(translations(current_locale()).npgettext(context, singular, plural, n))


def install_jinja(env: Environment) -> None:
    """The i18n extension (newstyle gettext: ``_("Hi %(name)s", name=...)`` escapes its
    variables) reading the locale in progress (``campus.kit.i18n.current_locale``), and
    the locale's formats as filters."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True  # as babel.cfg extracts them
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext,
        ngettext=_ngettext,
        newstyle=True,
        pgettext=_pgettext,
        npgettext=_npgettext,
    )
    env.filters["date"] = format_date
    env.filters["datetime"] = format_datetime
    env.filters["time"] = format_time
    env.filters["relative"] = format_relative
    env.filters["number"] = format_number
    env.filters["duration"] = format_duration
    env.filters["money"] = format_money
    env.filters["counted"] = counted
