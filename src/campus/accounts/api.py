"""Accounts JSON API (API.md §2): ``/auth/...`` for everyone, ``/users/...`` for admins."""

from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response, status
from fastapi.responses import RedirectResponse

from campus.accounts.oauth_clients import OAuthProviders
from campus.accounts.schemas import (
    EmailVerifyConfirm,
    MeRead,
    MeUpdate,
    OAuthExchangeRequest,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    SessionRead,
    SignInMethodsRead,
    TokenPair,
    UserCreate,
    UserRead,
    UserRole,
    UserUpdate,
)
from campus.accounts.service import (
    devices,
    oauth,
    passwords,
    sessions,
    signin,
    users,
    verification,
    web_sessions,
)
from campus.config import Settings
from campus.errors import BadGateway, BadRequest, CampusError
from campus.http.deps import (
    NO_STORE,
    IdPath,
    SessionDep,
    SettingsDep,
    page_params,
    page_response,
    writes_on_get,
)
from campus.http.identity import SESSION_COOKIE, AdminUser, CurrentAuth, CurrentUser
from campus.http.net import is_https
from campus.http.ratelimit import AUTH_RATE_LIMIT, ClientIP, RateLimiterDep
from campus.http.web import LOCALE_COOKIE, browser_context, login_url, request_locale, safe_next
from campus.kit import i18n
from campus.kit.i18n import N_
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
    request: Request,
    body: MeUpdate,
    auth: CurrentAuth,
    session: SessionDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    ip: ClientIP,
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
        user_agent=request.headers.get("user-agent"),
        ip=ip,
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
    request: Request,
    body: PasswordResetConfirm,
    session: SessionDep,
    settings: SettingsDep,
    ip: ClientIP,
) -> None:
    """Set a new password with the mailed token. Every session of the account ends, and
    the account's owner is mailed that the password changed."""
    await passwords.reset_password(
        session,
        settings,
        token=body.token,
        new_password=body.new_password,
        user_agent=request.headers.get("user-agent"),
        ip=ip,
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


SessionPageParams = Annotated[
    PageParams,
    Depends(page_params(["created_at", "last_used_at"], default_sort="-last_used_at")),
]
SessionIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=devices.SESSION_ID_PATTERN,
        description="A session id from `GET /auth/sessions`",
    ),
]


@auth_router.get("/sessions", response_model=Page[SessionRead], responses=UNAUTHORIZED)
async def list_sessions(
    request: Request,
    response: Response,
    auth: CurrentAuth,
    session: SessionDep,
    params: SessionPageParams,
) -> Any:
    """Your live sign-in sessions, API and web alike (the devices signed in to your
    account), most recently used first; `current` marks the one making this request."""
    page = await devices.list_devices(
        session, auth.user, params=params, current_session_id=auth.session_id
    )
    return page_response(request, response, page)


@auth_router.post(
    "/sessions/revoke-others", status_code=status.HTTP_204_NO_CONTENT, responses=UNAUTHORIZED
)
async def revoke_other_sessions(auth: CurrentAuth, session: SessionDep) -> None:
    """End every session of yours except the one making this request."""
    await devices.sign_out_other_devices(session, auth.user, current_session_id=auth.session_id)


@auth_router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**UNAUTHORIZED, 404: {"description": "No live session of yours with this id"}},
)
async def delete_session(auth: CurrentAuth, session: SessionDep, session_id: SessionIdPath) -> None:
    """End one of your sessions at once: its refresh and access tokens (or its browser
    cookie) stop working. Ending the current one signs this client out. Someone else's
    session, or one already ended, is a 404."""
    await devices.sign_out_device(session, auth.user, session_id=session_id)


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


# --- social sign-in (API.md §2) ------------------------------------------------------------

oauth_router = APIRouter(prefix="/auth/oauth", tags=["auth: social sign-in"])

OAUTH_FLOW = """
**Browser flow.** Send the browser to `GET /api/v1/auth/oauth/{provider}/login?next=/path`.
It is redirected (302) to the provider with `client_id`, `redirect_uri`, `scope` and a
random `state` (plus a PKCE `code_challenge` and a `nonce` for Google); a short-lived
HttpOnly cookie binds that `state` to the browser. The provider sends the browser back to
`/callback`, which checks `state` (single use, this browser only), exchanges the code, links
the provider account (by provider id, or by a **verified** email of an existing account) or
creates a student account without a password, sets the site's session cookie and redirects
(303) to `next`. Any failure (a cancelled consent, an unverified email, a bad `state`) goes
back to `/login` with the explanation when the request accepts `text/html`, else 400.

**API clients (apps).** Register the URL your app listens on in
`CAMPUS_OAUTH_CLIENT_REDIRECT_URIS` and open
`/login?client_redirect_uri=<that URL>&client_state=<your own random value>` in a browser.
At the end Campus redirects to `client_redirect_uri?code=<one-time code>&state=<client_state>`
(or `?error=<code>&error_description=...&state=...`). Check `state`, then
`POST /api/v1/auth/oauth/exchange {"code": ...}` within a minute: the answer is a token
pair, as from `/auth/login`. The code works once. Tokens never travel in a URL.
"""


