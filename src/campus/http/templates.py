"""Where the templates live and the filters they use (``markdown``: the cached sanitised
HTML; ``excerpt``: plain text of Markdown for summaries), with the languages of
``campus.kit.i18n.install_jinja`` (``_()``, ``ngettext``, ``{% trans %}`` and the locale's
``date``, ``datetime``, ``time``, ``relative``, ``number``, ``money`` and ``counted``).

The ``Jinja2Templates`` instance, with its page context, is built by ``campus.http.web``.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment
from markupsafe import Markup

from campus.kit import highlight, i18n, markdown

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def render_markdown(text: str | None) -> Markup:
    """The cached, sanitised HTML of ``text`` (``campus.kit.markdown``); never renders: a
    page that shows Markdown awaits ``markdown.render_html`` first, off the event loop."""
    return Markup(markdown.cached_html(text))  # noqa: S704 - sanitised by nh3 (or escaped)


def install_filters(env: Environment) -> None:
    i18n.install_jinja(env)
    env.filters["markdown"] = render_markdown
    env.filters["excerpt"] = markdown.excerpt
    # The stylesheet of highlighted code, linked by the pages that show Markdown.
    env.globals["code_stylesheet"] = highlight.stylesheet_path()
    env.filters["filesize"] = i18n.format_filesize
