"""Who is asking: ``CurrentUser``, ``OptionalUser`` and ``require_role(...)``."""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from campus.accounts import service
from campus.errors import Forbidden, Unauthenticated
from campus.http.deps import SessionDep, SettingsDep
from campus.models.accounts import User, UserRole

# auto_error=False: a missing token becomes our own 401 problem, not FastAPI's.
# The scheme comparison is case-insensitive (RFC 6750); only the header is read.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login", auto_error=False)
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


async def get_optional_auth(
    session: SessionDep, settings: SettingsDep, token: TokenDep
) -> service.AuthContext | None:
    """The user and sign-in session behind the request's bearer token, if any."""
    if not token:
        return None
    return await service.auth_from_access_token(session, settings, token)


OptionalAuth = Annotated[service.AuthContext | None, Depends(get_optional_auth)]


async def get_current_auth(auth: OptionalAuth) -> service.AuthContext:
    if auth is None:
        raise Unauthenticated()
    return auth


async def get_optional_user(auth: OptionalAuth) -> User | None:
    return auth.user if auth is not None else None


async def get_current_user(auth: Annotated[service.AuthContext, Depends(get_current_auth)]) -> User:
    return auth.user


CurrentAuth = Annotated[service.AuthContext, Depends(get_current_auth)]
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
