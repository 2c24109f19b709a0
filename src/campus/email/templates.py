"""Email templates (Jinja2): ``<name>.subject.txt``, ``<name>.txt`` and ``<name>.html``
under ``campus/templates/email/``. HTML is autoescaped; an unknown variable is an error."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from campus.email.message import EmailMessage

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates" / "email"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render_email(name: str, *, to: str, context: dict[str, Any]) -> EmailMessage:
    """Render the template set ``name`` (e.g. ``"accounts/password_reset"``) for ``to``."""
    env = _environment()
    subject = env.get_template(f"{name}.subject.txt").render(context)
    text = env.get_template(f"{name}.txt").render(context)
    html = env.get_template(f"{name}.html").render(context)
    return EmailMessage(to=to, subject=" ".join(subject.split()), text=text, html=html)
