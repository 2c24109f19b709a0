from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from campus.db import Base
from campus.kit.types import UTCDateTime
from campus.models._columns import created_at_column, str_enum, updated_at_column


class UserRole(enum.StrEnum):
    ADMIN = "admin"
    TEACHER = "teacher"
    STUDENT = "student"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        Index("ix_users_role_created_at", "role", "created_at"),
        Index("ix_users_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored trimmed and lower-cased, so the unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[UserRole] = mapped_column(
        str_enum(UserRole, "user_role"), default=UserRole.STUDENT
    )
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # Mail preferences (opt-in): a mail for each due-task reminder, a weekly teacher digest.
    reminder_emails: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    digest_emails: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The language of the pages and mails ("en", "ru"); None: the browser's language.
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True, default=None)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class AuthSession(Base):
    """A signed-in session: the family of rotating refresh tokens, or a web cookie session.

    The id is random and opaque (it is the ``sid`` claim of the tokens, or the page cookie).
    ``refresh_token_id`` is the id of the only refresh token of the family still valid; a
    refresh token of the family presented with another id is a reuse and ends the session.
    """

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_user_id_revoked_at", "user_id", "revoked_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8), default="api")  # "api" | "web"
    refresh_token_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    csrf_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AccountTokenPurpose(enum.StrEnum):
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a secret
    VERIFY_EMAIL = "verify_email"


class AccountToken(Base):
    """A single-use token mailed to a user (password reset, email verification).

    Only the SHA-256 of the token is stored, so a copy of the database cannot be used to
    reset anyone's password. ``used_at`` is set when the token is consumed (or superseded).
    """

    __tablename__ = "account_tokens"
    __table_args__ = (Index("ix_account_tokens_user_id_purpose", "user_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[AccountTokenPurpose] = mapped_column(
        str_enum(AccountTokenPurpose, "account_token_purpose")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AccountEventKind(enum.StrEnum):
    SIGN_IN = "sign_in"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name, not a secret
    PASSWORD_RESET = "password_reset"  # noqa: S105 - an event name, not a secret


class AccountEvent(Base):
    """The account's activity log: each sign-in, password change and reset, with the
    client that did it (user agent, IP) and the session it opened or used.

    ``device_key`` names the kind of client (browser, OS and device family from the user
    agent, hashed): a sign-in whose key the account has not used before is a *new device*
    (``is_new_device``), and the user is mailed about it. Rows are kept for
    ``ACCOUNT_EVENTS_KEEP_DAYS`` (``campus.accounts.jobs``) so a device seen in that time is
    known. ``session_id`` is no foreign key: the event outlives the ended session.
    """

    __tablename__ = "account_events"
    __table_args__ = (
        Index("ix_account_events_user_id_created_at", "user_id", "created_at"),
        Index("ix_account_events_user_id_device_key", "user_id", "device_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[AccountEventKind] = mapped_column(str_enum(AccountEventKind, "account_event_kind"))
    # How the user signed in ("password", "register", "reset"; social providers later).
    method: Mapped[str | None] = mapped_column(String(32), nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    device_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    is_new_device: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = created_at_column()


class OAuthAccount(Base):
    """A provider account (GitHub, Google) linked to a user: signing in with it signs in
    as that user. One link per provider subject, and one account of each provider per user."""

    __tablename__ = "oauth_accounts"
    __table_args__ = (
        UniqueConstraint("provider", "subject"),
        UniqueConstraint("user_id", "provider"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    # The provider's stable id of the account (GitHub's numeric id, Google's ``sub``).
    subject: Mapped[str] = mapped_column(String(255))
    # The address the provider vouched for at the last sign-in (shown to the user).
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime] = created_at_column()


class OAuthState(Base):
    """A ``state`` of a social sign-in that has come back from the provider: its SHA-256,
    kept until it would have expired anyway, so the same callback cannot be replayed."""

    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OAuthExchangeCode(Base):
    """A one-time code an API client exchanges for tokens after a social sign-in (the
    tokens never travel in a URL). Only its SHA-256 is stored; it lives a minute."""

    __tablename__ = "oauth_exchange_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
