"""Where the templates live and the filters they use (``markdown``: sanitised HTML; ``money``).

The ``Jinja2Templates`` instance, with its page context, is built by ``campus.http.web``.
"""

from __future__ import annotations

from pathlib import Path

import nh3
from jinja2 import Environment
from markdown_it import MarkdownIt
from markupsafe import Markup

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


def counted(count: int | None, singular: str, plural: str | None = None) -> str:
    """``3 | counted("lesson")`` is "3 lessons", ``1 | counted("lesson")`` "1 lesson";
    irregular plurals are given: ``counted("quiz", "quizzes")``."""
    n = count or 0
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def install_filters(env: Environment) -> None:
    env.filters["markdown"] = render_markdown
    env.filters["money"] = _money
    env.filters["counted"] = counted
