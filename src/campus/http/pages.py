"""The server-rendered pages: every domain's page router (API.md §10)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI


def include_pages(app: FastAPI) -> None:
    """Mount each domain's page router on the app itself (one level; see ``include_api``)."""
    for domain_router in _domain_routers():
        app.include_router(domain_router, include_in_schema=False)


def _domain_routers() -> list[APIRouter]:
    """Each domain's ``pages.router``, imported here so domains stay unaware of each other."""
    from campus.accounts import pages as accounts_pages
    from campus.courses import pages as courses_pages
    from campus.learning import pages as learning_pages
    from campus.payments import pages as payments_pages
    from campus.tasks import pages as tasks_pages

    return [
        courses_pages.router,
        tasks_pages.router,
        learning_pages.router,
        accounts_pages.router,
        payments_pages.router,
    ]
