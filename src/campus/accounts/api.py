"""Accounts JSON API (API.md §2)."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, status

from campus.accounts import service
from campus.accounts.deps import CurrentUser
from campus.accounts.schemas import RefreshRequest, TokenPair, UserCreate, UserRead
from campus.http.deps import SessionDep, SettingsDep
from campus.http.net import client_ip

router = APIRouter(prefix="/auth", tags=["auth"])

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"description": "Not authenticated"}}


def _ip(request: Request) -> str:
    return client_ip(request.scope, request.app.state.settings.trusted_proxies)


@router.post(
    "/register",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Email already registered"}, 422: {}},
)
async def register(body: UserCreate, session: SessionDep, settings: SettingsDep) -> Any:
    return await service.register_user(session, settings, data=body)


@router.post("/login", response_model=TokenPair, responses=UNAUTHORIZED)
async def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=320, description="The account's email.")],
    password: Annotated[str, Form(max_length=1024)],
) -> Any:
    """Sign in with the OAuth2 password form (`username` = email)."""
    user = await service.authenticate_password(session, settings, email=username, password=password)
    return await service.start_session(
        session, settings, user, user_agent=request.headers.get("user-agent"), ip=_ip(request)
    )


@router.post("/refresh", response_model=TokenPair, responses=UNAUTHORIZED)
async def refresh(body: RefreshRequest, session: SessionDep, settings: SettingsDep) -> Any:
    return await service.rotate_refresh_token(session, settings, refresh_token=body.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=UNAUTHORIZED)
async def logout(
    body: RefreshRequest, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> None:
    await service.end_session(session, settings, user, refresh_token=body.refresh_token)


@router.get("/me", response_model=UserRead, responses=UNAUTHORIZED)
async def get_me(user: CurrentUser) -> Any:
    return user
