"""Campus in Russian in Chromium: a visitor switches the language in the footer (a plain
form, no script needed), signs in with the Russian form, and /account and /tasks read in
Russian; nothing is wider than a phone's screen. Screenshots of /login, /account and
/tasks in Russian at both widths."""

from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.kit.clock import utcnow
from campus.models.tasks import Task, TaskPriority, TaskStatus
from tests.browser.conftest import ARTIFACTS, WIDTHS, snap
from tests.factories import DEFAULT_PASSWORD, create_user, unique_email

SHOTS = Path("/tmp/shots/i18n")  # where the lead looks at them


async def _no_sideways_scroll(page: Any) -> None:
    for width, height in WIDTHS.values():
        await page.set_viewport_size({"width": width, "height": height})
        wide = await page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{page.url} is {wide}px wide at {width}px"
    await page.set_viewport_size({"width": 1280, "height": 900})


def _copy_shots(name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label in WIDTHS:
        shutil.copy(ARTIFACTS / f"{name}-{label}.png", SHOTS / f"{name}-{label}.png")


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
