"""Column helpers shared by the models."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum
from sqlalchemy.orm import Mapped, mapped_column

from campus.kit.clock import utcnow
from campus.kit.types import UTCDateTime


def str_enum(enum_cls: type[enum.StrEnum], name: str) -> Enum:
    """A portable enum: VARCHAR plus a CHECK constraint, storing the values (not names)."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        validate_strings=True,
        values_callable=lambda cls: [m.value for m in cls],
    )


def created_at_column(**kw: Any) -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, nullable=False, **kw)


def updated_at_column(**kw: Any) -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False, **kw)
