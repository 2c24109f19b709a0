"""Passwords: the policy, changing one's own password (and name), and resetting a
forgotten one through a mailed link. Hashing itself is ``campus.accounts.hashing``."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts import repository
from campus.accounts.hashing import get_passwords
from campus.accounts.policy import password_problem
from campus.accounts.schemas import MeUpdate
from campus.accounts.service.activity import record_password_change
from campus.accounts.service.links import consume, mail_link, redeem, retire_links
from campus.accounts.service.sessions import end_all_sessions
from campus.config import Settings
from campus.db import connection_released
from campus.errors import Forbidden, ValidationFailed
from campus.kit.i18n import N_
from campus.models.accounts import AccountTokenPurpose, User
from campus.ratelimit import RateLimiter

# At most this many password-reset mails per account and hour, whoever asks (silently:
# the endpoint answers 202 either way), so nobody can flood an inbox.
RESET_MAILS_PER_ACCOUNT = "5/hour"


def require_policy(password: str, *, email: str, loc: list[str | int]) -> None:
    """A 422 on ``loc`` if the password breaks the policy (``campus.accounts.policy``)."""
    problem = password_problem(password, email=email)
    if problem is not None:
        raise ValidationFailed.field(loc, problem)


async def set_password(session: AsyncSession, user: User, *, password_hash: str) -> None:
    """Store a password hashed beforehand (hash before the unit of work writes anything,
    inside ``connection_released``, so no connection waits on Argon2); outstanding reset
    links stop working."""
    user.password_hash = password_hash
    await retire_links(session, user_id=user.id, purpose=AccountTokenPurpose.PASSWORD_RESET)


async def update_me(
    session: AsyncSession,
    settings: Settings,
    actor: User,
    *,
    data: MeUpdate,
    current_session_id: str | None,
    limiter: RateLimiter | None = None,
    user_agent: str | None = None,
    ip: str | None = None,
) -> User:
    """Change one's own name, password and/or mail preferences.

    A new password needs the current one (missing: 422, wrong: 403; wrong ones count as
    failed sign-ins) and ends every *other* session of the user; the one in use stays.
    The change is logged with the client (``user_agent``, ``ip``) and mailed to the user.
    """
    changes = data.model_dump(exclude_unset=True)
    if "password" in changes:
        new_password = str(changes["password"])
        current = changes.get("current_password")
        if not current:
            raise ValidationFailed.field(
                ["body", "current_password"], "current_password is required to change the password"
            )
        require_policy(new_password, email=actor.email, loc=["body", "password"])
        limit = settings.rate_limit_login_failures
        # Reserved before the check, given back when right (see signin.authenticate_password).
        reservation = None
        if limiter is not None:
            reservation = await limiter.reserve(limit, "login-email", actor.email)
        passwords = get_passwords(settings)
        new_hash = None
        async with connection_released(session):
            valid, _ = await passwords.verify_and_update(current, actor.password_hash)
            if valid:
                new_hash = await passwords.hash(new_password)
        if new_hash is None:
            raise Forbidden(N_("The current password is not correct."), code="wrong-password")
        if limiter is not None:
            await limiter.release(reservation)
        await set_password(session, actor, password_hash=new_hash)
        await end_all_sessions(session, user_id=actor.id, except_session_id=current_session_id)
        await record_password_change(
            session,
            settings,
            actor,
            reset=False,
            session_id=current_session_id,
            user_agent=user_agent,
            ip=ip,
        )
    if "full_name" in changes:
        actor.full_name = str(changes["full_name"])
    for preference in ("reminder_emails", "digest_emails"):
        if preference in changes:
            setattr(actor, preference, bool(changes[preference]))
    if "locale" in changes:
        actor.locale = changes["locale"]
    await session.flush()
    return actor


async def request_password_reset(
    session: AsyncSession, settings: Settings, *, email: str, limiter: RateLimiter | None = None
) -> None:
    """Mail a reset link if an active account has this email. The caller always says 202."""
    user = await repository.get_user_by_email(session, email.strip().lower())
    if user is None or not user.is_active:
        return
    if limiter is not None and not await limiter.allow(
        RESET_MAILS_PER_ACCOUNT, "reset-mail", user.email
    ):
        return
    await mail_link(
        session,
        settings,
        user,
        purpose=AccountTokenPurpose.PASSWORD_RESET,
        lifetime=timedelta(minutes=settings.password_reset_minutes),
        path="/reset-password",
        template="accounts/password_reset",
    )


async def check_reset_token(session: AsyncSession, *, token: str) -> User:
    """The user of a valid, unused, unexpired reset token (the page shows the form), else
    400 ``invalid-token``. Nothing is used up."""
    _, user = await redeem(session, token=token, purpose=AccountTokenPurpose.PASSWORD_RESET)
    return user


async def reset_password(
    session: AsyncSession,
    settings: Settings,
    *,
    token: str,
    new_password: str,
    user_agent: str | None = None,
    ip: str | None = None,
) -> User:
    """Set a new password with a mailed token: single use; every session of the user ends.
    The reset is logged with the client (``user_agent``, ``ip``) and mailed to the user."""
    token_id, user = await redeem(session, token=token, purpose=AccountTokenPurpose.PASSWORD_RESET)
    require_policy(new_password, email=user.email, loc=["body", "new_password"])
    async with connection_released(session):
        new_hash = await get_passwords(settings).hash(new_password)
    await consume(session, token_id)  # atomic: a token used meanwhile is refused here
    await set_password(session, user, password_hash=new_hash)
    # The mail reached the owner of the address: that verifies it too.
    user.is_verified = True
    await end_all_sessions(session, user_id=user.id)
    await record_password_change(
        session, settings, user, reset=True, session_id=None, user_agent=user_agent, ip=ip
    )
    await session.flush()
    return user
