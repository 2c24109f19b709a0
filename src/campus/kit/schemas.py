"""The base of every request and response schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


def check_text(value: str) -> str:
    """Refuse text no database stores: NUL characters and lone UTF-16 surrogates."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


class Schema(BaseModel):
    """Pydantic base of response schemas: reads ORM objects and rows.

    Responses are built from stored data, so they carry no input checks: a validator on
    every field of every row of every page is a measurable share of a list's time.
    """

    model_config = ConfigDict(from_attributes=True, str_strip_whitespace=False)


class InputSchema(Schema):
    """Request bodies: unknown fields are rejected (422) so a typo never passes silently,
    and no text may carry NUL characters or lone surrogates."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str):
            check_text(value)
        return value
