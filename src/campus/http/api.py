"""The JSON API: every domain's router under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from campus.http.ratelimit import API_RATE_LIMIT

API_PREFIX = "/api/v1"


def include_api(app: FastAPI) -> None:
    """Mount each domain's router on the app itself, under ``/api/v1``.

    One level of routers, not a ``/api/v1`` router holding the domain routers: FastAPI
    matches an included router by walking its routes, once to match and once more to
    handle, at every level, so each level of nesting multiplies the routing work of every
    request (measured in docs/performance.md).
    """
    for domain_router in _domain_routers():
        app.include_router(domain_router, prefix=API_PREFIX, dependencies=[API_RATE_LIMIT])


def _domain_routers() -> list[APIRouter]:
    """Each domain's ``api.router``, imported here so domains stay unaware of each other.

    The most requested first: a request is matched against the routers in this order.
    """
    from campus.accounts import api as accounts_api
    from campus.courses import api as courses_api
    from campus.learning import api as learning_api
    from campus.payments import api as payments_api
    from campus.tasks import api as tasks_api

    return [
        courses_api.router,
        tasks_api.router,
        learning_api.router,
        accounts_api.router,
        payments_api.router,
    ]
