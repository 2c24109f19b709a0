"""The application factory: the one module above the domains that assembles the app.

``campus.http`` is shared plumbing that knows no domain; here the domains' routers (from the
registry ``campus.domains``) are mounted and the accounts domain's identity provider is put
where ``campus.http.identity`` looks for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from campus import __version__
from campus.accounts import devices
from campus.accounts.identity import provider as identity_provider
from campus.config import Settings, get_settings
from campus.db import Database
from campus.domains import domain_modules
from campus.http.errors import install_error_handlers
from campus.http.middleware import (
    BodyLimitMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from campus.http.openapi import install_openapi
from campus.http.ratelimit import API_RATE_LIMIT
from campus.http.templates import STATIC_DIR
from campus.http.textguard import TextGuardMiddleware
from campus.jobs import JobQueue, load_jobs
from campus.jobs.asgi import JobQueueMiddleware
from campus.jobs.scheduler import start_local_schedule
from campus.kit import i18n, markdown
from campus.log import configure_logging
from campus.media.api import UPLOAD_ENVELOPE, UPLOAD_PATHS
from campus.operations import looplag
from campus.operations.activity import LearnerActivity
from campus.operations.api import router as operations_router
from campus.operations.metrics import Metrics, MetricsMiddleware
from campus.operations.runtime import tune_garbage_collector
from campus.payments.gateway import StripeGateway
from campus.ratelimit import RateLimiter
from campus.realtime.broadcast import attach, create_broadcaster
from campus.realtime.socket import SocketHub
from campus.realtime.socket import route as socket_route
from campus.redis import create_redis
from campus.sentry import init_sentry

API_PREFIX = "/api/v1"
DOCS_ASSETS = "/docs/assets"

DESCRIPTION = """
Campus is an open-source learning platform: courses made of ordered lessons, enrollment
and progress, and the learner's own task list.