def get_oauth_providers(request: Request) -> OAuthProviders:
    """The app's providers (Authlib clients), made once per app from its settings."""
    providers: OAuthProviders | None = getattr(request.app.state, "oauth_providers", None)
    if providers is None:
        providers = OAuthProviders(request.app.state.settings)
        request.app.state.oauth_providers = providers
    return providers


OAuthProvidersDep = Annotated[OAuthProviders, Depends(get_oauth_providers)]
ProviderPath = Annotated[
    str, Path(description="`github` or `google` (a provider this server has configured).")
]
NO_PROVIDER: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown provider, or one this server has not configured"}
}


def _with_params(url: str, params: dict[str, str | None]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(key, value) for key, value in params.items() if value is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _set_flow_cookie(
    request: Request,
    response: Response,
    settings: Settings,
    *,
    name: str,
    value: str | None,
    max_age: int = 0,
) -> None:
    secure = is_https(request.scope, settings.trusted_proxies)
    if value is None:
        response.delete_cookie(
            name, path=oauth.STATE_COOKIE_PATH, secure=secure, httponly=True, samesite="lax"
        )
    else:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=oauth.STATE_COOKIE_PATH,
            secure=secure,
            httponly=True,
            samesite="lax",
        )


@oauth_router.get(
    "/accounts",
    response_model=SignInMethodsRead,
    responses=UNAUTHORIZED,
    summary="List your sign-in methods",
)
async def list_sign_in_methods(
    user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Any:
    """Whether you have a password, the providers linked to your account, and the
    configured providers you could still link."""
    return await oauth.sign_in_methods(session, settings, user)


@oauth_router.delete(
    "/accounts/{provider}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **UNAUTHORIZED,
        404: {"description": "Not linked to that provider"},
        409: {"description": "It is your last way to sign in"},
    },
    summary="Unlink a provider",
)
async def unlink_provider(
    provider: ProviderPath, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> None:
    """Remove the link to a provider. Not when it is your last way to sign in (no password
    and no other configured provider linked): 409."""
    await oauth.unlink_provider(session, settings, user, provider=provider)


@oauth_router.post(
    "/exchange",
    response_model=TokenPair,
    responses={400: {"description": "Invalid, used or expired code"}, **RATE_LIMITED},
    dependencies=[AUTH_RATE_LIMIT],
    summary="Exchange a one-time sign-in code for tokens",
)
async def exchange_oauth_code(
    body: OAuthExchangeRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    ip: ClientIP,
) -> Any:
    """For API clients at the end of a social sign-in: the one-time code (valid
    `CAMPUS_OAUTH_EXCHANGE_CODE_SECONDS`, single use) for a token pair. The session is
    recorded with this request's user agent and IP."""
    return await oauth.exchange_code(
        session, settings, code=body.code, user_agent=request.headers.get("user-agent"), ip=ip
    )


@oauth_router.get(
    "/{provider}/login",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    responses={
        302: {"description": "To the provider's authorization page"},
        **NO_PROVIDER,
        422: {"description": "An unregistered `client_redirect_uri`"},
        **RATE_LIMITED,
    },
    dependencies=[AUTH_RATE_LIMIT],
    summary="Start a social sign-in",
    description=OAUTH_FLOW,
)
async def oauth_login(
    request: Request,
    provider: ProviderPath,
    settings: SettingsDep,
    providers: OAuthProvidersDep,
    next: Annotated[
        str | None,
        Query(max_length=1000, description="Browser flow: the local path to end on."),
    ] = None,
    client_redirect_uri: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="API clients: where the one-time code goes (must be registered).",
        ),
    ] = None,
    client_state: Annotated[
        str | None,
        Query(max_length=500, description="API clients: echoed back as `state`."),
    ] = None,
    link: Annotated[
        bool,
        Query(
            description="Browser flow: link the provider to the account signed in on the "
            "site (its sign-in methods page) instead of signing in."
        ),
    ] = False,
) -> Response:
    next_path = safe_next(next, "/")
    try:
        started = await oauth.begin_sign_in(
            settings,
            providers,
            provider=provider,
            next_path=next_path,
            client_redirect_uri=client_redirect_uri,
            client_state=client_state,
            link=link,
        )
    except (BadGateway, BadRequest) as exc:
        # The provider could not be asked (e.g. Google's discovery document is out of
        # reach): a person in a browser goes back to the sign-in page with the reason.
        if "text/html" not in request.headers.get("accept", ""):
            raise
        return browser_context(request, settings).redirect(
            login_url(next_path), flash=exc.detail, kind="error"
        )
    response = RedirectResponse(started.authorize_url, status_code=status.HTTP_302_FOUND)
    response.headers["Cache-Control"] = "no-store"
    _set_flow_cookie(
        request,
        response,
        settings,
        name=started.cookie_name,
        value=started.cookie_value,
        max_age=started.max_age,
    )
    return response


