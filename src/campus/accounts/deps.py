"""Who is asking: ``CurrentUser``, ``OptionalUser`` and ``require_role(...)``."""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts.service import sessions
from campus.accounts.service.sessions import AuthContext
from campus.config import Settings
from campus.errors import Forbidden, Unauthenticated
from campus.http.deps import SessionDep
from campus.models.accounts import User, UserRole

# auto_error=False: a missing token becomes our own 401 problem, not FastAPI's.
# The scheme comparison is case-insensitive (RFC 6750); only the header is read.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login", auto_error=False)
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


async def _auth(request: Request, session: AsyncSession, token: str | None) -> AuthContext | None:
    """The user and sign-in session behind the request's bearer token, if any."""
    if not token:
        return None
    settings: Settings = request.app.state.settings
    return await sessions.auth_from_access_token(session, settings, token)


# Each dependency below reads the token itself instead of stacking on another one: FastAPI
# solves every level of a dependency tree on every request, and that work is a measurable
# share of a fast endpoint's time (docs/performance.md). A request uses one of them.


async def get_current_auth(request: Request, session: SessionDep, token: TokenDep) -> AuthContext:
    auth = await _auth(request, session, token)
    if auth is None:
        raise Unauthenticated()
    return auth


async def get_optional_user(request: Request, session: SessionDep, token: TokenDep) -> User | None:
    auth = await _auth(request, session, token)
    return auth.user if auth is not None else None


async def get_current_user(request: Request, session: SessionDep, token: TokenDep) -> User:
    return (await get_current_auth(request, session, token)).user


CurrentAuth = Annotated[AuthContext, Depends(get_current_auth)]
OptionalUser = Annotated[User | None, Depends(get_optional_user)]
CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(*roles: UserRole) -> Callable[..., Coroutine[Any, Any, User]]:
    """A dependency admitting only users with one of ``roles`` (others: 403)."""
    allowed = frozenset(roles)

    async def dependency(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise Forbidden("You do not have permission to do this.")
        return user

    return dependency


AdminUser = Annotated[User, Depends(require_role(UserRole.ADMIN))]
TeacherUser = Annotated[User, Depends(require_role(UserRole.TEACHER, UserRole.ADMIN))]
