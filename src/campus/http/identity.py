"""Who is asking: one resolution for the JSON API and the pages, one role guard for both.

A request is asked "who are you?" once. Under ``/api/`` the answer comes from the bearer
token (the API never reads the cookie); everywhere else from the ``campus_session`` cookie
of the site (pages never read a bearer token). Either way the result is the same
:class:`Identity`, cached on the request, and the same dependencies guard both kinds of
route: ``CurrentUser``, ``OptionalUser``, ``CurrentAuth``, ``TeacherUser``, ``AdminUser`` and
``require_role(...)``. An anonymous request to a guarded route raises ``Unauthenticated``;
``campus.http.errors`` turns it into a 401 problem for the API and into a redirect to
``/login?next=...`` for a page, the one way a browser is asked to sign in.

``campus.http`` knows no domain: the accounts domain supplies the :class:`IdentityProvider`
that checks tokens and sessions, and the app assembly (``campus.main``) puts it on
``app.state.identity``.

:class:`Viewer` is the signed-in user as plain, frozen data, captured when the identity is
resolved. Templates (the header of every page, error pages included) render the viewer,
never the live ORM row, so a rolled-back request cannot expire what its error page shows.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.errors import Forbidden, Unauthenticated
from campus.http.deps import SessionDep
from campus.kit.i18n import N_
from campus.models.accounts import User, UserRole

API_PATH_PREFIX = "/api/"
_STATE_KEY = "identity"
_UNRESOLVED = object()


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user as a page shows them (plain data, safe after any rollback)."""

    id: int
    email: str
    full_name: str
    role: str
    is_verified: bool
    locale: str | None = None  # the saved language, None: the browser's

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(
            id=user.id,
            email=user.email,
            full_name=user.full_name,
            role=user.role.value if isinstance(user.role, UserRole) else str(user.role),
            is_verified=bool(user.is_verified),
            locale=user.locale,
        )


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is asking and through which sign-in session (``auth_sessions`` row id)."""

    user: User
    session_id: str
    viewer: Viewer
    # The web session's CSRF secret (pages only; None for a bearer token).
    csrf_secret: str | None = None


class IdentityProvider(Protocol):
    """What the accounts domain answers for ``campus.http`` (see ``campus.main``)."""

    async def from_bearer(self, session: AsyncSession, settings: Settings, token: str) -> Identity:
        """The identity of a valid access token; raises ``Unauthenticated`` otherwise."""
        ...

    async def from_cookie(
        self, session: AsyncSession, settings: Settings, cookie: str
    ) -> Identity | None:
        """The identity of a live web-session cookie, or None (never raises)."""
        ...

    def account_key(self, settings: Settings, token: str) -> str | None:
        """The account a bearer token names, from its signature alone (no database);
        None when the token is not a valid access token. Used to key rate limits."""
        ...


def identity_provider(request: Request) -> IdentityProvider:
    provider: IdentityProvider = request.app.state.identity
    return provider


def is_api_request(request: Request) -> bool:
    # The scope's path, as ``request.url.path`` has it, without building the whole URL.
    path: str = request.scope["path"]
    return path.startswith(API_PATH_PREFIX)


# auto_error=False: a missing token becomes our own 401 problem, not FastAPI's.
# The scheme comparison is case-insensitive (RFC 6750); only the header is read.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login", auto_error=False)
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]

SESSION_COOKIE = "campus_session"


async def resolve_identity(
    request: Request, session: AsyncSession, token: str | None
) -> Identity | None:
    """Who is asking, resolved once per request (the answer is kept on ``request.state``)."""
    cached = getattr(request.state, _STATE_KEY, _UNRESOLVED)
    if cached is None or isinstance(cached, Identity):
        return cached
    settings: Settings = request.app.state.settings
    provider = identity_provider(request)
    identity: Identity | None
    if is_api_request(request):
        identity = await provider.from_bearer(session, settings, token) if token else None
    else:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        identity = await provider.from_cookie(session, settings, cookie) if cookie else None
    setattr(request.state, _STATE_KEY, identity)
    return identity


def resolved_viewer(request: Request) -> Viewer | None:
    """The viewer already resolved for this request (None when anonymous or not asked)."""
    identity = getattr(request.state, _STATE_KEY, None)
    return identity.viewer if isinstance(identity, Identity) else None


# Each dependency below resolves the identity itself instead of stacking on another one:
# FastAPI solves every level of a dependency tree on every request, and that work is a
# measurable share of a fast endpoint's time (docs/performance.md). A route uses one.


async def get_current_auth(request: Request, session: SessionDep, token: TokenDep) -> Identity:
    identity = await resolve_identity(request, session, token)
    if identity is None:
        raise Unauthenticated()
    return identity


async def get_optional_user(request: Request, session: SessionDep, token: TokenDep) -> User | None:
    identity = await resolve_identity(request, session, token)
    return identity.user if identity is not None else None


async def get_current_user(request: Request, session: SessionDep, token: TokenDep) -> User:
    return (await get_current_auth(request, session, token)).user


def require_role(*roles: UserRole) -> Callable[..., Coroutine[Any, Any, User]]:
    """A dependency admitting only signed-in users with one of ``roles`` (others: 403)."""
    allowed = frozenset(roles)

    async def dependency(request: Request, session: SessionDep, token: TokenDep) -> User:
        user = (await get_current_auth(request, session, token)).user
        if user.role not in allowed:
            raise Forbidden(N_("You do not have permission to do this."))
        return user

    return dependency


CurrentAuth = Annotated[Identity, Depends(get_current_auth)]
OptionalUser = Annotated[User | None, Depends(get_optional_user)]
CurrentUser = Annotated[User, Depends(get_current_user)]
AdminUser = Annotated[User, Depends(require_role(UserRole.ADMIN))]
TeacherUser = Annotated[User, Depends(require_role(UserRole.TEACHER, UserRole.ADMIN))]