@oauth_router.get(
    "/{provider}/callback",
    status_code=status.HTTP_303_SEE_OTHER,
    response_class=RedirectResponse,
    responses={
        303: {"description": "Signed in (browser): to `next`; or back to `/login` with the error"},
        302: {"description": "API clients: to `client_redirect_uri` with `code` (or `error`)"},
        400: {"description": "Bad, reused or foreign `state`, provider error, no verified email"},
        **NO_PROVIDER,
        **RATE_LIMITED,
    },
    dependencies=[AUTH_RATE_LIMIT],
    summary="Finish a social sign-in (the provider redirects here)",
)
@writes_on_get
async def oauth_callback(
    request: Request,
    provider: ProviderPath,
    session: SessionDep,
    settings: SettingsDep,
    providers: OAuthProvidersDep,
    ip: ClientIP,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    state: Annotated[str | None, Query(max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """Checks `state` against this browser's flow cookie, exchanges the code and signs in
    (see the login route for the whole flow). Never a session on any failure."""
    oauth.require_provider(settings, provider)
    cookie_name = oauth.state_cookie_name(provider)
    cookie_value = request.cookies.get(cookie_name)
    started = oauth.peek_flow(settings, provider=provider, cookie_value=cookie_value)
    response: Response
    try:
        flow = oauth.read_flow(settings, provider=provider, cookie_value=cookie_value, state=state)
        if error:
            raise oauth.provider_error(provider, error)
        previous = request.cookies.get(SESSION_COOKIE, "")
        signed_in = None
        if flow.link and previous:
            found = await web_sessions.user_from_web_session(session, cookie_value=previous)
            signed_in = found[1] if found else None
        user = await oauth.sign_in_with_provider(
            session, settings, providers, flow=flow, code=code, signed_in=signed_in
        )
        if flow.link:
            response = browser_context(request, settings).redirect(
                flow.next_path,
                flash=_in_browser_locale(
                    request,
                    user.locale,
                    N_("%(label)s is now linked to your account."),
                    label=oauth.provider_label(provider),
                ),
            )
        elif flow.client_redirect_uri is not None:
            one_time = await oauth.issue_exchange_code(session, settings, user, provider=provider)
            response = RedirectResponse(
                _with_params(
                    flow.client_redirect_uri, {"code": one_time, "state": flow.client_state}
                ),
                status_code=status.HTTP_302_FOUND,
            )
        else:
            if previous:
                await web_sessions.end_web_session(session, cookie_value=previous)
            web_session = await web_sessions.start_web_session(
                session,
                settings,
                user,
                user_agent=request.headers.get("user-agent"),
                ip=ip,
                method=provider,
            )
            page = browser_context(request, settings)
            page.sign_in(web_session.cookie_value, max_age=web_session.max_age)
            response = page.redirect(
                flow.next_path,
                flash=_in_browser_locale(
                    request,
                    user.locale,
                    N_("Signed in with %(label)s as %(name)s."),
                    label=oauth.provider_label(provider),
                    name=user.full_name,
                ),
            )
    except CampusError as exc:
        if started is not None and started.client_redirect_uri is not None:
            response = RedirectResponse(
                _with_params(
                    started.client_redirect_uri,
                    {
                        "error": exc.code,
                        "error_description": exc.detail,
                        "state": started.client_state,
                    },
                ),
                status_code=status.HTTP_302_FOUND,
            )
        elif "text/html" in request.headers.get("accept", ""):
            back = login_url(started.next_path if started else None)
            if started is not None and started.link and exc.code != "oauth-link-needs-sign-in":
                back = started.next_path  # the sign-in methods page the link started on
            with i18n.use_locale(request_locale(request)):
                shown = exc.localized()
            response = browser_context(request, settings).redirect(back, flash=shown, kind="error")
        else:
            raise
    response.headers["Cache-Control"] = "no-store"
    _set_flow_cookie(request, response, settings, name=cookie_name, value=None)
    return response


def _in_browser_locale(
    request: Request, saved: str | None, message: str, **variables: object
) -> str:
    """A flash for the page a provider's callback sends the browser to: the callback runs
    under ``/api/`` (English), the page speaks the user's language."""
    locale = i18n.choose_locale(
        saved, request.cookies.get(LOCALE_COOKIE), request.headers.get("accept-language")
    )
    with i18n.use_locale(locale):
        return i18n.gettext(message, **variables)


router = APIRouter()
router.include_router(auth_router)
router.include_router(oauth_router)
router.include_router(users_router)
