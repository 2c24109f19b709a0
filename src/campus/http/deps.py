"""Shared request dependencies as ``Annotated`` aliases."""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.db import WRITE_TRANSACTION, Database, unit_of_work
from campus.kit.pagination.cursor import CursorCodec
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import DEFAULT_LIMIT, PageParams, make_page_params

MAX_ID = 2**31 - 1
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WRITES_ON_GET = "__campus_writes_on_get__"

EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])


def writes_on_get(endpoint: EndpointT) -> EndpointT:
    """Mark a GET endpoint that writes (e.g. an OAuth callback: the provider redirects the
    browser there with a GET): its unit of work is a write transaction like a POST's.
    Put it below the route decorator."""
    setattr(endpoint, _WRITES_ON_GET, True)
    return endpoint


def _reads_only(request: Request) -> bool:
    if request.method not in SAFE_METHODS:
        return False
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    return not getattr(endpoint, _WRITES_ON_GET, False)


async def no_store(response: Response) -> None:
    """Responses with tokens or account data must not be kept by any cache (RFC 6749 §5.1,
    RFC 9111): login, refresh, the account, sessions, users, socket tickets."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


NO_STORE = Depends(no_store)


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One unit of work per request.

    Declared with ``scope="function"``: the commit runs when the handler returns and *before*
    the response is sent, so a client never sees a success that was not stored. Any error
    rolls the whole request back. Services and repositories only flush.

    A safe method (GET, HEAD, OPTIONS) reads without an explicit transaction on PostgreSQL
    (:attr:`Database.read_sessionmaker`): no BEGIN and no COMMIT round trip. Under READ
    COMMITTED every statement takes its own snapshot anyway, so a read sees exactly what it
    would have seen inside a transaction. A GET endpoint marked :func:`writes_on_get`
    gets a write transaction instead.
    """
    database: Database = request.app.state.database
    if _reads_only(request):
        async with (
            database.read_sessionmaker() as session,
            unit_of_work(session, autocommit=database.reads_autocommit),
        ):
            yield session
    else:
        async with database.sessionmaker() as session, unit_of_work(session):
            await session.connection(execution_options=WRITE_TRANSACTION)
            yield session


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def IdPath(description: str = "Identifier") -> object:  # noqa: N802 - reads like a type
    return Path(ge=1, le=MAX_ID, description=description)


def _cursor_codec(request: Request) -> CursorCodec:
    """One codec per application (its key is derived from the secret key once)."""
    state = request.app.state
    codec: CursorCodec | None = getattr(state, "cursor_codec", None)
    if codec is None:
        settings: Settings = state.settings
        codec = CursorCodec(settings.secret_key)
        state.cursor_codec = codec
    return codec


def cursor_codec(request: Request) -> CursorCodec:
    """The app's keyset cursor codec (pages build their own page parameters)."""
    return _cursor_codec(request)


def page_params(
    allowed_sorts: Sequence[str], default_sort: str
) -> Callable[..., Awaitable[PageParams]]:
    """A dependency parsing ``skip``, ``limit``, ``sort`` and ``cursor`` for one list endpoint.

    The handler answers with :func:`page_response`, which adds ``next_cursor`` and the
    ``Link: <...>; rel="next"`` header when there is a next page.
    """
    allowed = tuple(allowed_sorts)
    sort_help = (
        "Comma-separated fields, `-field` for descending. Allowed: "
        + ", ".join(f"`{name}`" for name in allowed)
        + f". Default `{default_sort}`; ties are broken by id."
    )

    async def dependency(
        request: Request,
        skip: Annotated[int, Query(description="Rows to skip (>= 0).")] = 0,
        limit: Annotated[int, Query(description="Page size, 1..100.")] = DEFAULT_LIMIT,
        sort: Annotated[str | None, Query(description=sort_help, max_length=200)] = None,
        cursor: Annotated[
            str | None,
            Query(
                description=(
                    "Keyset pagination: the `next_cursor` of the previous page (opaque). "
                    "Continues right after that page's last row, as fast deep in the list "
                    "as on page 1. Keep the same `sort`; do not combine with `skip`. A "
                    "cursor that is not valid, or was made for another sort, is a 422."
                ),
                max_length=2000,
            ),
        ] = None,
    ) -> PageParams:
        return make_page_params(
            skip=skip,
            limit=limit,
            sort=sort,
            allowed=allowed,
            default=default_sort,
            cursor=cursor,
            codec=_cursor_codec(request),
        )

    return dependency


def page_response(request: Request, response: Response, result: PageResult[Any]) -> dict[str, Any]:
    """The list envelope of ``result`` (API.md §1) for a handler to return.

    When there is a next page, the envelope carries its signed ``next_cursor`` and the
    response a ``Link: <...>; rel="next"`` header: this URL with ``cursor`` and without
    ``skip``.
    """
    envelope = result.envelope(_cursor_codec(request))
    token = envelope.get("next_cursor")
    if token is not None:
        url = request.url.include_query_params(cursor=token).remove_query_params("skip")
        response.headers["Link"] = f'<{url}>; rel="next"'
    return envelope
