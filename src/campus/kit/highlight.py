"""Syntax highlighting of fenced code blocks (Pygments), and the stylesheet of its classes.

A fenced block with a language Pygments knows becomes
``<pre class="highlight"><code class="language-NAME">`` with one ``<span class="k">`` per
token (Pygments' short token classes, no inline styles), so lessons need no JavaScript to
show coloured code. The sanitiser (``campus.kit.markdown``) allows exactly these classes:
:data:`PRE_CLASSES`, :data:`CODE_CLASSES` and :data:`TOKEN_CLASSES`.

- An unknown language, no language, a block longer than :data:`MAX_BLOCK_CHARS`, or a block
  past the document's budget of :data:`MAX_DOCUMENT_CHARS` highlighted characters
  (:func:`budget`) is shown as plain escaped code (``<pre><code>``); the language a writer
  typed is never echoed.
- :func:`stylesheet` builds the CSS of the token classes from two Pygments styles, a light
  one and a dark one (``prefers-color-scheme: dark``), both meeting WCAG AA contrast for
  every token colour on their own background (tested). It is served by the courses pages
  at :func:`stylesheet_path`, whose name carries the digest of the CSS, so it can be cached
  for good and a new Pygments version or style changes the address.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_all_lexers, get_lexer_by_name
from pygments.token import STANDARD_TYPES, Token
from pygments.util import ClassNotFound

LIGHT_STYLE = "default"
DARK_STYLE = "github-dark"
# Highlighting is about linear in the size of the code but slow (0.1-0.4 M characters/s,
# bench/highlight.py, docs/performance.md): a longer block, or the blocks past a document's
# budget, are shown plain, so a 200,000-character lesson of code stays well inside the
# render bound (CAMPUS_MARKDOWN_TIMEOUT_SECONDS).
MAX_BLOCK_CHARS = 20_000
MAX_DOCUMENT_CHARS = 50_000
MAX_LANGUAGE_CHARS = 40
SCOPE = ".prose pre.highlight"

PRE_CLASSES = frozenset({"highlight"})
TOKEN_CLASSES = frozenset(name for name in STANDARD_TYPES.values() if name)
_SAFE_ALIAS = re.compile(r"^[a-z0-9][a-z0-9+#._-]{0,39}$")


def _canonical(aliases: tuple[str, ...]) -> str | None:
    return aliases[0] if aliases and _SAFE_ALIAS.match(aliases[0]) else None


# The ``language-NAME`` class names the lexer by its first alias (``py`` -> ``python``).
CODE_CLASSES = frozenset(
    f"language-{name}"
    for _, aliases, _, _ in get_all_lexers(plugins=False)
    if (name := _canonical(tuple(aliases)))
)
_FORMATTER = HtmlFormatter(nowrap=True)


@lru_cache(maxsize=256)
def _lexer(language: str) -> Lexer | None:
    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def lexer_for(language: str) -> Lexer | None:
    """The lexer of a fence's language (case-insensitive), or None when unknown."""
    name = language.strip().lower()
    if not name or len(name) > MAX_LANGUAGE_CHARS or not _SAFE_ALIAS.match(name):
        return None
    return _lexer(name)


# Characters the document being rendered may still highlight (None: no budget is set).
_left: ContextVar[int | None] = ContextVar("highlight_budget", default=None)


@contextmanager
def budget(chars: int = MAX_DOCUMENT_CHARS) -> Iterator[None]:
    """Highlight at most ``chars`` characters of code in what is rendered inside."""
    token = _left.set(chars)
    try:
        yield
    finally:
        _left.reset(token)


def _spend(chars: int) -> bool:
    left = _left.get()
    if left is None:
        return True
    if chars > left:
        _left.set(0)  # blocks are highlighted in order: none after the first refused
        return False
    _left.set(left - chars)
    return True


def plain_block(code: str) -> str:
    return f"<pre><code>{html.escape(code, quote=False)}</code></pre>"


def fenced_block(code: str, language: str, _attrs: str = "") -> str:
    """The HTML of a fenced code block (markdown-it's ``highlight`` callback)."""
    lexer = lexer_for(language)
    if lexer is None or len(code) > MAX_BLOCK_CHARS or not _spend(len(code)):
        return plain_block(code)
    body = pygments_highlight(code, lexer, _FORMATTER)
    name = _canonical(tuple(lexer.aliases))
    label = f' class="language-{name}"' if name else ""
    return f'<pre class="highlight"><code{label}>{body}</code></pre>'


def _text_colour(background: str) -> str:
    """A style's colour of plain text: its own, else black or white by its background."""
    return "#1f2328" if relative_luminance(background) > 0.4 else "#e6edf3"


def theme_rules(style_name: str) -> str:
    """The rules of one Pygments style under :data:`SCOPE`: the block's background and text
    colour, then one rule per token class."""
    formatter = HtmlFormatter(style=style_name)
    style = formatter.style
    background = style.background_color
    own = style.style_for_token(Token)["color"]
    text = f"#{own}" if own else _text_colour(background)
    lines = [f"{SCOPE} {{ background: {background}; color: {text}; }}"]
    lines += formatter.get_token_style_defs(SCOPE)  # type: ignore[no-untyped-call]
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=1)
def stylesheet() -> str:
    """The CSS of highlighted code: the light style, and the dark one for dark schemes."""
    return (
        f"/* Campus code highlighting, generated from Pygments styles "
        f"{LIGHT_STYLE!r} and {DARK_STYLE!r} (campus.kit.highlight). */\n"
        + theme_rules(LIGHT_STYLE)
        + "@media (prefers-color-scheme: dark) {\n"
        + theme_rules(DARK_STYLE)
        + "}\n"
    )


@lru_cache(maxsize=1)
def stylesheet_digest() -> str:
    return hashlib.sha256(stylesheet().encode()).hexdigest()[:16]


def stylesheet_path() -> str:
    """Where pages link the stylesheet: its name changes whenever its content does."""
    return f"/assets/highlight-{stylesheet_digest()}.css"


def relative_luminance(colour: str) -> float:
    """WCAG relative luminance of ``#rgb`` or ``#rrggbb``."""
    hex_digits = colour.lstrip("#")
    if len(hex_digits) == 3:
        hex_digits = "".join(ch * 2 for ch in hex_digits)
    channels = [int(hex_digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    """The WCAG contrast ratio of two colours (1..21)."""
    high, low = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)
