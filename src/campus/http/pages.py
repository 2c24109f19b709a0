"""The server-rendered pages: every domain's page router."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from campus.http.templates import templates


def build_pages_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    async def home_page(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "home.html", {})

    return router
