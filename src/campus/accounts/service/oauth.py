"""Social sign-in (GitHub, Google): start the flow, finish it, link or create the account,
one-time codes for API clients, and the linked sign-in methods of a user.

The flow, step by step:

1. ``begin_sign_in``: Authlib makes the authorization URL with a fresh random ``state``
   (and, for Google, a PKCE verifier and a nonce). Those go into a **signed, short-lived,
   HttpOnly cookie** scoped to the OAuth routes, so the callback only works in the browser
   that started the flow.
2. ``read_flow``: at the callback, the cookie must be there, unexpired, for this provider,
   and its ``state`` must equal the returned one; otherwise nothing happens (400).
3. ``sign_in_with_provider``: the code is exchanged and the profile read *without holding a
   database connection*; then the ``state``'s hash is stored, so the same callback cannot be
   replayed (single use), and the profile is matched: by provider subject, else by a
   **verified** email of an existing user (who gets the link), else a new student without
   a password is created.
4. The browser gets a web session; an API client gets a one-time code (a minute, single
   use) at its registered redirect URL, exchanged for tokens by ``exchange_code``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts import repository
from campus.accounts.oauth_clients import PROVIDER_LABELS, OAuthProviders, ProviderProfile
from campus.accounts.schemas import TokenPair
from campus.accounts.service.sessions import start_session
from campus.accounts.service.signin import ACCOUNT_DISABLED
from campus.config import Settings
from campus.db import connection_released
from campus.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from campus.kit.clock import utcnow
from campus.kit.i18n import N_
from campus.models.accounts import OAuthAccount, User, UserRole

PROVIDERS: tuple[str, ...] = tuple(PROVIDER_LABELS)
STATE_COOKIE_PREFIX = "campus_oauth_"
STATE_COOKIE_PATH = "/api/v1/auth/oauth/"
CALLBACK_PATH = "/api/v1/auth/oauth/{provider}/callback"
MAX_CLIENT_STATE = 500

UNKNOWN_PROVIDER = "No such sign-in provider."
STATE_INVALID = N_(
    "This sign-in did not start in this browser, has already been used or has expired, "
    "so it was stopped. Please sign in again."
)


def configured_providers(settings: Settings) -> list[str]:
    """The providers this server offers (those with a client id), in display order."""
    return [name for name in PROVIDERS if getattr(settings, f"oauth_{name}_client_id")]


def not_linked(provider: str) -> NotFound:
    return NotFound(
        N_("Your account is not linked to %(provider)s."),
        code="not-linked",
        variables={"provider": provider_label(provider)},
    )


def provider_label(provider: str) -> str:
    return PROVIDER_LABELS.get(provider, provider)


def require_provider(settings: Settings, provider: str) -> None:
    """404 for an unknown provider and for one this server has not configured."""
    if provider not in configured_providers(settings):
        raise NotFound(UNKNOWN_PROVIDER, code="oauth-provider-not-found")


def state_cookie_name(provider: str) -> str:
    return STATE_COOKIE_PREFIX + provider


def callback_url(settings: Settings, provider: str) -> str:
    return settings.base_url + CALLBACK_PATH.format(provider=provider)


def has_password(user: User) -> bool:
    """Whether the user can sign in with a password (social-only accounts cannot, until
    they set one through the password-reset link)."""
    return user.password_hash is not None


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


# --- the browser-bound flow cookie -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlowState:
    """What the callback needs, as the browser's flow cookie carries it."""

    provider: str
    state: str
    code_verifier: str | None
    nonce: str | None
    next_path: str
    client_redirect_uri: str | None
    client_state: str | None
    expires: int  # unix seconds
    # Link the provider to the user signed in on the site instead of signing in.
    link: bool = False

    @property
    def for_api_client(self) -> bool:
        return self.client_redirect_uri is not None


