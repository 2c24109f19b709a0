"""Route dependencies that apply a ``campus.ratelimit`` limit per client IP."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from campus.config import Settings
from campus.http.net import client_ip
from campus.ratelimit import RateLimiter


def get_rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]


def request_ip(request: Request) -> str:
    """The client IP (the first untrusted hop behind ``CAMPUS_TRUSTED_PROXIES``)."""
    settings: Settings = request.app.state.settings
    return client_ip(request.scope, settings.trusted_proxies)


ClientIP = Annotated[str, Depends(request_ip)]


def limit_per_ip(
    scope: str, limit: Callable[[Settings], str]
) -> Callable[..., Coroutine[Any, Any, None]]:
    """A dependency counting each request against ``limit(settings)`` per client IP."""

    async def dependency(request: Request, limiter: RateLimiterDep, ip: ClientIP) -> None:
        await limiter.hit(limit(request.app.state.settings), scope, ip)

    return dependency


# Register, password reset and socket tickets share CAMPUS_RATE_LIMIT_AUTH (API.md §9).
AUTH_RATE_LIMIT = Depends(limit_per_ip("auth", lambda s: s.rate_limit_auth))
