from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import EmailStr, Field, ValidationInfo, field_validator

from campus.accounts.policy import MAX_LENGTH, MIN_LENGTH, password_problem
from campus.kit.schemas import InputSchema, Schema
from campus.models.accounts import UserRole

__all__ = [
    "EmailVerifyConfirm",
    "LinkedProviderRead",
    "MeRead",
    "MeUpdate",
    "OAuthExchangeRequest",
    "OAuthProvider",
    "PasswordResetConfirm",
    "PasswordResetRequest",
    "SessionRead",
    "SignInMethodsRead",
    "TokenPair",
    "UserCreate",
    "UserRead",
    "UserRole",
    "UserUpdate",
]

PASSWORD_HELP = (
    f"{MIN_LENGTH}..{MAX_LENGTH} characters, not your email address, not a common password."
)


# The languages of the pages and mails (campus.kit.i18n.LOCALES).
Locale = Literal["en", "ru"]


def normalize_email(value: str) -> str:
    return value.strip().lower()


class UserRead(Schema):
    id: int
    email: str
    full_name: str
    role: UserRole
    is_active: bool
    is_verified: bool
    created_at: datetime


class MeRead(UserRead):
    """Your own account: the user and your mail preferences."""

    reminder_emails: bool = Field(
        description="Mail me a reminder when a task of mine is due within 24 hours."
    )
    digest_emails: bool = Field(
        description="Teachers: mail me a weekly digest of new students and completions."
    )
    locale: Locale | None = Field(
        default=None,
        description="The language of my pages and mails; null: the browser's language "
        "(`Accept-Language`). The API itself always answers in English.",
    )


def _clean_full_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("full_name must not be blank")
    return value


def _check_password(value: str, email: object = None) -> str:
    """The policy as a validator. The message never contains the password itself."""
    problem = password_problem(value, email=email if isinstance(email, str) else None)
    if problem is not None:
        raise ValueError(problem)
    return value


def _refuse_null(value: Any, info: ValidationInfo) -> Any:
    if value is None:
        raise ValueError(f"{info.field_name} must not be null; leave it out to keep it")
    return value


class UserCreate(InputSchema):
    email: EmailStr = Field(max_length=320)
    password: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH, description=PASSWORD_HELP)
    full_name: str = Field(min_length=1, max_length=100)

    @field_validator("email", mode="before")
    @classmethod
    def _normalize_email(cls, value: object) -> object:
        return normalize_email(value) if isinstance(value, str) else value

    @field_validator("password")
    @classmethod
    def _password_policy(cls, value: str, info: ValidationInfo) -> str:
        return _check_password(value, info.data.get("email"))

    @field_validator("full_name")
    @classmethod
    def _full_name_not_blank(cls, value: str) -> str:
        return _clean_full_name(value)


class MeUpdate(InputSchema):
    """PATCH /auth/me: only the fields given change. A new password needs the current one."""

    full_name: str | None = Field(default=None, min_length=1, max_length=100)
    password: str | None = Field(
        default=None, min_length=MIN_LENGTH, max_length=MAX_LENGTH, description=PASSWORD_HELP
    )
    current_password: str | None = Field(
        default=None,
        max_length=1024,
        description="Your current password; required when `password` is given.",
    )
    reminder_emails: bool | None = Field(
        default=None, description="Mail me a reminder when a task is due within 24 hours."
    )
    digest_emails: bool | None = Field(
        default=None, description="Teachers: mail me a weekly digest."
    )
    locale: Locale | None = Field(
        default=None,
        description="The language of my pages and mails (`en`, `ru`); null clears it "
        "(the browser's language is used).",
    )

    _no_null = field_validator(
        "full_name", "password", "reminder_emails", "digest_emails", mode="before"
    )(_refuse_null)

    @field_validator("full_name")
    @classmethod
    def _full_name_not_blank(cls, value: str) -> str:
        return _clean_full_name(value)

    @field_validator("password")
    @classmethod
    def _password_policy(cls, value: str) -> str:
        return _check_password(value)


class UserUpdate(InputSchema):
    """PATCH /users/{id} (admin): only the fields given change."""

    full_name: str | None = Field(default=None, min_length=1, max_length=100)
    role: UserRole | None = None
    is_active: bool | None = None

    _no_null = field_validator("full_name", "role", "is_active", mode="before")(_refuse_null)

    @field_validator("full_name")
    @classmethod
    def _full_name_not_blank(cls, value: str) -> str:
        return _clean_full_name(value)


class PasswordResetRequest(InputSchema):
    email: EmailStr = Field(max_length=320)

    @field_validator("email", mode="before")
    @classmethod
    def _normalize_email(cls, value: object) -> object:
        return normalize_email(value) if isinstance(value, str) else value


class PasswordResetConfirm(InputSchema):
    token: str = Field(min_length=1, max_length=512, description="The token from the email.")
    new_password: str = Field(
        min_length=MIN_LENGTH, max_length=MAX_LENGTH, description=PASSWORD_HELP
    )

    @field_validator("new_password")
    @classmethod
    def _password_policy(cls, value: str) -> str:
        return _check_password(value)


class EmailVerifyConfirm(InputSchema):
    token: str = Field(min_length=1, max_length=512, description="The token from the email.")


class TokenPair(Schema):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")


class RefreshRequest(InputSchema):
    refresh_token: str = Field(min_length=1, max_length=4096)


class SessionRead(Schema):
    """One of your live sign-in sessions: a device (never a token)."""

    id: str = Field(
        description="Opaque session id, for `DELETE /auth/sessions/{id}`. Not a token: "
        "it signs nobody in."
    )
    kind: Literal["api", "web"] = Field(
        description="`api`: an access/refresh token pair; `web`: a browser's page cookie."
    )
    created_at: datetime = Field(description="When the sign-in happened.")
    last_used_at: datetime = Field(
        description="When the session was last used (updated at most once a minute)."
    )
    expires_at: datetime
    user_agent: str | None = Field(description="The client's User-Agent at sign-in.")
    ip: str | None = Field(description="The client's IP address at sign-in.")
    browser: str | None = Field(description='Parsed from the user agent, e.g. "Firefox 121".')
    os: str | None = Field(description='Parsed from the user agent, e.g. "Windows 10".')
    device: str | None = Field(description='Parsed from the user agent, e.g. "iPhone".')
    label: str = Field(description='What a person reads, e.g. "Firefox 121 on Windows 10".')
    current: bool = Field(description="True for the session making this request.")


# --- social sign-in ----------------------------------------------------------------------

OAuthProvider = Literal["github", "google"]


class OAuthExchangeRequest(InputSchema):
    code: str = Field(
        min_length=1,
        max_length=200,
        description="The one-time code Campus sent to your `client_redirect_uri`.",
    )


class LinkedProviderRead(Schema):
    provider: OAuthProvider
    email: str | None = Field(description="The address the provider vouched for.")
    linked_at: datetime
    last_used_at: datetime
    can_unlink: bool = Field(
        description="False when it is your last way to sign in (no password, no other "
        "provider): unlinking it answers 409."
    )


class SignInMethodsRead(Schema):
    has_password: bool = Field(
        description="Whether you can sign in with a password. Without one, use the "
        "password-reset link to set one."
    )
    linked: list[LinkedProviderRead]
    available: list[OAuthProvider] = Field(
        description="Providers this server offers that your account is not linked to."
    )
