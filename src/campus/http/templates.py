"""Jinja2 templates: the page context and the ``markdown`` filter (sanitised HTML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nh3
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.requests import Request

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

# Raw HTML in Markdown is shown as text (html=False); the output is sanitised again by nh3,
# so a `<script>`, an `onerror=` or a `javascript:` link in a lesson never runs.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.enable(["table", "strikethrough"])
_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
}


def render_markdown(text: str | None) -> Markup:
    """Markdown to safe HTML."""
    html = _markdown.render(text or "")
    cleaned = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(cleaned)  # noqa: S704 - sanitised by nh3 just above


def _page_context(request: Request) -> dict[str, Any]:
    from campus.http.web import page_context

    return page_context(request)


ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
     "XAF", "XOF", "XPF"}
)  # fmt: skip


def _money(cents: int | None, currency: str | None = "USD") -> str:
    if not cents:
        return "Free"
    code = (currency or "").upper()
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(code)
    # Zero-decimal currencies (Stripe's list) show whole units: JPY 1,500, not 1,500.00.
    amount = f"{cents // 100:,}" if code in ZERO_DECIMAL_CURRENCIES else f"{cents / 100:,.2f}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency}"


templates = Jinja2Templates(directory=TEMPLATES_DIR, context_processors=[_page_context])
templates.env.filters["markdown"] = render_markdown
templates.env.filters["money"] = _money
