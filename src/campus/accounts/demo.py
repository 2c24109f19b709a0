"""Demo users: an admin, a teacher and a student (idempotent)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts.service import bootstrap
from campus.config import get_settings
from campus.demo import DemoContext, demo_loader
from campus.models.accounts import UserRole

DEMO_USERS: tuple[tuple[UserRole, str, str, str], ...] = (
    (UserRole.ADMIN, "admin@campus.example", "campus-admin-demo", "Ada Admin"),
    (UserRole.TEACHER, "teacher@campus.example", "campus-teacher-demo", "Tess Teacher"),
    (UserRole.STUDENT, "student@campus.example", "campus-student-demo", "Sam Student"),
)


@demo_loader("accounts", order=10)
async def load(session: AsyncSession, ctx: DemoContext) -> None:
    settings = get_settings()
    for role, email, password, full_name in DEMO_USERS:
        user = await bootstrap.ensure_demo_user(
            session, settings, email=email, password=password, full_name=full_name, role=role
        )
        ctx.objects[role.value] = user
        ctx.sign_ins.append((role.value, email, password))
