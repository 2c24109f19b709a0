"""The account's activity log and the mails it sends: each sign-in (and whether it came
from a new device), each password change and reset, recorded with the client's user agent
and IP; the user is mailed (after the commit, through the mail job) on a password change
or reset and on a sign-in from a device the account has not used before."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts import repository
from campus.accounts.devices import describe
from campus.config import Settings
from campus.email import render_email, send_after_commit
from campus.kit.clock import utcnow
from campus.models.accounts import AccountEvent, AccountEventKind, AuthSession, User

RECENT_EVENTS = 10


def _mail(
    session: AsyncSession,
    settings: Settings,
    user: User,
    *,
    template: str,
    event: AccountEvent,
    **extra: str,
) -> None:
    message = render_email(
        template,
        to=user.email,
        locale=user.locale,
        context={
            "full_name": user.full_name,
            "device": describe(event.user_agent).label,
            "ip": event.ip,
            "when": event.created_at,
            "account_link": f"{settings.base_url}/account",
            "forgot_link": f"{settings.base_url}/forgot-password",
            "base_url": settings.base_url,
            **extra,
        },
    )
    send_after_commit(session, settings, message)


async def record_sign_in(
    session: AsyncSession,
    settings: Settings,
    user: User,
    auth_session: AuthSession,
    *,
    method: str,
    alert_new_device: bool = True,
) -> AccountEvent:
    """Log a sign-in that opened ``auth_session``. A device (``campus.accounts.devices``)
    the account has not used before is a new device, and the user is mailed about it;
    an account's very first device is not (there is nothing to compare with), nor one
    whose user agent says nothing."""
    key = describe(auth_session.user_agent).key
    is_new = False
    if key is not None and not await repository.device_known(
        session, user_id=user.id, device_key=key
    ):
        is_new = await repository.has_account_events(session, user_id=user.id)
    event = await repository.add_account_event(
        session,
        AccountEvent(
            user_id=user.id,
            kind=AccountEventKind.SIGN_IN,
            method=method[:32],
            session_id=auth_session.id,
            user_agent=auth_session.user_agent,
            ip=auth_session.ip,
            device_key=key,
            is_new_device=is_new,
            created_at=utcnow(),
        ),
    )
    if is_new and alert_new_device:
        _mail(session, settings, user, template="accounts/new_device", event=event)
    return event


async def record_password_change(
    session: AsyncSession,
    settings: Settings,
    user: User,
    *,
    reset: bool,
    session_id: str | None,
    user_agent: str | None,
    ip: str | None,
) -> AccountEvent:
    """Log a password change (``reset``: through a mailed link) and mail the user."""
    user_agent = (user_agent or "")[:255] or None
    event = await repository.add_account_event(
        session,
        AccountEvent(
            user_id=user.id,
            kind=AccountEventKind.PASSWORD_RESET if reset else AccountEventKind.PASSWORD_CHANGED,
            session_id=session_id,
            user_agent=user_agent,
            ip=(ip or "")[:64] or None,
            device_key=describe(user_agent).key,
            created_at=utcnow(),
        ),
    )
    _mail(
        session,
        settings,
        user,
        template="accounts/password_changed",
        event=event,
        how="reset" if reset else "change",
    )
    return event


async def recent_activity(
    session: AsyncSession, actor: User, *, limit: int = RECENT_EVENTS
) -> list[AccountEvent]:
    """The actor's own latest account events, newest first."""
    return await repository.recent_account_events(session, user_id=actor.id, limit=limit)
