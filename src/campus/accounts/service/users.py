"""The admin's user management: list, read, change and delete users."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts import repository
from campus.accounts.schemas import UserUpdate
from campus.accounts.service.sessions import end_all_sessions
from campus.errors import Conflict, Forbidden, NotFound
from campus.kit.i18n import N_
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.models.accounts import User, UserRole
from campus.realtime.broadcast import access_changed_after_commit


def _require_admin(actor: User) -> None:
    if actor.role != UserRole.ADMIN:
        raise Forbidden(N_("Only admins manage users."))


async def list_users(
    session: AsyncSession,
    actor: User,
    *,
    params: PageParams,
    role: UserRole | None = None,
    is_active: bool | None = None,
    q: str | None = None,
) -> PageResult[User]:
    _require_admin(actor)
    return await repository.list_users(session, params, role=role, is_active=is_active, q=q)


async def get_user(session: AsyncSession, actor: User, *, user_id: int) -> User:
    _require_admin(actor)
    user = await repository.get_user(session, user_id)
    if user is None:
        raise NotFound(N_("No such user."))
    return user


async def _ensure_another_admin_remains(session: AsyncSession, user: User) -> None:
    """409 if ``user`` is the last active admin (checked under a lock on the admin rows)."""
    admins = await repository.lock_active_admin_ids(session)
    if not any(admin_id != user.id for admin_id in admins):
        raise Conflict(
            N_("This is the last active admin; make another user an admin first."),
            code="last-admin",
        )


async def update_user(
    session: AsyncSession, actor: User, *, user_id: int, data: UserUpdate
) -> User:
    """Change a user's name, role or active flag; deactivating ends their sessions."""
    user = await get_user(session, actor, user_id=user_id)
    changes = data.model_dump(exclude_unset=True)
    stays_admin = changes.get("role", user.role) == UserRole.ADMIN and changes.get(
        "is_active", user.is_active
    )
    if user.role == UserRole.ADMIN and user.is_active and not stays_admin:
        await _ensure_another_admin_remains(session, user)
    if "full_name" in changes:
        user.full_name = changes["full_name"]
    if "role" in changes and UserRole(changes["role"]) != user.role:
        user.role = UserRole(changes["role"])
        access_changed_after_commit(session, user_ids=[user.id])
    if "is_active" in changes:
        was_active = user.is_active
        user.is_active = bool(changes["is_active"])
        if was_active and not user.is_active:
            await end_all_sessions(session, user_id=user.id)
    await session.flush()
    return user


async def delete_user(session: AsyncSession, actor: User, *, user_id: int) -> None:
    """Delete a user and what is theirs. Not the last active admin, nor a course's teacher."""
    user = await get_user(session, actor, user_id=user_id)
    if user.role == UserRole.ADMIN and user.is_active:
        await _ensure_another_admin_remains(session, user)
    has_courses = Conflict(
        "This user still teaches courses; give the courses to another teacher or delete "
        "them first.",
        code="user-has-courses",
    )
    if await repository.teaches_courses(session, user.id):
        raise has_courses
    try:
        async with session.begin_nested():
            await repository.delete_user(session, user)
    except IntegrityError as exc:  # a course created meanwhile (ON DELETE RESTRICT)
        raise has_courses from exc