def _mac(settings: Settings, body: str) -> str:
    digest = hmac.new(
        settings.secret_key.encode(), f"oauth-flow:{body}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def seal_flow(settings: Settings, flow: FlowState) -> str:
    payload = {
        "p": flow.provider,
        "s": flow.state,
        "v": flow.code_verifier,
        "n": flow.nonce,
        "x": flow.next_path,
        "r": flow.client_redirect_uri,
        "c": flow.client_state,
        "e": flow.expires,
        "l": flow.link,
    }
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
    text = body.decode().rstrip("=")
    return f"{text}.{_mac(settings, text)}"


def _unseal(settings: Settings, value: str | None) -> dict[str, Any] | None:
    if not value or len(value) > 4000 or "." not in value:
        return None
    body, _, mac = value.rpartition(".")
    if not hmac.compare_digest(mac, _mac(settings, body)):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True, slots=True)
class StartedSignIn:
    """Where to send the browser, and the flow cookie to set on that redirect."""

    authorize_url: str
    cookie_name: str
    cookie_value: str
    max_age: int


async def begin_sign_in(
    settings: Settings,
    providers: OAuthProviders,
    *,
    provider: str,
    next_path: str,
    client_redirect_uri: str | None = None,
    client_state: str | None = None,
    link: bool = False,
) -> StartedSignIn:
    """The authorization URL of ``provider`` and the cookie binding the flow to this browser.

    ``client_redirect_uri`` (API clients) must be one of ``CAMPUS_OAUTH_CLIENT_REDIRECT_URIS``
    exactly; the one-time code goes there at the end, with ``client_state`` echoed back.
    """
    require_provider(settings, provider)
    if client_redirect_uri is not None and (
        client_redirect_uri not in settings.oauth_client_redirect_uris
    ):
        raise ValidationFailed.field(
            ["query", "client_redirect_uri"],
            "This redirect URI is not registered (CAMPUS_OAUTH_CLIENT_REDIRECT_URIS).",
        )
    if link and client_redirect_uri is not None:
        raise ValidationFailed.field(
            ["query", "link"], "Linking is for the site's pages, not for API clients."
        )
    if client_state is not None and len(client_state) > MAX_CLIENT_STATE:
        raise ValidationFailed.field(
            ["query", "client_state"], f"Use at most {MAX_CLIENT_STATE} characters."
        )
    request = await providers.authorization_request(
        provider, redirect_uri=callback_url(settings, provider)
    )
    lifetime = settings.oauth_state_minutes * 60
    flow = FlowState(
        provider=provider,
        state=request.state,
        code_verifier=request.code_verifier,
        nonce=request.nonce,
        next_path=next_path,
        client_redirect_uri=client_redirect_uri,
        client_state=client_state,
        expires=int(time.time()) + lifetime,
        link=link,
    )
    return StartedSignIn(
        authorize_url=request.url,
        cookie_name=state_cookie_name(provider),
        cookie_value=seal_flow(settings, flow),
        max_age=lifetime,
    )


def peek_flow(settings: Settings, *, provider: str, cookie_value: str | None) -> FlowState | None:
    """The flow this browser started with ``provider``, if its cookie is genuine and
    unexpired (not yet checked against a returned ``state``)."""
    data = _unseal(settings, cookie_value)
    if data is None or data.get("p") != provider:
        return None
    try:
        flow = FlowState(
            provider=str(data["p"]),
            state=str(data["s"]),
            code_verifier=_opt(data.get("v")),
            nonce=_opt(data.get("n")),
            next_path=str(data.get("x") or "/"),
            client_redirect_uri=_opt(data.get("r")),
            client_state=_opt(data.get("c")),
            expires=int(data["e"]),
            link=data.get("l") is True,
        )
    except (KeyError, TypeError, ValueError):
        return None
    if flow.expires <= time.time():
        return None
    return flow


def _opt(value: object) -> str | None:
    return value if isinstance(value, str) else None


