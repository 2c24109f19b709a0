"""Error reporting to Sentry (only when ``CAMPUS_SENTRY_DSN`` is set).

Unexpected failures are caught by ``RequestContextMiddleware`` (which answers the 500
problem), so it reports them explicitly with the request id as a tag. No personal data is
sent (the SDK's default), frame locals are off, and request headers, cookies and bodies are
dropped before an event leaves the process.
"""

from __future__ import annotations

from typing import Any

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration

from campus import __version__
from campus.config import Settings


def _scrub(event: Any, _hint: Any) -> Any:
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("headers", "cookies", "data", "query_string", "env"):
            request.pop(key, None)
    return event


def init_sentry(settings: Settings) -> bool:
    """Start the Sentry client for this process; False when no DSN is configured."""
    if not settings.sentry_dsn:
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.env,
        release=f"campus@{__version__}",
        # Frame locals would carry the ASGI scope (headers, cookies) and request bodies.
        include_local_variables=False,
        traces_sample_rate=settings.sentry_traces_sample_rate,
        before_send=_scrub,
        # Errors are reported explicitly (below); log records only become breadcrumbs.
        integrations=[LoggingIntegration(event_level=None)],
    )
    return True


def report_exception(exc: BaseException, *, request_id: str, route: str) -> None:
    """Send ``exc`` to Sentry if it is configured (a no-op otherwise)."""
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("request_id", request_id)
        scope.set_tag("route", route)
        sentry_sdk.capture_exception(exc)
