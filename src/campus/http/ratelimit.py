"""Route dependencies that apply a ``campus.ratelimit`` limit per client IP."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from campus.config import Settings
from campus.http.identity import identity_provider
from campus.http.net import client_ip
from campus.ratelimit import RateLimiter


async def get_rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]


def request_ip(request: Request) -> str:
    """The client IP (the first untrusted hop behind ``CAMPUS_TRUSTED_PROXIES``)."""
    settings: Settings = request.app.state.settings
    return client_ip(request.scope, settings.trusted_proxies)


async def _request_ip_dependency(request: Request) -> str:
    # async: FastAPI would run a plain function in a worker thread.
    return request_ip(request)


ClientIP = Annotated[str, Depends(_request_ip_dependency)]


def limit_per_ip(
    scope: str, limit: Callable[[Settings], str]
) -> Callable[..., Coroutine[Any, Any, None]]:
    """A dependency counting each request against ``limit(settings)`` per client IP."""

    async def dependency(request: Request, limiter: RateLimiterDep, ip: ClientIP) -> None:
        await limiter.hit(limit(request.app.state.settings), scope, ip)

    return dependency


# Register and password reset share CAMPUS_RATE_LIMIT_AUTH (API.md §9).
AUTH_RATE_LIMIT = Depends(limit_per_ip("auth", lambda s: s.rate_limit_auth))


def api_client_key(request: Request) -> str:
    """Who a request counts against: the account of a valid bearer token, else the IP.

    Only the token's signature is checked here (no database); the endpoint itself still
    authenticates. An invalid token counts against the IP, like an anonymous request.
    """
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        account = identity_provider(request).account_key(request.app.state.settings, token.strip())
        if account is not None:
            return f"user:{account}"
    return f"ip:{request_ip(request)}"


async def api_rate_limit(request: Request) -> None:
    """The generous limit on the whole JSON API (CAMPUS_RATE_LIMIT_API, API.md §9).

    It runs on every API request, so it reads the limiter itself rather than through a
    sub-dependency (each level of dependencies costs every request its solving)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    if limiter.enabled:
        settings: Settings = request.app.state.settings
        await limiter.hit(settings.rate_limit_api, "api", api_client_key(request))


API_RATE_LIMIT = Depends(api_rate_limit)
