"""Campus in Russian in Chromium: a visitor switches the language in the footer (a plain
form, no script needed), signs in with the Russian form, and /account and /tasks read in
Russian; nothing is wider than a phone's screen. Screenshots of /login, /account and
/tasks in Russian at both widths; a teacher's pages (teach, course and lesson editor,
media, quiz editor, gradebook) and the chat in Russian, what their scripts write too."""

from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.kit.clock import utcnow
from campus.models.assessments import QuestionKind, Quiz, QuizOption, QuizQuestion
from campus.models.tasks import Task, TaskPriority, TaskStatus
from tests.browser.conftest import ARTIFACTS, WIDTHS, snap
from tests.factories import (
    DEFAULT_PASSWORD,
    create_course,
    create_lesson,
    create_user,
    enroll,
    unique_email,
)

SHOTS = Path("/tmp/shots/i18n")  # where the lead looks at them
SHOTS_I18N3 = Path("/tmp/shots/i18n3")


async def _no_sideways_scroll(page: Any) -> None:
    for width, height in WIDTHS.values():
        await page.set_viewport_size({"width": width, "height": height})
        wide = await page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{page.url} is {wide}px wide at {width}px"
    await page.set_viewport_size({"width": 1280, "height": 900})


def _copy_shots(name: str) -> None:
    folder = SHOTS_I18N3 if name.startswith("i18n3-") else SHOTS
    folder.mkdir(parents=True, exist_ok=True)
    for label in WIDTHS:
        shutil.copy(ARTIFACTS / f"{name}-{label}.png", folder / f"{name}-{label}.png")


async def _shots(page: Any, name: str) -> None:
    await snap(page, name)
    await asyncio.to_thread(_copy_shots, name)


async def test_russian_login_account_and_tasks(
    page: Any, db: AsyncSession, settings: Settings
) -> None:
    email = unique_email("ru").replace(".test", ".com")
    user = await create_user(
        db, settings, email=email, full_name="Екатерина Константинопольская", role="teacher"
    )
    now = utcnow()
    db.add_all(
        [
            Task(
                owner_id=user.id,
                title="Прочитать урок о зависимостях и выполнить все упражнения",
                description="Конспект и вопросы к семинару",
                priority=TaskPriority.HIGH,
                due_date=now + timedelta(hours=5),
            ),
            Task(owner_id=user.id, title="Подготовить доклад", due_date=now - timedelta(days=1)),
            Task(
                owner_id=user.id,
                title="Пройти тест",
                status=TaskStatus.IN_PROGRESS,
                due_date=now + timedelta(days=9),
            ),
            Task(owner_id=user.id, title="Готово", status=TaskStatus.COMPLETED, completed_at=now),
        ]
    )
    await db.commit()

    await page.goto("/login")
    assert await page.get_attribute("html", "lang") == "en"
    await page.get_by_role("button", name="Русский").click()
    await page.get_by_role("heading", name="Войти").wait_for()
    assert await page.get_attribute("html", "lang") == "ru"
    await _no_sideways_scroll(page)
    await _shots(page, "i18n-login-ru")

    await page.get_by_label("Почта").fill(email)
    await page.get_by_label("Пароль").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Войти").click()
    await page.get_by_text("Вы вошли как Екатерина Константинопольская.").wait_for()

    await page.goto("/account")
    await page.get_by_role("heading", name="Учётная запись").wait_for()
    await page.get_by_role("heading", name="Настройки писем").wait_for()
    await _no_sideways_scroll(page)
    await _shots(page, "i18n-account-ru")

    await page.goto("/tasks")
    await page.get_by_role("heading", name="Мои задачи").wait_for()
    await page.get_by_text("4 задачи.").wait_for()
    await page.get_by_text("Просрочено ·").wait_for()
    await _no_sideways_scroll(page)
    await _shots(page, "i18n-tasks-ru")

    # Back to English from the footer: the account keeps the choice.
    await page.get_by_role("button", name="English").click()
    await page.get_by_role("heading", name="My tasks").wait_for()
    await db.refresh(user)
    assert user.locale == "en"