Errors are RFC 9457 problem details (`application/problem+json`). Lists take `skip`,
`limit` (1..100) and `sort` (`-field` for descending) and return
`{items, total, page, page_size, pages}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.check_production()
    configure_logging(settings)
    init_sentry(settings)

    markdown.renderer.configure(timeout=settings.markdown_timeout_seconds)
    database = Database(settings)
    redis = create_redis(settings)
    lag_monitor = looplag.LoopLagMonitor() if settings.bench_loop_lag else None
    metrics = Metrics(database.engine)
    rate_limiter = RateLimiter.from_settings(settings, registry=metrics.registry)
    activity = LearnerActivity(redis, key_prefix=settings.metrics_key_prefix).register(
        metrics.registry
    )
    stripe_gateway = StripeGateway.from_settings(settings)
    load_jobs(settings.job_modules)
    jobs = JobQueue(settings, database, registry=metrics.registry)
    broadcaster = create_broadcaster(settings, metrics.registry)
    attach(database, broadcaster)
    sockets = SocketHub(settings, database, broadcaster, broadcaster.metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if lag_monitor is not None:
            lag_monitor.start()
        tune_garbage_collector(gen0_threshold=settings.gc_gen0_threshold)
        # The user-agent rules load in a thread meanwhile (the first sign-in needs them).
        warm_up = asyncio.create_task(asyncio.to_thread(devices.warm_up))
        # So does the Markdown worker process (the first lesson view need not wait for it).
        markdown_start = asyncio.create_task(markdown.renderer.start())
        # The message catalogs compile in a thread too (the first page needs them).
        catalogs = asyncio.create_task(asyncio.to_thread(i18n.warm_up))
        await sockets.start()
        # On SIGTERM, sockets hear 1001 before the server closes them (campus serve).
        undo_signal_hook = sockets.close_on_termination()
        activity.start()
        # Without Redis, scheduled jobs (reminders, digest, clean-up) run in this process.
        schedule = (
            start_local_schedule(jobs) if settings.jobs_schedule and not jobs.uses_redis else []
        )
        try:
            yield
        finally:
            await warm_up
            await markdown_start
            await catalogs
            for task in schedule:
                task.cancel()
            undo_signal_hook()
            await activity.stop()
            await sockets.stop()
            await jobs.close(within=10)
            if stripe_gateway is not None:
                await stripe_gateway.aclose()
            if lag_monitor is not None:
                await lag_monitor.stop()
            if redis is not None:
                await redis.aclose()
            await rate_limiter.aclose()
            markdown.renderer.close()
            await database.dispose()

    cors_origins = list(settings.cors_origins)
    middleware = [
        Middleware(SecurityHeadersMiddleware, trusted_proxies=settings.trusted_proxies),
        Middleware(MetricsMiddleware, metrics=metrics),
        Middleware(JobQueueMiddleware, queue=jobs),
        Middleware(RequestContextMiddleware, trusted_proxies=settings.trusted_proxies),
        Middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_credentials="*" not in cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", "X-CSRF-Token"],
            expose_headers=[
                "X-Request-ID",
                "Link",
                "Retry-After",
                "Location",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ],
            max_age=600,
        ),
        Middleware(GZipMiddleware, minimum_size=1024),
        Middleware(
            BodyLimitMiddleware,
            max_bytes=settings.max_body_bytes,
            max_json_depth=settings.max_json_depth,
            # Uploads (campus.media): up to twice the file limit, so that a file over it is
            # refused by the route, with its message beside the form field.
            larger_bodies=[(UPLOAD_PATHS, 2 * settings.media_max_upload_bytes + UPLOAD_ENVELOPE)],
        ),
        # Innermost: the text of a request (path, query, headers, cookies, form, JSON)
        # checked once for NUL and lone surrogates, after the body's size is bounded.
        Middleware(TextGuardMiddleware),
    ]
    # Swagger UI (/docs) and ReDoc (/redoc) with their bundles served from the installed
    # fastapi-offline package under /docs/assets: the docs work without internet access.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        title="Campus",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        middleware=middleware,
        debug=False,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.redis = redis
    app.state.rate_limiter = rate_limiter
    app.state.loop_lag_monitor = lag_monitor
    app.state.metrics = metrics
    app.state.activity = activity
    app.state.stripe_gateway = stripe_gateway
    app.state.identity = identity_provider
    app.state.jobs = jobs
    app.state.broadcaster = broadcaster
    app.state.sockets = sockets

    install_error_handlers(app)
    app.include_router(operations_router)
    if lag_monitor is not None:
        app.include_router(looplag.router)
    include_domains(app)
    # Sockets skip the HTTP middleware and the router (headers, CORS, gzip, body limits and
    # metrics do not apply to them, and each layer's coroutine would stay alive for a
    # socket's whole life); they keep the request id, the error log and the job queue.
    sockets_route = WebSocketRoute(API_PREFIX + socket_route.path, socket_route.endpoint)
    app.router.routes.append(sockets_route)
    route_sockets_around_http_middleware(
        app,
        RequestContextMiddleware(
            JobQueueMiddleware(sockets_route, queue=jobs), trusted_proxies=settings.trusted_proxies
        ),
    )
    install_openapi(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def route_sockets_around_http_middleware(app: FastAPI, socket_app: ASGIApp) -> None:
    """Send WebSocket connections to ``socket_app`` and everything else through the app's
    middleware stack, which Starlette builds on the first call (measured: about 20 KiB
    less per idle socket, ``bench/sockets.py``)."""
    build_http_stack = app.build_middleware_stack

    def build() -> ASGIApp:
        http_stack = build_http_stack()

        async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "websocket":
                await socket_app(scope, receive, send)
            else:
                await http_stack(scope, receive, send)

        return dispatch

    app.build_middleware_stack = build  # type: ignore[method-assign]


def include_domains(app: FastAPI) -> None:
    """Mount every registered domain's API router under ``/api/v1`` and its page router.

    One level of routers, not a ``/api/v1`` router holding the domain routers: FastAPI
    matches an included router by walking its routes, once to match and once more to
    handle, at every level, so each level of nesting multiplies the routing work of every
    request (measured in docs/performance.md).
    """
    for module in domain_modules("api"):
        app.include_router(module.router, prefix=API_PREFIX, dependencies=[API_RATE_LIMIT])
    for module in domain_modules("pages"):
        app.include_router(module.router, include_in_schema=False)
    # A domain's pages module may add to the header of every page (``header_context``).
    app.state.page_header_hooks = [
        module.header_context
        for module in domain_modules("pages")
        if hasattr(module, "header_context")
    ]
    # The WebSocket (campus.realtime.socket.route) is mounted by create_app, outside the
    # HTTP middleware and the router's route list walk.
