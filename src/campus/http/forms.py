"""The page form toolkit: read a form, parse it into the API's schemas, word the errors for
people and put them beside their fields.

Every page module uses these, so a form behaves the same everywhere:

- :func:`form_values` reads the text fields of a form;
- :func:`parse_form` validates a dict with a schema (the one the API uses) and raises
  :class:`FormInvalid` with the errors by field;
- :func:`field_errors` words a schema or service error for people (never echoing input),
  in the page's language (a service's marked message is looked up in the catalog,
  ``CampusError.localized``);
- :func:`choice` checks a value against a list of choices (filters, selects);
- :func:`parse_money` reads an amount such as ``19.99`` into cents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from campus.errors import CampusError
from campus.kit.i18n import DEFAULT_LOCALE, N_, current_locale, gettext

SchemaT = TypeVar("SchemaT", bound=BaseModel)
MONEY_HELP = N_("Enter an amount like 19.99 (0 = free).")
MAX_CENTS = 2**31 - 1


class FormInvalid(Exception):
    """A form that cannot be sent on: its errors by field name (``__all__`` for the rest)."""

    def __init__(self, errors: dict[str, str], *, status: int = 422) -> None:
        super().__init__("form invalid")
        self.errors = errors
        self.status = status

    @classmethod
    def of(cls, exc: ValidationError | CampusError) -> FormInvalid:
        status = exc.status if isinstance(exc, CampusError) else 422
        return cls(field_errors(exc), status=status)


def parse_form(
    schema: type[SchemaT], data: Mapping[str, Any], *, extra_errors: Mapping[str, str] = {}
) -> SchemaT:
    """``data`` validated by ``schema``; errors (and ``extra_errors``) as :class:`FormInvalid`."""
    try:
        parsed = schema.model_validate(dict(data))
    except ValidationError as exc:
        raise FormInvalid({**field_errors(exc), **extra_errors}) from None
    if extra_errors:
        raise FormInvalid(dict(extra_errors))
    return parsed


def choice(value: str | None, allowed: Iterable[str]) -> str:
    """``value`` if it is one of ``allowed``, else ``""`` (an unknown filter is ignored)."""
    if value and value in set(allowed):
        return value
    return ""


def parse_money(text: str) -> tuple[int, str | None]:
    """Cents of an amount typed by a person (``19.99``, ``19,99``, empty = 0), and the
    message to show when it is not an amount of money."""
    raw = text.strip().replace(",", ".") or "0"
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        return 0, gettext(MONEY_HELP)
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        return 0, gettext(MONEY_HELP)
    if amount * 100 > MAX_CENTS:
        return 0, gettext("That amount is too high.")
    return int(amount * 100), None


def money_text(cents: int) -> str:
    """Cents as a form shows them again (``1999`` -> ``19.99``, 0 -> ``0``)."""
    return f"{cents / 100:.2f}" if cents else "0"


def form_values(form: FormData, *names: str) -> dict[str, str]:
    """The text fields ``names`` of a form (missing ones as empty strings)."""
    values: dict[str, str] = {}
    for name in names:
        value = form.get(name)
        values[name] = value if isinstance(value, str) else ""
    return values


def _pretty(msg: str) -> str:
    for prefix in ("Value error, ", "value is not a valid email address: "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return msg[:1].upper() + msg[1:] if msg else msg


def _message(err: Mapping[str, Any]) -> str:
    ctx = err.get("ctx") or {}
    kind = err.get("type")
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return gettext("This field is required.")
    if kind == "string_too_short":
        return gettext("Use at least %(n)s characters.", n=ctx.get("min_length"))
    if kind == "string_too_long" or (kind == "too_long" and "max_length" in ctx):
        return gettext("Use at most %(n)s characters.", n=ctx.get("max_length"))
    if kind in ("int_parsing", "int_type"):
        return gettext("Enter a whole number.")
    if kind == "greater_than_equal":
        return gettext("Enter %(n)s or more.", n=ctx.get("ge"))
    if kind == "less_than_equal":
        return gettext("Enter %(n)s or less.", n=ctx.get("le"))
    if kind in ("enum", "literal_error"):
        return gettext("Choose one of the options.")
    if (
        kind == "value_error"
        and str(err.get("msg", "")).startswith("value is not a valid email address")
        and current_locale() != DEFAULT_LOCALE
    ):  # email-validator's precise reasons are English only
        return gettext("Enter a valid email address.")
    # A validator's own message (e.g. the password policy's), in the catalog when marked.
    return gettext(_pretty(str(err.get("msg", "This value is not valid."))))


def field_errors(exc: ValidationError | CampusError) -> dict[str, str]:
    """Errors by field name (``__all__`` for the rest), worded for people, never echoing input."""
    errors: dict[str, str] = {}
    raw: list[Any] = (
        list(exc.errors()) if isinstance(exc, ValidationError) else getattr(exc, "errors", [])
    )
    for err in raw:
        names = [part for part in err.get("loc", ()) if isinstance(part, str) and part != "body"]
        key = names[-1] if names else "__all__"
        if isinstance(exc, CampusError) and exc.variables and err.get("msg") == exc.detail:
            errors.setdefault(key, exc.localized())  # the template's translation, filled in
        else:
            errors.setdefault(key, _message(err))
    if not errors and isinstance(exc, CampusError):
        errors["__all__"] = exc.localized()
    return errors