async def test_russian_catalog_course_lesson_and_cabinet(
    page: Any, db: AsyncSession, settings: Settings
) -> None:
    """A learner reads the catalog, a course, a lesson and the cabinet in Russian: the
    plural forms, the locale's price and dates, and nothing overflows at 390 px."""
    teacher = await create_user(db, settings, role="teacher", full_name="Александра Преображенская")
    course = await create_course(
        db,
        teacher,
        title="Асинхронный Python: от корутин до веб-сервисов",
        description="Курс для тех, кто уже пишет на **Python** и хочет освоить `asyncio`.",
    )
    for n, title in enumerate(
        ("Что такое корутина", "Цикл событий и задачи", "Параллельные запросы"), start=1
    ):
        await create_lesson(
            db,
            course,
            position=n,
            title=title,
            content=f"## {title}\n\nТекст урока {n}.",
            duration_minutes=15,
        )
    await create_course(db, teacher, title="Основы SQL", price_cents=199000, currency="RUB")
    email = unique_email("ru-learner").replace(".test", ".com")
    await create_user(db, settings, email=email, full_name="Константин Вячеславович", locale="ru")
    await db.commit()

    client_ru = {"Accept-Language": "ru-RU,ru;q=0.9"}
    await page.set_extra_http_headers(client_ru)
    await page.goto("/")
    assert await page.get_attribute("html", "lang") == "ru"
    await page.get_by_role("heading", level=1, name="Каталог курсов").wait_for()
    await page.get_by_text("2 курса.").wait_for()
    await page.get_by_text("3 урока").first.wait_for()
    await page.get_by_text("1 990,00 ₽").wait_for()
    await _no_sideways_scroll(page)
    await _shots(page, "i18n-catalog-ru")

    await page.goto("/login?next=/")
    await page.get_by_label("Почта").fill(email)
    await page.get_by_label("Пароль").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Войти").click()
    await page.get_by_text("Вы вошли как Константин Вячеславович.").wait_for()

    await page.goto(f"/courses/{course.id}")
    await page.get_by_text("Преподаватель: Александра Преображенская").wait_for()
    await page.get_by_role("button", name="Записаться бесплатно").click()
    await page.get_by_text("Вы записаны на курс. Приятной учёбы!").wait_for()
    await page.get_by_text("0 из 3 уроков").wait_for()
    await _no_sideways_scroll(page)
    await _shots(page, "i18n-course-ru")

    await page.get_by_role("link", name="Начать курс").click()
    await page.get_by_role("heading", level=1, name="Что такое корутина").wait_for()
    await page.get_by_text("Урок 1 из 3").wait_for()
    await page.get_by_role("button", name="Отметить и перейти дальше").click()
    await page.get_by_text("Урок пройден: готово 1 из 3 (33%).").wait_for()
    await page.get_by_role("heading", level=1, name="Цикл событий и задачи").wait_for()
    await _no_sideways_scroll(page)
    await _shots(page, "i18n-lesson-ru")

    await page.goto("/cabinet")
    await page.get_by_role("heading", level=1, name="Моё обучение").wait_for()
    await page.get_by_text("Вы записаны на 1 курс.").wait_for()
    await page.get_by_text("1 из 3 уроков").wait_for()
    await page.get_by_text("Продолжить с урока 2").wait_for()
    await _no_sideways_scroll(page)
    await _shots(page, "i18n-cabinet-ru")


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


async def test_russian_teaching_pages_and_chat(
    page: Any, db: AsyncSession, settings: Settings
) -> None:
    """A teacher in Russian: the teaching pages, the lesson editor's live preview and the
    chat speak Russian in what their scripts write too (from the page's data-msg-*), a
    refused upload is explained in Russian beside the field, and nothing overflows."""
    teacher = await create_user(
        db, settings, role="teacher", full_name="Александра Преображенская", locale="ru"
    )
    student = await create_user(db, settings, full_name="Константин Вячеславович")
    course = await create_course(db, teacher, title="Асинхронный Python: от корутин до сервисов")
    lesson = await create_lesson(
        db, course, position=1, title="Что такое корутина", content="## Корутины\n\nТекст."
    )
    await create_lesson(db, course, position=2, title="Цикл событий и задачи")
    await enroll(db, student, course)
    quiz = Quiz(lesson_id=lesson.id, course_id=course.id, title="Проверьте себя", pass_percent=60)
    db.add(quiz)
    await db.flush()
    question = QuizQuestion(
        quiz_id=quiz.id,
        position=1,
        kind=QuestionKind.SINGLE_CHOICE,
        prompt="Какое ключевое слово объявляет корутину?",
        points=2,
    )
    db.add(question)
    await db.flush()
    db.add_all(
        [
            QuizOption(question_id=question.id, position=1, text="async def", is_correct=True),
            QuizOption(question_id=question.id, position=2, text="lambda", is_correct=False),
        ]
    )
    await db.commit()

    await page.set_extra_http_headers({"Accept-Language": "ru-RU,ru;q=0.9"})
    await page.goto("/login")
    await page.get_by_label("Почта").fill(teacher.email)
    await page.get_by_label("Пароль").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Войти").click()
    await page.get_by_text("Вы вошли как Александра Преображенская.").wait_for()
    editor = f"/teach/courses/{course.id}"

    async def look(path: str, name: str) -> None:
        if path:
            await page.goto(path)
        assert await page.get_attribute("html", "lang") == "ru"
        await _no_sideways_scroll(page)
        await _shots(page, name)

    await look("/teach", "i18n3-teach-ru")
    await look(editor, "i18n3-course-editor-ru")

    await page.goto(f"{editor}/lessons/{lesson.id}")
    await page.get_by_label("Содержание").fill("## Корутины\n\nОбновлённый текст урока.")
    await page.get_by_text("Обновляется по мере ввода. Пока не сохранено.").wait_for()
    await page.locator("#preview-pane", has_text="Обновлённый текст урока.").wait_for()
    await look("", "i18n3-lesson-editor-ru")

    await page.goto(f"{editor}/media")
    await page.locator("#f-file").set_input_files(
        {"name": "logo.png", "mimeType": "image/png", "buffer": SVG}
    )
    await page.get_by_role("button", name="Загрузить", exact=True).click()
    await page.locator("#e-file", has_text="Этот файл — изображение SVG").wait_for()
    await look("", "i18n3-media-ru")

    await look(f"{editor}/lessons/{lesson.id}/quiz", "i18n3-quiz-editor-ru")
    await look(f"{editor}/students", "i18n3-gradebook-ru")

    await page.goto(f"/courses/{course.id}/chat")
    await page.locator('#chat[data-live="1"]').wait_for()
    await page.get_by_label("Сообщение").fill("Здравствуйте! Вопросы — сюда.")
    await page.get_by_role("button", name="Отправить").click()
    sent = page.locator(".chat-msg", has_text="Здравствуйте! Вопросы — сюда.")
    await sent.get_by_role("button", name="Удалить").wait_for()  # written by realtime.js
    await look("", "i18n3-chat-ru")
    assert page.console_errors == []
