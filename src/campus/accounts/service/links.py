"""Mailed single-use links (password reset, email verification): a random token goes out
in the link, the table keeps its SHA-256 with an expiry, and redeeming it works once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts import repository
from campus.config import Settings
from campus.email import render_email, send_after_commit
from campus.errors import BadRequest
from campus.kit.clock import utcnow
from campus.kit.i18n import N_
from campus.models.accounts import AccountTokenPurpose, User

INVALID_LINK = N_("This link is invalid, has already been used or has expired.")


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def mail_link(
    session: AsyncSession,
    settings: Settings,
    user: User,
    *,
    purpose: AccountTokenPurpose,
    lifetime: timedelta,
    path: str,
    template: str,
) -> None:
    """Store a new token for ``user`` and mail them ``base_url + path?token=...`` (after
    the commit) with the email template set ``template``."""
    token = secrets.token_urlsafe(32)
    await repository.add_account_token(
        session,
        user_id=user.id,
        purpose=purpose,
        token_hash=_hash_token(token),
        expires_at=utcnow() + lifetime,
    )
    message = render_email(
        template,
        to=user.email,
        locale=user.locale,
        context={
            "full_name": user.full_name,
            "link": f"{settings.base_url}{path}?token={token}",
            "valid_for": lifetime,
            "base_url": settings.base_url,
        },
    )
    send_after_commit(session, settings, message)


async def redeem(
    session: AsyncSession, *, token: str, purpose: AccountTokenPurpose
) -> tuple[int, User]:
    """The token's row id and user, if the token is valid, unused and unexpired; else 400.
    Nothing is written: call ``consume`` with the id to use the token up."""
    row = await repository.get_account_token(
        session, token_hash=_hash_token(token), purpose=purpose
    )
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise BadRequest(INVALID_LINK, code="invalid-token")
    user = await repository.get_user(session, row.user_id)
    if user is None or not user.is_active:
        raise BadRequest(INVALID_LINK, code="invalid-token")
    return row.id, user


async def consume(session: AsyncSession, token_id: int) -> None:
    """Use a redeemed token up, atomically: one used meanwhile is a 400 here."""
    if not await repository.consume_account_token(session, token_id=token_id, now=utcnow()):
        raise BadRequest(INVALID_LINK, code="invalid-token")


async def retire_links(
    session: AsyncSession, *, user_id: int, purpose: AccountTokenPurpose
) -> None:
    """Every outstanding link of this purpose stops working."""
    await repository.retire_account_tokens(session, user_id=user_id, purpose=purpose, now=utcnow())