def read_flow(
    settings: Settings, *, provider: str, cookie_value: str | None, state: str | None
) -> FlowState:
    """The browser's flow, if the returned ``state`` is the one it was given; else 400
    (forged, missing, expired, or from another browser)."""
    flow = peek_flow(settings, provider=provider, cookie_value=cookie_value)
    if (
        flow is None
        or not state
        or len(state) > 500
        or not hmac.compare_digest(flow.state.encode(), state.encode("utf-8", "surrogatepass"))
    ):
        raise BadRequest(STATE_INVALID, code="oauth-state-invalid")
    return flow


class ProviderDenied(BadRequest):
    """The provider came back with ``error=...`` (the person said no, or it failed)."""

    code = "oauth-denied"


def provider_error(provider: str, error: str) -> ProviderDenied:
    label = provider_label(provider)
    if error == "access_denied":
        return ProviderDenied(
            f"Signing in with {label} was cancelled: {label} did not share your account "
            "with Campus. You can try again, or sign in another way."
        )
    return ProviderDenied(
        f"{label} could not sign you in ({error[:60]}). Please try again, or sign in another way."
    )


# --- finishing the sign-in -------------------------------------------------------------------


async def sign_in_with_provider(
    session: AsyncSession,
    settings: Settings,
    providers: OAuthProviders,
    *,
    flow: FlowState,
    code: str | None,
    signed_in: User | None = None,
) -> User:
    """Finish a checked flow: exchange ``code``, use the ``state`` up, and return the user
    the provider account belongs to (linking or creating it). A linking flow
    (``flow.link``) attaches the provider account to ``signed_in``, the user signed in on
    the site, instead. Nothing is written unless the whole step succeeds."""
    if flow.link and signed_in is None:
        raise BadRequest(
            N_(
                "Sign in to Campus first, then link your %(label)s account from your "
                "sign-in methods."
            ),
            code="oauth-link-needs-sign-in",
            variables={"label": provider_label(flow.provider)},
        )
    if not code or len(code) > 2000:
        raise BadRequest(
            N_("%(label)s sent no authorization code."),
            code="oauth-failed",
            variables={"label": provider_label(flow.provider)},
        )
    async with connection_released(session):
        profile = await providers.profile(
            flow.provider,
            code=code,
            redirect_uri=callback_url(settings, flow.provider),
            code_verifier=flow.code_verifier,
            nonce=flow.nonce,
        )
    async with session.begin_nested():  # one savepoint: a refusal leaves nothing behind
        try:
            async with session.begin_nested():
                await repository.add_oauth_state(
                    session,
                    state_hash=_hash(f"{flow.provider}:{flow.state}"),
                    expires_at=datetime.fromtimestamp(flow.expires, tz=UTC),
                )
        except IntegrityError as exc:
            raise BadRequest(STATE_INVALID, code="oauth-state-invalid") from exc
        if signed_in is not None and flow.link:
            await attach_provider(session, signed_in, profile=profile)
            return signed_in
        return await link_or_create_user(session, profile=profile)


async def attach_provider(session: AsyncSession, user: User, *, profile: ProviderProfile) -> None:
    """Link a provider account to ``user`` (who is signed in and has just proven the
    provider account too, so its email need not match or be verified)."""
    label = provider_label(profile.provider)
    if not profile.subject or len(profile.subject) > 255:
        raise BadRequest(
            N_("%(label)s sent an account id Campus cannot use."),
            code="oauth-failed",
            variables={"label": label},
        )
    now = utcnow()
    email = (profile.email or "").strip().lower()[:320] or None
    linked = await repository.get_oauth_account(
        session, provider=profile.provider, subject=profile.subject
    )
    if linked is not None:
        if linked.user_id != user.id:
            raise Conflict(
                N_("This %(label)s account is already linked to another Campus account."),
                code="oauth-account-taken",
                variables={"label": label},
            )
        linked.last_used_at = now
        await session.flush()
        return
    if await repository.get_user_oauth_account(session, user_id=user.id, provider=profile.provider):
        raise Conflict(
            N_("Your account is already linked to another %(label)s account; unlink it first."),
            code="oauth-account-mismatch",
            variables={"label": label},
        )
    await _add_link(
        session,
        user_id=user.id,
        profile=profile,
        email=email,
        now=now,
        lost_race=Conflict(
            N_("This %(label)s account was just linked by another request."),
            code="oauth-account-taken",
            variables={"label": label},
        ),
    )


