"""Accounts pages: register, sign in, sign out (API.md §10)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response
from pydantic import ValidationError

from campus.accounts.schemas import UserCreate, UserRole, UserUpdate
from campus.accounts.service import signin, users, web_sessions
from campus.errors import CampusError, Conflict, Unauthenticated
from campus.http.deps import IdPath, SessionDep
from campus.http.forms import choice, field_errors, form_values
from campus.http.identity import AdminUser
from campus.http.ratelimit import AUTH_RATE_LIMIT, ClientIP, RateLimiterDep
from campus.http.web import WebPage, page_params, page_router, safe_next

router = page_router()

AFTER_SIGN_IN = "/"


@router.get("/register")
async def register_page(page: WebPage) -> Response:
    if page.user is not None:
        return page.redirect(AFTER_SIGN_IN)
    return page.render("accounts/register.html", {"values": {}, "errors": {}})


@router.post("/register", dependencies=[AUTH_RATE_LIMIT])
async def register_submit_page(page: WebPage, session: SessionDep) -> Response:
    values = form_values(await page.form(), "email", "full_name", "password")
    try:
        data = UserCreate.model_validate(values)
        user = await signin.register_user(session, page.settings, data=data)
    except (ValidationError, CampusError) as exc:
        errors = field_errors(exc)
        if isinstance(exc, CampusError) and exc.code == "email-taken":
            errors = {"email": exc.detail}
        shown = {"email": values["email"], "full_name": values["full_name"]}  # never the password
        status = exc.status if isinstance(exc, CampusError) else 422
        return page.render(
            "accounts/register.html", {"values": shown, "errors": errors}, status_code=status
        )
    web_session = await web_sessions.start_web_session(
        session, page.settings, user, user_agent=page.user_agent, ip=page.client_ip
    )
    page.sign_in(web_session.cookie_value, max_age=web_session.max_age)
    return page.redirect(AFTER_SIGN_IN, flash=f"Welcome to Campus, {user.full_name}!")


SESSION_ENDED = (
    "Your session has ended: you were signed out on another device, your password was "
    "changed, or an administrator disabled your account. Sign in again to continue."
)


@router.get("/login")
async def login_page(page: WebPage, next: str | None = None, ended: str | None = None) -> Response:
    target = safe_next(next, AFTER_SIGN_IN)
    if page.user is not None:
        return page.redirect(target)
    notice = SESSION_ENDED if ended == "1" else None
    return page.render(
        "accounts/login.html", {"values": {}, "errors": {}, "next": target, "notice": notice}
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
                "errors": {"__all__": exc.detail},
                "next": target,
            },
            status_code=exc.status,
            headers=exc.headers,
        )
    web_session = await web_sessions.start_web_session(
        session, page.settings, user, user_agent=page.user_agent, ip=ip
    )
    page.sign_in(web_session.cookie_value, max_age=web_session.max_age)
    return page.redirect(target, flash=f"Signed in as {user.full_name}.")


@router.get("/logout")
async def logout_page(page: WebPage) -> Response:
    if page.user is None:
        return page.redirect("/")
    return page.render("accounts/logout.html")


@router.post("/logout")
async def logout_submit_page(page: WebPage, session: SessionDep) -> Response:
    await web_sessions.end_web_session(session, cookie_value=page.session_cookie)
    page.sign_out()
    return page.redirect("/", flash="You are signed out.", kind="info")


# --- admin: users ---------------------------------------------------------------------------

USERS_PAGE_SIZE = 25
ROLES = [(role.value, role.value.title()) for role in UserRole]


@router.get("/admin/users")
async def admin_users_page(
    page: WebPage,
    session: SessionDep,
    admin: AdminUser,
    q: Annotated[str | None, Query(max_length=200)] = None,
    role: Annotated[str | None, Query(max_length=20)] = None,
    p: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    chosen = choice(role, (value for value, _ in ROLES))  # an unknown role is ignored
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
            "roles": ROLES,
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
        return page.redirect(back, flash="Choose a valid role.", kind="error")
    except Conflict as exc:
        return page.redirect(back, flash=exc.detail, kind="error")
    state = "active" if user.is_active else "deactivated"
    return page.redirect(back, flash=f"{user.full_name} is now {user.role.value}, {state}.")
