"""The server-rendered pages: every domain's page router (API.md §10)."""

from __future__ import annotations

from fastapi import APIRouter


def build_pages_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for domain_router in _domain_routers():
        router.include_router(domain_router)
    return router


def _domain_routers() -> list[APIRouter]:
    """Each domain's ``pages.router``, imported here so domains stay unaware of each other."""
    from campus.accounts import pages as accounts_pages
    from campus.courses import pages as courses_pages
    from campus.learning import pages as learning_pages
    from campus.tasks import pages as tasks_pages

    return [
        accounts_pages.router,
        courses_pages.router,
        learning_pages.router,
        tasks_pages.router,
    ]