async def _add_link(
    session: AsyncSession,
    *,
    user_id: int,
    profile: ProviderProfile,
    email: str | None,
    now: datetime,
    lost_race: Conflict,
) -> None:
    """Link the provider account to ``user_id``; ``lost_race`` if a concurrent request
    linked it (or this user's account of that provider) first."""
    try:
        async with session.begin_nested():
            session.add(
                OAuthAccount(
                    user_id=user_id,
                    provider=profile.provider,
                    subject=profile.subject,
                    email=email,
                    created_at=now,
                    last_used_at=now,
                )
            )
    except IntegrityError as exc:
        raise lost_race from exc


def _check_active(user: User) -> None:
    if not user.is_active:
        raise Forbidden(ACCOUNT_DISABLED, code="account-disabled")


NO_VERIFIED_EMAIL = N_(
    "%(label)s did not give Campus a verified email address for this account, so we cannot "
    "tell whether it is yours. Verify your primary email address at %(label)s (or make a "
    "verified one primary) and try again, or create an account with a password."
)


async def link_or_create_user(session: AsyncSession, *, profile: ProviderProfile) -> User:
    """The user of a provider account: the one linked to its subject; else the user whose
    email the provider has *verified* (who gets the link); else a new student without a
    password. A provider account without a verified email is refused (400)."""
    label = provider_label(profile.provider)
    if not profile.subject or len(profile.subject) > 255:
        raise BadRequest(
            N_("%(label)s sent an account id Campus cannot use."),
            code="oauth-failed",
            variables={"label": label},
        )
    now = utcnow()
    email = (profile.email or "").strip().lower()
    email_ok = profile.email_verified and 3 <= len(email) <= 320 and "@" in email
    linked = await repository.get_oauth_account(
        session, provider=profile.provider, subject=profile.subject
    )
    if linked is not None:
        user = await repository.get_user(session, linked.user_id)
        if user is None:  # pragma: no cover - the foreign key cascades
            raise NotFound(N_("No such user."))
        _check_active(user)
        linked.last_used_at = now
        if email_ok:
            linked.email = email
        await session.flush()
        return user
    if not email_ok:
        raise BadRequest(
            NO_VERIFIED_EMAIL, code="oauth-email-unverified", variables={"label": label}
        )
    user = await repository.get_user_by_email(session, email)
    if user is not None:
        _check_active(user)
        other = await repository.get_user_oauth_account(
            session, user_id=user.id, provider=profile.provider
        )
        if other is not None:
            raise Conflict(
                N_(
                    "The Campus account for %(email)s is already linked to another %(label)s "
                    "account. Sign in with that one, or unlink it first."
                ),
                code="oauth-account-mismatch",
                variables={"email": email, "label": label},
            )
        # The provider has verified the address: it is this person's.
        user.is_verified = True
    else:
        name = (profile.name or email.split("@", 1)[0]).replace("\x00", "").strip()[:100]
        user = User(
            email=email,
            full_name=name or email[:100],
            role=UserRole.STUDENT,
            password_hash=None,
            is_verified=True,
        )
        try:
            async with session.begin_nested():
                session.add(user)
        except IntegrityError as exc:
            raise Conflict(
                N_("An account with this email was just created; please sign in again."),
                code="email-taken",
            ) from exc
    await _add_link(
        session,
        user_id=user.id,
        profile=profile,
        email=email,
        now=now,
        lost_race=Conflict(
            N_("This %(label)s account was just linked by another sign-in; please sign in again."),
            code="oauth-account-mismatch",
            variables={"label": label},
        ),
    )
    return user


