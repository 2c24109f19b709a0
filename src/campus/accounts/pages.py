"""Accounts pages (API.md §10): register, sign in, sign out; the self-service pages a person
runs alone (forgot password, reset it from the mailed link, confirm the email address,
``/account``: name, password, email, mail preferences and devices); the admin's users."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Path, Query, Response
from pydantic import ValidationError

from campus.accounts.devices import describe
from campus.accounts.schemas import (
    MeUpdate,
    PasswordResetConfirm,
    PasswordResetRequest,
    UserCreate,
    UserRole,
    UserUpdate,
)
from campus.accounts.service import (
    activity,
    devices,
    oauth,
    passwords,
    signin,
    users,
    verification,
    web_sessions,
)
from campus.errors import BadRequest, CampusError, Conflict, NotFound, Unauthenticated
from campus.http.deps import IdPath, SessionDep, writes_on_get
from campus.http.forms import choice, field_errors, form_values
from campus.http.identity import AdminUser, CurrentAuth, CurrentUser, Identity
from campus.http.ratelimit import AUTH_RATE_LIMIT, ClientIP, RateLimiterDep
from campus.http.web import WebPage, WebPageContext, page_params, page_router, safe_next
from campus.kit.i18n import N_, supported
from campus.kit.i18n import gettext as _

router = page_router()

AFTER_SIGN_IN = "/"


def oauth_buttons(page: WebPage, next_path: str = AFTER_SIGN_IN) -> list[dict[str, Any]]:
    """The "Continue with ..." buttons of the configured providers, returning to
    ``next_path`` after sign-in."""
    query = f"?next={quote(next_path, safe='/')}" if next_path != AFTER_SIGN_IN else ""
    return [
        {
            "name": name,
            "label": oauth.provider_label(name),
            "url": f"/api/v1/auth/oauth/{name}/login{query}",
        }
        for name in oauth.configured_providers(page.settings)
    ]


@router.get("/register")
async def register_page(page: WebPage) -> Response:
    if page.user is not None:
        return page.redirect(AFTER_SIGN_IN)
    return page.render(
        "accounts/register.html",
        {"values": {}, "errors": {}, "oauth_providers": oauth_buttons(page)},
    )


@router.post("/register", dependencies=[AUTH_RATE_LIMIT])
async def register_submit_page(page: WebPage, session: SessionDep) -> Response:
    values = form_values(await page.form(), "email", "full_name", "password")
    try:
        data = UserCreate.model_validate(values)
        user = await signin.register_user(session, page.settings, data=data, locale=page.locale)
    except (ValidationError, CampusError) as exc:
        errors = field_errors(exc)
        if isinstance(exc, CampusError) and exc.code == "email-taken":
            errors = {"email": exc.localized()}
        shown = {"email": values["email"], "full_name": values["full_name"]}  # never the password
        status = exc.status if isinstance(exc, CampusError) else 422
        return page.render(
            "accounts/register.html",
            {"values": shown, "errors": errors, "oauth_providers": oauth_buttons(page)},
            status_code=status,
        )
    web_session = await web_sessions.start_web_session(
        session,
        page.settings,
        user,
        user_agent=page.user_agent,
        ip=page.client_ip,
        method="register",
    )
    page.sign_in(web_session.cookie_value, max_age=web_session.max_age)
    return page.redirect(
        AFTER_SIGN_IN, flash=_("Welcome to Campus, %(name)s!", name=user.full_name)
    )


SESSION_ENDED = N_(
    "Your session has ended: you were signed out on another device, your password was "
    "changed, or an administrator disabled your account. Sign in again to continue."
)


@router.get("/login")
async def login_page(page: WebPage, next: str | None = None, ended: str | None = None) -> Response:
    target = safe_next(next, AFTER_SIGN_IN)
    if page.user is not None:
        return page.redirect(target)
    notice = _(SESSION_ENDED) if ended == "1" else None
    return page.render(
        "accounts/login.html",
        {
            "values": {},
            "errors": {},
            "next": target,
            "notice": notice,
            "oauth_providers": oauth_buttons(page, target),
        },
    )


@router.post("/login")
async def login_submit_page(
    page: WebPage, session: SessionDep, limiter: RateLimiterDep, ip: ClientIP
) -> Response:
    """Sign in; failed attempts are limited per email and per IP, as on the API."""
    form = await page.form()
    values = form_values(form, "email", "password", "next")
    target = safe_next(values["next"], AFTER_SIGN_IN)
    try:
        if not values["email"].strip() or not values["password"]:
            raise Unauthenticated(signin.INVALID_CREDENTIALS)
        user = await signin.authenticate_password(
            session,
            page.settings,
            email=values["email"][:320],
            password=values["password"][:1024],
            limiter=limiter,
            ip=ip,
        )
    except CampusError as exc:
        return page.render(
            "accounts/login.html",
            {
                "values": {"email": values["email"]},
                "errors": {"__all__": exc.localized()},
                "next": target,
                "oauth_providers": oauth_buttons(page, target),
            },
            status_code=exc.status,
            headers=exc.headers,
        )
    web_session = await web_sessions.start_web_session(
        session, page.settings, user, user_agent=page.user_agent, ip=ip
    )
    page.sign_in(web_session.cookie_value, max_age=web_session.max_age)
    return page.redirect(target, flash=_("Signed in as %(name)s.", name=user.full_name))


@router.get("/logout")
async def logout_page(page: WebPage) -> Response:
    if page.user is None:
        return page.redirect("/")
    return page.render("accounts/logout.html")


@router.post("/logout")
async def logout_submit_page(page: WebPage, session: SessionDep) -> Response:
    await web_sessions.end_web_session(session, cookie_value=page.session_cookie)
    page.sign_out()
    return page.redirect("/", flash=_("You are signed out."), kind="info")


# --- forgot password, reset it, confirm the email address ----------------------------------

PASSWORD_MISMATCH = N_("The two passwords are not the same.")


@router.get("/forgot-password")
async def forgot_password_page(page: WebPage, sent: str | None = None) -> Response:
    if sent:
        return page.render("accounts/forgot_password_sent.html")
    email = page.user.email if page.user is not None else ""
    return page.render("accounts/forgot_password.html", {"values": {"email": email}, "errors": {}})


@router.post("/forgot-password", dependencies=[AUTH_RATE_LIMIT])
async def forgot_password_submit_page(
    page: WebPage, session: SessionDep, limiter: RateLimiterDep
) -> Response:
    """Mail a reset link if the address has an account; the answer is the same either way."""
    values = form_values(await page.form(), "email")
    try:
        data = PasswordResetRequest.model_validate({"email": values["email"][:1000]})
    except ValidationError as exc:
        return page.render(
            "accounts/forgot_password.html",
            {"values": {"email": values["email"][:320]}, "errors": field_errors(exc)},
            status_code=422,
        )
    await passwords.request_password_reset(
        session, page.settings, email=str(data.email), limiter=limiter
    )
    return page.redirect("/forgot-password?sent=1")


def _link_problem(page: WebPageContext, *, kind: str, status_code: int = 400) -> Response:
    """The page a dead link (malformed, expired, used) opens: what happened, and a new one."""
    viewer = page.state.viewer
    return page.render(
        "accounts/link_invalid.html",
        {"kind": kind, "values": {"email": viewer.email if viewer else ""}, "errors": {}},
        status_code=status_code,
    )


def _token(value: str | None) -> str:
    return (value or "").strip()[:512]


@router.get("/reset-password")
async def reset_password_page(
    page: WebPage,
    session: SessionDep,
    token: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    try:
        if not _token(token):
            raise BadRequest("missing token", code="invalid-token")
        user = await passwords.check_reset_token(session, token=_token(token))
    except BadRequest:
        return _link_problem(page, kind="reset")
    return page.render(
        "accounts/reset_password.html",
        {"token": _token(token), "email": user.email, "errors": {}},
    )


@router.post("/reset-password")
async def reset_password_submit_page(page: WebPage, session: SessionDep) -> Response:
    """Set the new password (twice), end every session and sign this browser in."""
    values = form_values(await page.form(), "token", "new_password", "new_password_confirm")
    token = _token(values["token"])
    try:
        if not token:
            raise BadRequest("missing token", code="invalid-token")
        user = await passwords.check_reset_token(session, token=token)
    except BadRequest:
        return _link_problem(page, kind="reset")
    errors: dict[str, str] = {}
    if values["new_password"] != values["new_password_confirm"]:
        errors["new_password_confirm"] = _(PASSWORD_MISMATCH)
    try:
        data = PasswordResetConfirm.model_validate(
            {"token": token, "new_password": values["new_password"][:1000]}
        )
        if errors:
            raise BadRequest(PASSWORD_MISMATCH)
        user = await passwords.reset_password(
            session,
            page.settings,
            token=data.token,
            new_password=data.new_password,
            user_agent=page.user_agent,
            ip=page.client_ip,
        )
    except (ValidationError, CampusError) as exc:
        if isinstance(exc, BadRequest) and exc.code == "invalid-token":
            return _link_problem(page, kind="reset")  # used meanwhile
        if not (isinstance(exc, BadRequest) and exc.detail == PASSWORD_MISMATCH):
            errors = {**field_errors(exc), **errors}
        return page.render(
            "accounts/reset_password.html",
            {"token": token, "email": user.email, "errors": errors},
            status_code=422,
        )
    # Whoever was signed in on this browser before (even someone else) is signed out.
    await web_sessions.end_web_session(session, cookie_value=page.session_cookie)
    web_session = await web_sessions.start_web_session(
        session,
        page.settings,
        user,
        user_agent=page.user_agent,
        ip=page.client_ip,
        method="reset",
        alert_new_device=False,  # the "password changed" mail already tells them
    )
    page.sign_in(web_session.cookie_value, max_age=web_session.max_age)
    return page.redirect(
        "/account",
        flash=_(
            "Your password has been changed and you are signed in. "
            "Every other session was signed out."
        ),
    )


@router.get("/verify-email")
@writes_on_get
async def verify_email_page(
    page: WebPage,
    session: SessionDep,
    token: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """The mailed link confirms the address when it is opened (as GitHub's does): the
    token is single-use and proves the mailbox; a used one explains itself."""
    try:
        if not _token(token):
            raise BadRequest("missing token", code="invalid-token")
        await verification.verify_email(session, page.settings, token=_token(token))
    except BadRequest:
        if page.state.viewer is not None and page.state.viewer.is_verified:
            return page.render("accounts/verify_email.html")
        return _link_problem(page, kind="verify")
    target = "/account" if page.user is not None else "/login?next=/account"
    return page.redirect(target, flash=_("Thank you: your email address is confirmed."))


# --- /account: name, password, email, mail preferences, devices --------------------------

DEVICES_SHOWN = 100
PREFERENCES = ("reminder_emails", "digest_emails")
CURRENT_PASSWORD_MISSING = N_("Enter your current password.")


async def _account_page(
    page: WebPageContext,
    session: SessionDep,
    auth: Identity,
    *,
    form: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """``/account``; a form sent with errors shows them beside its fields (``form``)."""
    user = auth.user
    device_page = await devices.list_devices(
        session,
        user,
        params=page_params(1, DEVICES_SHOWN, sort="-last_used_at"),
        current_session_id=auth.session_id,
    )
    device_list = sorted(device_page.items, key=lambda d: not d.current)  # this one first
    forms: dict[str, dict[str, object]] = {
        "profile": {"values": {"full_name": user.full_name}, "errors": {}},
        "password": {"values": {}, "errors": {}},
        "preferences": {
            "values": {name: getattr(user, name) for name in PREFERENCES},
            "errors": {},
        },
        "language": {"values": {"locale": user.locale or ""}, "errors": {}},
    }
    if form is not None:
        forms[form] = {"values": values or {}, "errors": errors or {}}
    return page.render(
        "accounts/account.html",
        {
            "user": user,
            "role_label": _(ROLE_LABELS[user.role]),
            "forms": forms,
            "devices": device_list,
            "devices_total": device_page.total,
            "activity": [
                {"event": event, "device": describe(event.user_agent).label}
                for event in await activity.recent_activity(session, user)
            ],
            **await sign_in_methods_context(page, session, user, back="/account"),
        },
        status_code=status_code,
    )


@router.get("/account")
async def account_page(page: WebPage, session: SessionDep, auth: CurrentAuth) -> Response:
    return await _account_page(page, session, auth)


@router.post("/account/profile")
async def account_profile_page(page: WebPage, session: SessionDep, auth: CurrentAuth) -> Response:
    values = form_values(await page.form(), "full_name")
    try:
        data = MeUpdate.model_validate({"full_name": values["full_name"][:1000]})
        await passwords.update_me(
            session, page.settings, auth.user, data=data, current_session_id=auth.session_id
        )
    except ValidationError as exc:
        return await _account_page(
            page,
            session,
            auth,
            form="profile",
            values={"full_name": values["full_name"][:100]},
            errors=field_errors(exc),
            status_code=422,
        )
    return page.redirect("/account", flash=_("Your name is saved."))


@router.post("/account/password")
async def account_password_page(
    page: WebPage,
    session: SessionDep,
    auth: CurrentAuth,
    limiter: RateLimiterDep,
    ip: ClientIP,
) -> Response:
    """Change the password (the current one needed); every other session ends."""
    values = form_values(await page.form(), "current_password", "password", "password_confirm")
    mismatch = values["password"] != values["password_confirm"]
    try:
        data = MeUpdate.model_validate(
            {
                "password": values["password"][:1000],
                "current_password": values["current_password"][:1024],
            }
        )
        if mismatch:
            raise BadRequest(PASSWORD_MISMATCH)
        await passwords.update_me(
            session,
            page.settings,
            auth.user,
            data=data,
            current_session_id=auth.session_id,
            limiter=limiter,
            user_agent=page.user_agent,
            ip=ip,
        )
    except (ValidationError, CampusError) as exc:
        errors: dict[str, str] = {}
        if not isinstance(exc, BadRequest):
            errors = field_errors(exc)
        if isinstance(exc, CampusError) and exc.code == "wrong-password":
            errors = {"current_password": exc.localized()}
        if not values["current_password"]:
            errors["current_password"] = _(CURRENT_PASSWORD_MISSING)
        if mismatch:
            errors.setdefault("password_confirm", _(PASSWORD_MISMATCH))
        status = exc.status if isinstance(exc, CampusError) and exc.status != 400 else 422
        return await _account_page(
            page, session, auth, form="password", errors=errors, status_code=status
        )
    return page.redirect(
        "/account", flash=_("Your password is changed. Every other session was signed out.")
    )


@router.post("/account/preferences")
async def account_preferences_page(
    page: WebPage, session: SessionDep, auth: CurrentAuth
) -> Response:
    form = await page.form()
    data = MeUpdate.model_validate({name: form.get(name) == "on" for name in PREFERENCES})
    await passwords.update_me(
        session, page.settings, auth.user, data=data, current_session_id=auth.session_id
    )
    return page.redirect("/account", flash=_("Your mail preferences are saved."))


@router.post("/account/language")
async def account_language_page(page: WebPage, session: SessionDep, auth: CurrentAuth) -> Response:
    """The saved language of pages and mails; empty: the browser's language."""
    form = await page.form()
    chosen = supported(str(form.get("locale") or ""))
    await passwords.update_me(
        session,
        page.settings,
        auth.user,
        data=MeUpdate.model_validate({"locale": chosen}),
        current_session_id=auth.session_id,
    )
    if chosen is not None:
        page.remember_locale(chosen)  # this page, and the browser once signed out
    return page.redirect("/account", flash=_("Your language is saved."))


@router.post("/language")
async def switch_language_page(page: WebPage, session: SessionDep) -> Response:
    """The footer's switcher: this browser's language (a cookie) and, when signed in, the
    account's; then back to the page it was sent from (a path of this site only)."""
    form = await page.form()
    back = safe_next(str(form.get("next") or ""), "/")
    chosen = supported(str(form.get("locale") or ""))
    if chosen is None:
        return page.redirect(back)
    page.remember_locale(chosen)
    identity = page.state.identity
    if identity is not None and identity.user.locale != chosen:
        await passwords.update_me(
            session,
            page.settings,
            identity.user,
            data=MeUpdate.model_validate({"locale": chosen}),
            current_session_id=identity.session_id,
        )
    return page.redirect(back)


@router.post("/account/verify-email", dependencies=[AUTH_RATE_LIMIT])
async def account_resend_verification_page(
    page: WebPage, session: SessionDep, auth: CurrentAuth
) -> Response:
    if auth.user.is_verified:
        return page.redirect("/account", flash=_("Your email address is already confirmed."))
    await verification.resend_verification_email(session, page.settings, auth.user)
    return page.redirect(
        "/account",
        flash=_("We sent a new confirmation link to %(email)s.", email=auth.user.email),
        kind="info",
    )


@router.post("/account/devices/others/sign-out")
async def account_sign_out_others_page(
    page: WebPage, session: SessionDep, auth: CurrentAuth
) -> Response:
    await devices.sign_out_other_devices(session, auth.user, current_session_id=auth.session_id)
    return page.redirect("/account", flash=_("Every other device is signed out."))


@router.post("/account/devices/{session_id}/sign-out")
async def account_sign_out_device_page(
    page: WebPage,
    session: SessionDep,
    auth: CurrentAuth,
    session_id: Annotated[str, Path(min_length=1, max_length=64)],
) -> Response:
    """Sign one device out; this one is the same as signing out."""
    try:
        await devices.sign_out_device(session, auth.user, session_id=session_id)
    except NotFound:
        return page.redirect(
            "/account", flash=_("That device was already signed out."), kind="info"
        )
    if session_id == auth.session_id:
        page.sign_out()
        return page.redirect("/", flash=_("You are signed out."), kind="info")
    return page.redirect("/account", flash=_("That device is signed out."))


# --- linked sign-in methods ------------------------------------------------------------------

SIGN_IN_METHODS_PATH = "/account/sign-in-methods"


async def sign_in_methods_context(
    page: WebPageContext,
    session: SessionDep,
    user: CurrentUser,
    *,
    back: str = SIGN_IN_METHODS_PATH,
) -> dict[str, Any]:
    """What ``accounts/_sign_in_methods.html`` needs (``/account`` includes the partial)."""
    return {
        "sign_in_methods": await oauth.sign_in_methods(session, page.settings, user),
        "sign_in_methods_back": back,
        "provider_labels": {name: oauth.provider_label(name) for name in oauth.PROVIDERS},
    }


@router.get(SIGN_IN_METHODS_PATH)
async def sign_in_methods_page(page: WebPage, session: SessionDep, user: CurrentUser) -> Response:
    return page.render(
        "accounts/sign_in_methods.html", await sign_in_methods_context(page, session, user)
    )


@router.post(SIGN_IN_METHODS_PATH + "/{provider}/unlink")
async def unlink_provider_page(
    page: WebPage, session: SessionDep, user: CurrentUser, provider: str
) -> Response:
    """Unlink a provider (the same rule as DELETE /api/v1/auth/oauth/accounts/{provider})."""
    form = await page.form()
    back = safe_next(str(form.get("back") or ""), SIGN_IN_METHODS_PATH)
    label = oauth.provider_label(provider)
    try:
        await oauth.unlink_provider(session, page.settings, user, provider=provider)
    except (Conflict, NotFound) as exc:
        return page.redirect(back, flash=exc.localized(), kind="error")
    return page.redirect(
        back, flash=_("%(provider)s is no longer linked to your account.", provider=label)
    )


# --- admin: users ---------------------------------------------------------------------------

USERS_PAGE_SIZE = 25
ROLE_LABELS = {
    UserRole.ADMIN: N_("Admin"),
    UserRole.TEACHER: N_("Teacher"),
    UserRole.STUDENT: N_("Student"),
}


def role_choices() -> list[tuple[str, str]]:
    """The roles as a select lists them, in the page's language."""
    return [(role.value, _(ROLE_LABELS[role])) for role in UserRole]


@router.get("/admin/users")
async def admin_users_page(
    page: WebPage,
    session: SessionDep,
    admin: AdminUser,
    q: Annotated[str | None, Query(max_length=200)] = None,
    role: Annotated[str | None, Query(max_length=20)] = None,
    p: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    chosen = choice(role, (value.value for value in UserRole))  # an unknown role is ignored
    params = page_params(p, USERS_PAGE_SIZE, sort="-created_at")
    result = await users.list_users(
        session,
        admin,
        params=params,
        role=UserRole(chosen) if chosen else None,
        q=(q or "").strip() or None,
    )
    return page.render(
        "accounts/admin_users.html",
        {
            "users": result.items,
            "total": result.total,
            "page_number": p,
            "pages": max(1, result.pages),
            "values": {"q": (q or "").strip(), "role": chosen or ""},
            "roles": role_choices(),
        },
    )


@router.post("/admin/users/{user_id}")
async def admin_update_user_page(
    page: WebPage,
    session: SessionDep,
    admin: AdminUser,
    user_id: Annotated[int, IdPath("User id")],
) -> Response:
    """Change a user's role or active flag (the same rules as PATCH /api/v1/users/{id})."""
    form = await page.form()
    changes: dict[str, object] = {}
    if isinstance(role := form.get("role"), str) and role:
        changes["role"] = role
    if isinstance(active := form.get("is_active"), str) and active in ("true", "false"):
        changes["is_active"] = active == "true"
    back = safe_next(str(form.get("back") or ""), "/admin/users")
    try:
        data = UserUpdate.model_validate(changes)
        user = await users.update_user(session, admin, user_id=user_id, data=data)
    except ValidationError:
        return page.redirect(back, flash=_("Choose a valid role."), kind="error")
    except Conflict as exc:
        return page.redirect(back, flash=exc.localized(), kind="error")
    role_label = _(ROLE_LABELS[user.role]).lower()
    text = (
        _("%(name)s is now %(role)s, active.", name=user.full_name, role=role_label)
        if user.is_active
        else _("%(name)s is now %(role)s, deactivated.", name=user.full_name, role=role_label)
    )
    return page.redirect(back, flash=text)
