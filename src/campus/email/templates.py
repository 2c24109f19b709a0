"""Email templates (Jinja2): ``<name>.subject.txt``, ``<name>.txt`` and ``<name>.html``
under ``campus/templates/email/``. HTML is autoescaped; an unknown variable is an error.

A mail is written in its recipient's language: ``render_email(..., locale=user.locale)``;
without a saved one, the locale in progress (the page the person is on, else English).
The templates have the pages' i18n extension and formats (``campus.kit.i18n``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from campus.email.message import EmailMessage
from campus.kit import i18n

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates" / "email"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    i18n.install_jinja(env)
    return env


def render_email(
    name: str, *, to: str, context: dict[str, Any], locale: str | None = None
) -> EmailMessage:
    """Render the template set ``name`` (e.g. ``"accounts/password_reset"``) for ``to``, in
    ``locale`` (the recipient's saved language), else in the locale in progress."""
    env = _environment()
    with i18n.use_locale(i18n.supported(locale) or i18n.current_locale()) as chosen:
        context = {**context, "locale": chosen}
        subject = env.get_template(f"{name}.subject.txt").render(context)
        text = env.get_template(f"{name}.txt").render(context)
        html = env.get_template(f"{name}.html").render(context)
    return EmailMessage(to=to, subject=" ".join(subject.split()), text=text, html=html)