# --- API clients: the one-time code ----------------------------------------------------------


async def issue_exchange_code(
    session: AsyncSession, settings: Settings, user: User, *, provider: str
) -> str:
    """A one-time code for ``user`` (valid ``CAMPUS_OAUTH_EXCHANGE_CODE_SECONDS``); only its
    hash is stored."""
    code = secrets.token_urlsafe(32)
    await repository.add_oauth_exchange_code(
        session,
        code_hash=_hash(code),
        user_id=user.id,
        provider=provider,
        expires_at=utcnow() + timedelta(seconds=settings.oauth_exchange_code_seconds),
    )
    return code


INVALID_CODE = "This sign-in code is invalid, has already been used or has expired."


async def exchange_code(
    session: AsyncSession,
    settings: Settings,
    *,
    code: str,
    user_agent: str | None,
    ip: str | None,
) -> TokenPair:
    """Tokens for a one-time code (the code is dead after this, whatever happens next)."""
    found = await repository.consume_oauth_exchange_code(
        session, code_hash=_hash(code), now=utcnow()
    )
    if found is None:
        raise BadRequest(INVALID_CODE, code="invalid-code")
    user_id, provider = found
    user = await repository.get_user(session, user_id)
    if user is None or not user.is_active:
        raise BadRequest(INVALID_CODE, code="invalid-code")
    return await start_session(
        session, settings, user, user_agent=user_agent, ip=ip, method=provider
    )


# --- linked sign-in methods ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkedProvider:
    provider: str
    label: str
    email: str | None
    linked_at: datetime
    last_used_at: datetime
    can_unlink: bool


@dataclass(frozen=True, slots=True)
class SignInMethods:
    """How a user can sign in: a password, linked providers, and providers to link."""

    has_password: bool
    linked: list[LinkedProvider]
    available: list[str]  # configured providers not linked yet


async def sign_in_methods(
    session: AsyncSession, settings: Settings, user: User, *, for_update: bool = False
) -> SignInMethods:
    accounts = await repository.list_oauth_accounts(session, user_id=user.id, for_update=for_update)
    configured = configured_providers(settings)
    password = has_password(user)
    usable = [a.provider for a in accounts if a.provider in configured]
    linked = [
        LinkedProvider(
            provider=a.provider,
            label=provider_label(a.provider),
            email=a.email,
            linked_at=a.created_at,
            last_used_at=a.last_used_at,
            can_unlink=password or any(p != a.provider for p in usable),
        )
        for a in accounts
    ]
    have = {a.provider for a in accounts}
    return SignInMethods(
        has_password=password,
        linked=linked,
        available=[p for p in configured if p not in have],
    )


LAST_METHOD = N_(
    '%(label)s is your only way to sign in to Campus. Set a password (through "Forgot '
    'password?" on the sign-in page) or link another provider before you unlink it.'
)


async def unlink_provider(
    session: AsyncSession, settings: Settings, user: User, *, provider: str
) -> None:
    """Remove the link to ``provider`` (404 if there is none), unless it is the user's last
    way to sign in: no password and no other configured provider (409)."""
    if provider not in PROVIDERS:
        raise NotFound(UNKNOWN_PROVIDER, code="oauth-provider-not-found")
    account = await repository.get_user_oauth_account(session, user_id=user.id, provider=provider)
    if account is None:
        raise not_linked(provider)
    methods = await sign_in_methods(session, settings, user, for_update=True)
    entry = next((m for m in methods.linked if m.provider == provider), None)
    if entry is None:  # unlinked by a concurrent request meanwhile
        raise not_linked(provider)
    if not entry.can_unlink:
        raise Conflict(
            LAST_METHOD,
            code="last-sign-in-method",
            variables={"label": provider_label(provider)},
        )
    await repository.delete_oauth_account(session, account)
