"""The base of every request and response schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class Schema(BaseModel):
    """Pydantic base: reads ORM objects, rejects NUL characters in any text field."""

    model_config = ConfigDict(from_attributes=True, str_strip_whitespace=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        return value


class InputSchema(Schema):
    """Request bodies: unknown fields are rejected (422) so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")
