"""Email verification: a mailed link confirms that the user owns their address."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts.service.links import consume, mail_link, redeem, retire_links
from campus.config import Settings
from campus.models.accounts import AccountTokenPurpose, User


async def send_verification_email(session: AsyncSession, settings: Settings, user: User) -> None:
    """Mail the user a link confirming their address (sent once the request commits)."""
    await mail_link(
        session,
        settings,
        user,
        purpose=AccountTokenPurpose.VERIFY_EMAIL,
        lifetime=timedelta(hours=settings.email_verification_hours),
        path="/verify-email",
        template="accounts/verify_email",
    )


async def resend_verification_email(session: AsyncSession, settings: Settings, actor: User) -> None:
    """Send a fresh verification link (earlier ones stop working); nothing if verified."""
    if actor.is_verified:
        return
    await retire_links(session, user_id=actor.id, purpose=AccountTokenPurpose.VERIFY_EMAIL)
    await send_verification_email(session, settings, actor)


async def verify_email(session: AsyncSession, settings: Settings, *, token: str) -> User:
    """Confirm the user's address with a mailed token (single use)."""
    del settings
    token_id, user = await redeem(session, token=token, purpose=AccountTokenPurpose.VERIFY_EMAIL)
    await consume(session, token_id)
    user.is_verified = True
    await session.flush()
    return user
