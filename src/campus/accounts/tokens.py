"""Signed JWTs (PyJWT). The algorithm is fixed server-side; every claim is required."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal

import jwt

from campus.config import Settings
from campus.errors import Unauthenticated
from campus.kit.clock import utcnow

TokenType = Literal["access", "refresh"]
REQUIRED_CLAIMS = ["sub", "sid", "exp", "iat", "type"]
MAX_USER_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    session_id: str
    type: TokenType
    issued_at: datetime
    expires_at: datetime
    token_id: str | None = None  # refresh tokens only (rotation)


def new_token_id() -> str:
    return secrets.token_urlsafe(24)


def encode_token(
    settings: Settings,
    *,
    user_id: int,
    session_id: str,
    type_: TokenType,
    lifetime: timedelta,
    token_id: str | None = None,
    now: datetime | None = None,
) -> str:
    issued = now or utcnow()
    payload: dict[str, object] = {
        "sub": str(user_id),
        "sid": session_id,
        "type": type_,
        "iat": int(issued.timestamp()),
        "exp": int((issued + lifetime).timestamp()),
    }
    if token_id is not None:
        payload["jti"] = token_id
    return jwt.encode(payload, settings.secret_key, algorithm=settings.jwt_algorithm)


# Verified tokens, so a client's every request does not verify the same token again: an
# access token is sent with every request for its 30 minutes, and verifying it (PyJWT's
# decode) was about a tenth of an authenticated list request's time (docs/performance.md).
# Only tokens whose signature verified are kept; expiry is checked again at every use.
VERIFIED_TOKENS_CACHED = 4096


@lru_cache(maxsize=VERIFIED_TOKENS_CACHED)
def _verified_payload(token: str, secret: str, algorithm: str) -> Mapping[str, Any]:
    payload = jwt.decode(
        token, secret, algorithms=[algorithm], options={"require": REQUIRED_CLAIMS}
    )
    return MappingProxyType(payload)


def decode_token(
    settings: Settings, token: str, *, expected: TokenType, now: datetime | None = None
) -> TokenClaims:
    """Verify signature, algorithm, expiry and type; any failure is a 401."""
    try:
        payload = _verified_payload(token, settings.secret_key, settings.jwt_algorithm)
        if int(payload["exp"]) <= (now or utcnow()).timestamp():
            raise jwt.ExpiredSignatureError("Signature has expired")
        user_id = int(payload["sub"])
        session_id = str(payload["sid"])
        token_type = payload["type"]
        issued = datetime.fromtimestamp(int(payload["iat"]), tz=utcnow().tzinfo)
        expires = datetime.fromtimestamp(int(payload["exp"]), tz=utcnow().tzinfo)
    except (jwt.PyJWTError, KeyError, TypeError, ValueError, OverflowError) as exc:
        raise Unauthenticated("Invalid or expired token.") from exc
    # Ids outside the columns' ranges would fail in the database, not here: refuse them.
    if token_type != expected or not 1 <= user_id <= MAX_USER_ID or not 0 < len(session_id) <= 64:
        raise Unauthenticated("Invalid or expired token.")
    jti = payload.get("jti")
    return TokenClaims(
        user_id=user_id,
        session_id=session_id,
        type=token_type,
        issued_at=issued,
        expires_at=expires,
        token_id=str(jti) if jti is not None else None,
    )
