"""Where the templates live and the filters they use (``markdown``: the cached sanitised
HTML; ``excerpt``: plain text of Markdown for summaries; ``money``).

The ``Jinja2Templates`` instance, with its page context, is built by ``campus.http.web``.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment
from markupsafe import Markup

from campus.kit import markdown

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def render_markdown(text: str | None) -> Markup:
    """The cached, sanitised HTML of ``text`` (``campus.kit.markdown``); never renders: a
    page that shows Markdown awaits ``markdown.render_html`` first, off the event loop."""
    return Markup(markdown.cached_html(text))  # noqa: S704 - sanitised by nh3 (or escaped)


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


def filesize(size: int | None) -> str:
    """Bytes for people: ``2048`` is "2 KB", ``3_500_000`` "3.3 MB" (binary units)."""
    n = float(size or 0)
    for unit in ("bytes", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:.0f} {unit}" if unit != "MB" else f"{n:.1f} MB".replace(".0 MB", " MB")
        n /= 1024
    return f"{n:.1f} MB"  # pragma: no cover - the loop returns


def install_filters(env: Environment) -> None:
    env.filters["markdown"] = render_markdown
    env.filters["excerpt"] = markdown.excerpt
    env.filters["money"] = _money
    env.filters["counted"] = counted
    env.filters["filesize"] = filesize
