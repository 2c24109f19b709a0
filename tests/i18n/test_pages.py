"""Pages and mails in the reader's language (both databases): the rule (saved preference,
then the switcher's cookie, then ``Accept-Language``, then English), ``<html lang>``, the
footer's switcher (CSRF, same-site redirects only), ``/account`` and ``/auth/me``,
translated form errors and flashes, plural forms on a page, and mail in the recipient's
language. The JSON API stays English."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import User
from campus.models.courses import Lesson
from tests.accounts.conftest import Outbox, outbox  # noqa: F401 - the fixture
from tests.factories import DEFAULT_PASSWORD, auth_headers, create_course, create_user, enroll
from tests.pagehelpers import HTML, csrf_from, page_csrf, post_form, sign_in
from tests.tasks.helpers import add_task

RU = {**HTML, "Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}
EN = {**HTML, "Accept-Language": "en-US,en;q=0.9"}
ME = "/api/v1/auth/me"


def lang(html: str) -> str:
    match = re.search(r'<html lang="(\w+)">', html)
    assert match, "no <html lang>"
    return match.group(1)


async def test_a_visitor_reads_the_browser_language(client: httpx.AsyncClient) -> None:
    russian = await client.get("/login", headers=RU)
    assert lang(russian.text) == "ru"
    assert "<h1>Войти</h1>" in russian.text
    assert "С возвращением!" in russian.text
    assert "Впервые в Campus?" in russian.text  # the header and the footer too
    assert "Campus — учебная платформа с открытым исходным кодом." in russian.text
    english = await client.get("/login", headers=EN)
    assert lang(english.text) == "en"
    assert "<h1>Sign in</h1>" in english.text
    unknown = await client.get("/login", headers={**HTML, "Accept-Language": "de-DE"})
    assert lang(unknown.text) == "en"
    assert lang((await client.get("/login", headers=HTML)).text) == "en"


async def test_the_cookie_beats_accept_language(client: httpx.AsyncClient) -> None:
    client.cookies.set("campus_locale", "en")
    assert lang((await client.get("/login", headers=RU)).text) == "en"
    client.cookies.set("campus_locale", "ru")
    assert lang((await client.get("/login", headers=EN)).text) == "ru"
    client.cookies.set("campus_locale", "klingon")  # not ours: ignored
    assert lang((await client.get("/login", headers=RU)).text) == "ru"


async def test_the_saved_preference_beats_cookie_and_header(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings, locale="ru")
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    client.cookies.set("campus_locale", "en")
    board = await client.get("/tasks", headers=EN)
    assert lang(board.text) == "ru"
    assert "<h1>Мои задачи</h1>" in board.text
    assert ">Задачи</a>" in board.text  # the header's navigation
    account = await client.get("/account", headers=EN)
    assert "<h1>Учётная запись</h1>" in account.text
    assert "Студент" in account.text


async def test_the_switcher_sets_the_cookie_and_goes_back(client: httpx.AsyncClient) -> None:
    token = await page_csrf(client, "/forgot-password")
    switched = await client.post(
        "/language",
        data={"locale": "ru", "next": "/forgot-password?sent=1", "csrf_token": token},
        headers=EN,
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == "/forgot-password?sent=1"
    assert "campus_locale=ru" in switched.headers["set-cookie"]
    page = await client.get("/forgot-password", headers=EN)
    assert lang(page.text) == "ru"
    assert "<h1>Забыли пароль?</h1>" in page.text
    # The footer offers both languages, this one marked, and returns to this page.
    assert 'name="next" value="/forgot-password"' in page.text
    assert 'value="ru" lang="ru" class="button button-text button-small" aria-current="true"' in (
        page.text
    )


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "",
    ],
)
async def test_the_switcher_never_redirects_off_site(
    client: httpx.AsyncClient, target: str
) -> None:
    token = await page_csrf(client, "/login")
    switched = await client.post(
        "/language", data={"locale": "ru", "next": target, "csrf_token": token}, headers=HTML
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == "/"


async def test_the_switcher_needs_csrf_and_a_known_language(client: httpx.AsyncClient) -> None:
    refused = await client.post("/language", data={"locale": "ru", "next": "/"}, headers=HTML)
    assert refused.status_code == 403
    assert "set-cookie" not in refused.headers or "campus_locale" not in refused.headers.get(
        "set-cookie", ""
    )
    token = await page_csrf(client, "/login")
    ignored = await client.post(
        "/language", data={"locale": "de", "next": "/login", "csrf_token": token}, headers=HTML
    )
    assert ignored.status_code == 303
    assert ignored.headers["location"] == "/login"
    assert "campus_locale" not in ignored.headers.get("set-cookie", "")


async def test_the_switcher_saves_a_signed_in_users_language(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    switched = await post_form(
        client, "/language", {"locale": "ru", "next": "/tasks"}, from_page="/tasks"
    )
    assert switched.headers["location"] == "/tasks"
    await session.refresh(user)
    assert user.locale == "ru"
    client.cookies.delete("campus_locale")  # the account remembers it without the cookie
    assert lang((await client.get("/tasks", headers=EN)).text) == "ru"


async def test_account_page_language_select(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    saved = await post_form(client, "/account/language", {"locale": "ru"}, from_page="/account")
    assert saved.status_code == 303
    account = await client.get("/account", headers=EN)
    assert "Язык сохранён." in account.text
    assert '<option value="ru" selected>Русский</option>' in account.text
    await session.refresh(user)
    assert user.locale == "ru"
    # Empty: no saved language; the browser's (Accept-Language) again.
    await post_form(client, "/account/language", {"locale": ""}, from_page="/account")
    await session.refresh(user)
    assert user.locale is None
    client.cookies.delete("campus_locale")
    assert lang((await client.get("/account", headers=EN)).text) == "en"


async def test_me_reads_and_changes_the_locale(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    headers = await auth_headers(session, settings, user)
    assert (await client.get(ME, headers=headers)).json()["locale"] is None
    changed = await client.patch(ME, json={"locale": "ru"}, headers=headers)
    assert changed.status_code == 200
    assert changed.json()["locale"] == "ru"
    wrong = await client.patch(ME, json={"locale": "de"}, headers=headers)
    assert wrong.status_code == 422
    cleared = await client.patch(ME, json={"locale": None}, headers=headers)
    assert cleared.json()["locale"] is None
    # Other changes leave it alone.
    await client.patch(ME, json={"locale": "ru"}, headers=headers)
    kept = await client.patch(ME, json={"full_name": "Renamed"}, headers=headers)
    assert kept.json()["locale"] == "ru"


async def test_the_api_stays_english(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    russian = {"Accept-Language": "ru"}
    anonymous = await client.get(ME, headers=russian)
    assert anonymous.status_code == 401
    user = await create_user(session, settings, locale="ru")
    headers = {**await auth_headers(session, settings, user), **russian}
    invalid = await client.patch(ME, json={"full_name": ""}, headers=headers)
    assert invalid.status_code == 422
    for problem in (anonymous.json(), invalid.json()):
        text = f"{problem['title']} {problem['detail']}"
        assert not re.search("[а-яА-Я]", text), text


async def test_the_error_page_is_russian_and_the_problem_stays_english(
    client: httpx.AsyncClient,
) -> None:
    """One request, two answers: the browser's page in its language (title by status,
    the service's marked message translated), the problem+json in English."""
    missing = "/courses/987654"
    page = await client.get(missing, headers=RU)
    assert page.status_code == 404
    assert lang(page.text) == "ru"
    assert "<h1>Не найдено</h1>" in page.text
    assert '<p class="lead">Курс не найден.</p>' in page.text
    for headers in ({"Accept": "application/json", "Accept-Language": "ru"}, RU):
        url = missing if headers is not RU else "/api/v1" + missing
        problem = (await client.get(url, headers=headers)).json()
        assert (problem["title"], problem["detail"]) == ("Not Found", "Course not found.")
    english = await client.get(missing, headers=EN)
    assert "<h1>Not Found</h1>" in english.text
    assert '<p class="lead">Course not found.</p>' in english.text
    # The framework's errors too: an unknown path, and a message with a value in it.
    unknown = await client.get("/no-such-page", headers=RU)
    assert '<p class="lead">Такой страницы нет.</p>' in unknown.text
    method = await client.request("PUT", "/login", headers=RU)
    assert method.status_code == 405
    assert "<h1>Метод не поддерживается</h1>" in method.text
    assert "Метод PUT здесь не поддерживается." in method.text
    problem = (await client.request("PUT", "/login", headers={"Accept-Language": "ru"})).json()
    assert problem["detail"] == "Method PUT is not allowed here."


