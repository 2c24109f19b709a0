"""Accounts pages: register, sign in, sign out (API.md §10)."""

from __future__ import annotations

from fastapi import Response
from pydantic import ValidationError

from campus.accounts import service
from campus.accounts.schemas import UserCreate
from campus.errors import CampusError, Unauthenticated
from campus.http.deps import SessionDep
from campus.http.web import WebPage, field_errors, form_values, page_router, safe_next

router = page_router()

AFTER_SIGN_IN = "/"


@router.get("/register")
async def register_page(page: WebPage) -> Response:
    if page.user is not None:
        return page.redirect(AFTER_SIGN_IN)
    return page.render("accounts/register.html", {"values": {}, "errors": {}})


@router.post("/register")
async def register_submit_page(page: WebPage, session: SessionDep) -> Response:
    values = form_values(await page.form(), "email", "full_name", "password")
    try:
        data = UserCreate.model_validate(values)
        user = await service.register_user(session, page.settings, data=data)
    except (ValidationError, CampusError) as exc:
        errors = field_errors(exc)
        if isinstance(exc, CampusError) and exc.code == "email-taken":
            errors = {"email": exc.detail}
        shown = {"email": values["email"], "full_name": values["full_name"]}  # never the password
        status = exc.status if isinstance(exc, CampusError) else 422
        return page.render(
            "accounts/register.html", {"values": shown, "errors": errors}, status_code=status
        )
    web_session = await service.start_web_session(
        session, page.settings, user, user_agent=page.user_agent, ip=page.client_ip
    )
    page.sign_in(web_session)
    return page.redirect(AFTER_SIGN_IN, flash=f"Welcome to Campus, {user.full_name}!")


@router.get("/login")
async def login_page(page: WebPage, next: str | None = None) -> Response:
    target = safe_next(next, AFTER_SIGN_IN)
    if page.user is not None:
        return page.redirect(target)
    return page.render("accounts/login.html", {"values": {}, "errors": {}, "next": target})


@router.post("/login")
async def login_submit_page(page: WebPage, session: SessionDep) -> Response:
    form = await page.form()
    values = form_values(form, "email", "password", "next")
    target = safe_next(values["next"], AFTER_SIGN_IN)
    try:
        if not values["email"].strip() or not values["password"]:
            raise Unauthenticated(service.INVALID_CREDENTIALS)
        user = await service.authenticate_password(
            session, page.settings, email=values["email"][:320], password=values["password"][:1024]
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
        )
    web_session = await service.start_web_session(
        session, page.settings, user, user_agent=page.user_agent, ip=page.client_ip
    )
    page.sign_in(web_session)
    return page.redirect(target, flash=f"Signed in as {user.full_name}.")


@router.get("/logout")
async def logout_page(page: WebPage) -> Response:
    if page.user is None:
        return page.redirect("/")
    return page.render("accounts/logout.html")


@router.post("/logout")
async def logout_submit_page(page: WebPage, session: SessionDep) -> Response:
    await service.end_web_session(session, cookie_value=page.session_cookie)
    page.sign_out()
    return page.redirect("/", flash="You are signed out.", kind="info")
