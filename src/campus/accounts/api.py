"""Accounts JSON API (API.md §2): ``/auth/...`` for everyone, ``/users/...`` for admins."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response, status

from campus.accounts.schemas import (
    EmailVerifyConfirm,
    MeRead,
    MeUpdate,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserRead,
    UserRole,
    UserUpdate,
)
from campus.accounts.service import passwords, sessions, signin, users, verification
from campus.http.deps import NO_STORE, IdPath, SessionDep, SettingsDep, page_params, page_response
from campus.http.identity import AdminUser, CurrentAuth, CurrentUser
from campus.http.ratelimit import AUTH_RATE_LIMIT, ClientIP, RateLimiterDep
from campus.kit.pagination.envelope import Page
from campus.kit.pagination.params import PageParams

# Tokens and account data: never cached (Cache-Control: no-store on every answer).
auth_router = APIRouter(prefix="/auth", tags=["auth"], dependencies=[NO_STORE])
users_router = APIRouter(prefix="/users", tags=["users"], dependencies=[NO_STORE])

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"description": "Not authenticated"}}
RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many requests (see `Retry-After`)"}
}
ADMIN_ONLY: dict[int | str, dict[str, Any]] = {
    **UNAUTHORIZED,
    403: {"description": "Not an admin"},
    404: {"description": "No such user"},
}


@auth_router.post(
    "/register",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Email already registered"}, **RATE_LIMITED},
    dependencies=[AUTH_RATE_LIMIT],
)
async def register(body: UserCreate, session: SessionDep, settings: SettingsDep) -> Any:
    """Create a student account and mail a link that verifies the address."""
    return await signin.register_user(session, settings, data=body)


@auth_router.post(
    "/login",
    response_model=TokenPair,
    responses={**UNAUTHORIZED, 403: {"description": "Account disabled"}, **RATE_LIMITED},
)
async def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    ip: ClientIP,
    username: Annotated[str, Form(max_length=320, description="The account's email.")],
    password: Annotated[str, Form(max_length=1024)],
) -> Any:
    """Sign in with the OAuth2 password form (`username` = email).

    Failed attempts are limited per email and per IP (`CAMPUS_RATE_LIMIT_LOGIN_FAILURES`).
    """
    user = await signin.authenticate_password(
        session, settings, email=username, password=password, limiter=limiter, ip=ip
    )
    return await sessions.start_session(
        session, settings, user, user_agent=request.headers.get("user-agent"), ip=ip
    )


@auth_router.post("/refresh", response_model=TokenPair, responses=UNAUTHORIZED)
async def refresh(body: RefreshRequest, session: SessionDep, settings: SettingsDep) -> Any:
    """Exchange a refresh token for a new pair; a used one ends its whole session."""
    return await sessions.rotate_refresh_token(session, settings, refresh_token=body.refresh_token)


@auth_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=UNAUTHORIZED)
async def logout(
    body: RefreshRequest, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> None:
    await sessions.end_session(session, settings, user, refresh_token=body.refresh_token)


@auth_router.get("/me", response_model=MeRead, responses=UNAUTHORIZED)
async def get_me(user: CurrentUser) -> Any:
    return user


@auth_router.patch(
    "/me",
    response_model=MeRead,
    responses={**UNAUTHORIZED, 403: {"description": "Wrong current_password"}, **RATE_LIMITED},
)
async def update_me(
    body: MeUpdate,
    auth: CurrentAuth,
    session: SessionDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
) -> Any:
    """Change your name, password or mail preferences (`reminder_emails`, `digest_emails`,
    both off until you opt in). A new password needs `current_password` and ends every
    other session (the one making this request stays signed in)."""
    return await passwords.update_me(
        session,
        settings,
        auth.user,
        data=body,
        current_session_id=auth.session_id,
        limiter=limiter,
    )


@auth_router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    responses=RATE_LIMITED,
    dependencies=[AUTH_RATE_LIMIT],
)
async def request_password_reset(
    body: PasswordResetRequest, session: SessionDep, settings: SettingsDep, limiter: RateLimiterDep
) -> None:
    """Always 202, whether or not the email has an account. If it has, a single-use link
    valid for one hour is mailed."""
    await passwords.request_password_reset(
        session, settings, email=str(body.email), limiter=limiter
    )


@auth_router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={400: {"description": "Invalid, used or expired token"}},
)
async def confirm_password_reset(
    body: PasswordResetConfirm, session: SessionDep, settings: SettingsDep
) -> None:
    """Set a new password with the mailed token. Every session of the account ends."""
    await passwords.reset_password(
        session, settings, token=body.token, new_password=body.new_password
    )


@auth_router.post(
    "/verify-email",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**UNAUTHORIZED, **RATE_LIMITED},
    dependencies=[AUTH_RATE_LIMIT],
)
async def resend_verification_email(
    user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> None:
    """Mail a fresh verification link (earlier links stop working). Nothing if verified."""
    await verification.resend_verification_email(session, settings, user)


@auth_router.post(
    "/verify-email/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={400: {"description": "Invalid, used or expired token"}},
)
async def confirm_email(
    body: EmailVerifyConfirm, session: SessionDep, settings: SettingsDep
) -> None:
    """Confirm the account's email address with the mailed token."""
    await verification.verify_email(session, settings, token=body.token)


UserPageParams = Annotated[
    PageParams, Depends(page_params(["created_at", "email"], default_sort="created_at"))
]


@users_router.get("", response_model=Page[UserRead], responses=ADMIN_ONLY)
async def list_users(
    request: Request,
    response: Response,
    admin: AdminUser,
    session: SessionDep,
    params: UserPageParams,
    role: Annotated[UserRole | None, Query(description="Only users with this role.")] = None,
    is_active: Annotated[bool | None, Query(description="Only (in)active users.")] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Case-insensitive search in email and full name."),
    ] = None,
) -> Any:
    page = await users.list_users(
        session, admin, params=params, role=role, is_active=is_active, q=q
    )
    return page_response(request, response, page)


@users_router.get("/{user_id}", response_model=UserRead, responses=ADMIN_ONLY)
async def get_user(
    admin: AdminUser, session: SessionDep, user_id: Annotated[int, IdPath("User id")]
) -> Any:
    return await users.get_user(session, admin, user_id=user_id)


@users_router.patch(
    "/{user_id}",
    response_model=UserRead,
    responses={**ADMIN_ONLY, 409: {"description": "The last active admin"}},
)
async def update_user(
    body: UserUpdate,
    admin: AdminUser,
    session: SessionDep,
    user_id: Annotated[int, IdPath("User id")],
) -> Any:
    """Change a user's name, role or active flag. Deactivating ends the user's sessions;
    the last active admin can be neither demoted nor deactivated (409)."""
    return await users.update_user(session, admin, user_id=user_id, data=body)


@users_router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**ADMIN_ONLY, 409: {"description": "The last active admin, or a teacher"}},
)
async def delete_user(
    admin: AdminUser, session: SessionDep, user_id: Annotated[int, IdPath("User id")]
) -> None:
    """Delete a user with their sessions, enrollments, progress and tasks. Not the last
    active admin, nor a user who still teaches courses (409)."""
    await users.delete_user(session, admin, user_id=user_id)


router = APIRouter()
router.include_router(auth_router)
router.include_router(users_router)
