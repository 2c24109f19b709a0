"""The JSON API: every domain's router under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from campus.http.ratelimit import API_RATE_LIMIT

API_PREFIX = "/api/v1"


def build_api_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX, dependencies=[API_RATE_LIMIT])
    for domain_router in _domain_routers():
        router.include_router(domain_router)
    return router


def _domain_routers() -> list[APIRouter]:
    """Each domain's ``api.router``, imported here so domains stay unaware of each other."""
    from campus.accounts import api as accounts_api
    from campus.courses import api as courses_api
    from campus.learning import api as learning_api
    from campus.tasks import api as tasks_api

    return [accounts_api.router, courses_api.router, learning_api.router, tasks_api.router]
