from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from campus.errors import Unauthenticated
from campus.http.errors import problem_response, problem_type
from campus.operations import service

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str
    database: str
    redis: str


class Liveness(BaseModel):
    status: str


@router.get(
    "/health/live",
    response_model=Liveness,
    summary="Liveness: 200 while the process serves (no dependency is touched)",
)
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/health",
    response_model=Health,
    summary="Readiness: the database reachable (and Redis, when it is required)",
    description=(
        "`status` is `ok`, or `degraded` while Redis is down but not required "
        "(`CAMPUS_REDIS_REQUIRED`): Campus still serves, with rate limits per process, "
        "jobs in the app process and socket frames for this instance's sockets only."
    ),
    responses={503: {"description": "A required dependency is down; the body names it."}},
)
async def health(request: Request) -> Any:
    state = request.app.state
    settings = state.settings
    report = await service.check_health(
        engine=state.database.engine,
        redis=state.redis,
        timeout_seconds=settings.health_timeout_seconds,
        redis_required=settings.redis_required,
    )
    body: dict[str, str] = {
        "status": "degraded" if report.degraded else "ok",
        "database": report.database,
        "redis": report.redis,
    }
    if report.healthy:
        return body
    failing = ", ".join(report.failing)
    body.update(
        status="error",
        type=problem_type("dependency-unavailable"),
        title="Service Unavailable",
        detail=f"Unavailable: {failing}.",
        instance=request.url.path,
    )
    return problem_response(body, status=503, headers={"Retry-After": "5"})


@router.get(
    "/metrics",
    summary="Prometheus metrics (bearer token when CAMPUS_METRICS_TOKEN is set)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, 401: {"description": "Bad token"}},
)
async def metrics(request: Request) -> Response:
    token = request.app.state.settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            raise Unauthenticated("A valid metrics token is required.")
    jobs = getattr(request.app.state, "jobs", None)
    if jobs is not None:
        await jobs.queue_depth()  # campus_jobs_queue_depth, read at scrape time
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
