"""The keyset cursor: where the next page starts, as a signed token opaque to clients.

A token holds the sort order it was made for, the sort values and id of the last row
shown, and the offset of the next page (so ``page`` stays right). It is base64url JSON
signed with HMAC-SHA256 under a key derived from the secret key: it cannot be forged or
edited, and a bad token is a 422.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from campus.errors import ValidationFailed

INVALID_CURSOR = "The cursor is not valid. Use next_cursor from a page."


@dataclass(frozen=True, slots=True)
class Keyset:
    """Where a cursor continues: for the sort order ``sort`` (e.g. ``"-created_at"``), the
    last row's sort values and id, and the next offset."""

    sort: str
    values: tuple[Any, ...]
    offset: int


def bad_cursor(message: str) -> ValidationFailed:
    """The 422 of a cursor that cannot be used."""
    return ValidationFailed(
        message,
        errors=[{"loc": ["query", "cursor"], "msg": message, "type": "value_error"}],
    )


class CursorCodec:
    """Signs and checks keyset cursors (URL-safe, opaque to clients)."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"campus-cursor\x00" + secret.encode()).digest()

    def _sign(self, body: bytes) -> str:
        mac = hmac.new(self._key, body, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def encode(self, keyset: Keyset) -> str:
        payload = {
            "s": keyset.sort,
            "o": keyset.offset,
            "v": [encode_value(value) for value in keyset.values],
        }
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(
            b"="
        )
        return f"{body.decode()}.{self._sign(body)}"

    def decode(self, token: str) -> Keyset:
        """The keyset of a token this codec signed; anything else is a 422."""
        body_text, _, signature = token.partition(".")
        body = body_text.encode()
        # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, once a
        # 500 for a cursor such as "f.\U000e6213").
        given = signature.encode("utf-8", "surrogatepass")
        if not body or not hmac.compare_digest(self._sign(body).encode(), given):
            raise bad_cursor(INVALID_CURSOR)
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
            sort, offset = payload["s"], int(payload["o"])
            values = tuple(decode_value(item) for item in payload["v"])
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise bad_cursor(INVALID_CURSOR) from exc
        if not isinstance(sort, str):
            raise bad_cursor(INVALID_CURSOR)
        return Keyset(sort=sort, values=values, offset=offset)


def encode_value(value: Any) -> list[Any]:
    """A sort value as JSON that keeps its type (``["t", "2026-...")`` for a datetime)."""
    if value is None:
        return ["n"]
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", value]
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    if isinstance(value, Decimal):
        return ["m", str(value)]
    if isinstance(value, str):
        return ["s", value]
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "b": bool,
    "i": int,
    "t": datetime.fromisoformat,
    "d": date.fromisoformat,
    "m": Decimal,
    "s": str,
}


def decode_value(item: list[Any]) -> Any:
    if item[0] == "n":
        return None
    return _DECODERS[item[0]](item[1])