async def test_page_errors_and_flashes_are_translated(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    token = await page_csrf(client, "/register")
    short = await client.post(
        "/register",
        data={
            "email": "ru@example.com",
            "full_name": "Ира",
            "password": "short",
            "csrf_token": token,
        },
        headers=RU,
    )
    assert short.status_code == 422
    assert "Нужно не меньше 8 символов." in short.text
    wrong = await client.post(
        "/login",
        data={"email": "nobody@example.com", "password": "x" * 10, "csrf_token": token},
        headers=RU,
    )
    assert "Неверная почта или пароль." in wrong.text
    user = await create_user(session, settings, full_name="Ира Петрова")
    signed_in = await client.post(
        "/login",
        data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": token},
        headers=RU,
    )
    assert signed_in.status_code == 303
    home = await client.get("/tasks", headers=RU)
    assert "Вы вошли как Ира Петрова." in home.text
    mismatch = await client.post(
        "/account/password",
        data={
            "current_password": DEFAULT_PASSWORD,
            "password": "a long new passphrase",
            "password_confirm": "another one entirely",
            "csrf_token": csrf_from(home.text),
        },
        headers=RU,
    )
    assert "Пароли не совпадают." in mismatch.text


async def test_registering_in_russian_keeps_russian(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    token = await page_csrf(client, "/register")
    created = await client.post(
        "/register",
        data={
            "email": "olga@example.com",
            "full_name": "Ольга",
            "password": "a long passphrase here",
            "csrf_token": token,
        },
        headers=RU,
    )
    assert created.status_code == 303
    user = (
        await session.execute(User.__table__.select().where(User.email == "olga@example.com"))
    ).one()
    assert user.locale == "ru"


@pytest.mark.parametrize(
    ("count", "shown"), [(1, "1 задача."), (2, "2 задачи."), (5, "5 задач."), (21, "21 задача.")]
)
async def test_plural_forms_on_a_page(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, count: int, shown: str
) -> None:
    user = await create_user(session, settings, locale="ru")
    for n in range(count):
        await add_task(session, user, f"Задача {n}")
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    board = await client.get("/tasks", headers=HTML)
    assert f'<p class="result-count" role="status">{shown}</p>' in board.text


async def test_mail_is_in_the_recipients_language(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    outbox: Outbox,  # noqa: F811
) -> None:
    russian = await create_user(session, settings, email="ivan@example.com", locale="ru")
    english = await create_user(session, settings, email="john@example.com")
    # Through the API (English): each recipient's own language.
    for user in (russian, english):
        sent = await client.post("/api/v1/auth/password-reset", json={"email": user.email})
        assert sent.status_code == 202
    [mail] = await outbox.messages(russian.email)
    assert mail.subject == "Сброс пароля Campus"
    assert "Здравствуйте, Test Student!" in mail.text
    assert "действует 1 час." in mail.text
    assert mail.html is not None
    assert '<html lang="ru">' in mail.html
    [mail] = await outbox.messages(english.email)
    assert mail.subject == "Reset your Campus password"
    assert "is valid for 1 hour." in mail.text


async def test_mail_without_a_saved_language_follows_the_page(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    outbox: Outbox,  # noqa: F811
) -> None:
    user = await create_user(session, settings, email="anna@example.com")
    token = await page_csrf(client, "/forgot-password")
    sent = await client.post(
        "/forgot-password", data={"email": user.email, "csrf_token": token}, headers=RU
    )
    assert sent.status_code == 303
    [mail] = await outbox.messages(user.email)
    assert mail.subject == "Сброс пароля Campus"


async def test_courses_learning_and_quizzes_in_russian(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """The catalog, a course, the cabinet, a quiz's editor, the error page: Russian words,
    plural forms, the locale's price and date; the same pages read in English."""
    teacher = await create_user(session, settings, role="teacher", full_name="Анна Учитель")
    course = await create_course(session, teacher, title="Курс Python", lessons=2)
    await create_course(session, teacher, title="Курс SQL", price_cents=199000, currency="RUB")
    student = await create_user(session, settings, locale="ru")
    await enroll(session, student, course)
    await session.commit()

    catalog = await client.get("/", headers=RU)
    assert "<h1>Каталог курсов</h1>" in catalog.text
    assert "2 курса." in catalog.text
    assert "2 урока" in catalog.text
    assert "1\xa0990,00\xa0₽" in catalog.text
    assert ">Начальный</span>" in catalog.text
    assert "<h1>Course catalog</h1>" in (await client.get("/", headers=EN)).text
    assert "2 courses." in (await client.get("/", headers=EN)).text
    found = await client.get("/?q=SQL", headers=RU)
    assert "По запросу найден 1 курс." in found.text
    page = await client.get(f"/courses/{course.id}", headers=RU)
    assert "Преподаватель: Анна Учитель" in page.text
    assert "Войдите, чтобы записаться на курс и следить за прогрессом." in page.text
    missing = await client.get("/courses/999999", headers=RU)
    assert missing.status_code == 404
    assert "Вернуться в каталог" in missing.text

    await sign_in(client, student.email, DEFAULT_PASSWORD)
    cabinet = await client.get("/cabinet", headers=EN)  # the saved preference wins
    assert "<h1>Моё обучение</h1>" in cabinet.text
    assert "Вы записаны на 1 курс." in cabinet.text
    assert "0 из 2 уроков" in cabinet.text
    assert re.search(r"записаны \d{1,2}\s[а-я]{3,4}\.\s\d{4}\s?г\.", cabinet.text)

    client.cookies.clear()  # the teacher signs in next
    await sign_in(client, teacher.email, DEFAULT_PASSWORD)
    lesson = (
        (await session.execute(select(Lesson).where(Lesson.course_id == course.id)))
        .scalars()
        .first()
    )
    assert lesson is not None
    editor = await client.get(f"/teach/courses/{course.id}/lessons/{lesson.id}/quiz", headers=RU)
    assert "К этому уроку пока нет теста." in editor.text
    assert "Проходной балл (%)" in editor.text
    assert "(необязательно)" in editor.text
