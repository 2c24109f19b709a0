"""The social sign-in providers, through Authlib's Starlette/httpx OAuth client.

One :class:`OAuthProviders` per app holds an Authlib ``StarletteOAuth2App`` for each
configured provider (a provider without a client id is simply absent):

- **GitHub** (OAuth 2.0): the code is exchanged at the token URL (client id and secret in
  the form body, as GitHub documents), then ``GET /user`` names the account and
  ``GET /user/emails`` gives its addresses; only the *primary* address counts, and only
  when GitHub has verified it.
- **Google** (OpenID Connect): endpoints, issuer and signing keys come from the discovery
  document; the authorization request carries a PKCE challenge (S256) and a nonce, and the
  ID token is verified by Authlib (signature from the JWKS, issuer, audience, expiry,
  nonce, ``at_hash``). ``email_verified`` must be true for the address to count.

Authlib keeps the flow's temporary data in ``request.session`` when it drives the whole
redirect itself; Campus has no such session, so this module uses Authlib's lower level
(``create_authorization_url``, ``fetch_access_token``, ``parse_id_token``, ``get``) and the
accounts service keeps ``state``, the PKCE verifier and the nonce in a signed cookie bound
to the browser. Library and network errors become CampusErrors here, so the service and
the HTTP layer see one error tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import joserfc.errors
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth

from campus.config import Settings
from campus.errors import BadGateway, BadRequest
from campus.log import get_logger

logger = get_logger("campus.accounts.oauth")

PROVIDER_LABELS: dict[str, str] = {"github": "GitHub", "google": "Google"}
GITHUB_SCOPE = "read:user user:email"
GOOGLE_SCOPE = "openid email profile"


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the browser, and what the callback needs to finish the flow."""

    url: str
    state: str
    code_verifier: str | None
    nonce: str | None


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    """Who signed in at the provider."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None


class SignInFailed(BadRequest):
    """The provider did not let the sign-in finish (bad code, bad ID token...)."""

    code = "oauth-failed"


def _failed(provider: str, exc: Exception) -> BadRequest | BadGateway:
    label = PROVIDER_LABELS.get(provider, provider)
    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code >= 500:
        logger.warning("oauth_provider_error", provider=provider, status=exc.response.status_code)
        return BadGateway(f"{label} did not answer properly; try again in a moment.")
    if isinstance(exc, httpx.TransportError):
        logger.warning("oauth_provider_unreachable", provider=provider, error=type(exc).__name__)
        return BadGateway(f"{label} could not be reached; try again in a moment.")
    logger.info("oauth_sign_in_failed", provider=provider, error=repr(exc)[:200])
    return SignInFailed(f"Signing in with {label} did not work. Please try again.")


class OAuthProviders:
    """The configured providers of one app."""

    def __init__(self, settings: Settings) -> None:
        self._oauth = OAuth()
        self._apps: dict[str, Any] = {}
        client_kwargs: dict[str, Any] = {"timeout": settings.oauth_timeout_seconds}
        if settings.oauth_github_client_id:
            self._apps["github"] = self._oauth.register(
                name="github",
                client_id=settings.oauth_github_client_id,
                client_secret=settings.oauth_github_client_secret,
                authorize_url=settings.oauth_github_authorize_url,
                access_token_url=settings.oauth_github_token_url,
                api_base_url=settings.oauth_github_api_base + "/",
                client_kwargs={
                    **client_kwargs,
                    "scope": GITHUB_SCOPE,
                    "token_endpoint_auth_method": "client_secret_post",
                },
            )
        if settings.oauth_google_client_id:
            self._apps["google"] = self._oauth.register(
                name="google",
                client_id=settings.oauth_google_client_id,
                client_secret=settings.oauth_google_client_secret,
                server_metadata_url=settings.oauth_google_metadata_url,
                authorize_url=settings.oauth_google_authorize_url,
                access_token_url=settings.oauth_google_token_url,
                client_kwargs={
                    **client_kwargs,
                    "scope": GOOGLE_SCOPE,
                    "code_challenge_method": "S256",
                },
            )

    @property
    def names(self) -> list[str]:
        """The configured providers, in the order the pages offer them."""
        return [name for name in PROVIDER_LABELS if name in self._apps]

    def is_configured(self, provider: str) -> bool:
        return provider in self._apps

    async def authorization_request(
        self, provider: str, *, redirect_uri: str
    ) -> AuthorizationRequest:
        """A fresh authorization URL with a new random ``state`` (and PKCE and nonce for
        OpenID Connect)."""
        app = self._apps[provider]
        try:
            created = await app.create_authorization_url(redirect_uri)
        except (AuthlibBaseError, httpx.HTTPError, ValueError, KeyError, RuntimeError) as exc:
            raise _failed(provider, exc) from exc
        return AuthorizationRequest(
            url=created["url"],
            state=created["state"],
            code_verifier=created.get("code_verifier"),
            nonce=created.get("nonce"),
        )

    async def profile(
        self,
        provider: str,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str | None,
        nonce: str | None,
    ) -> ProviderProfile:
        """Exchange the authorization code and read who signed in."""
        app = self._apps[provider]
        try:
            if provider == "github":
                return await self._github(app, code=code, redirect_uri=redirect_uri)
            return await self._google(
                app, code=code, redirect_uri=redirect_uri, code_verifier=code_verifier, nonce=nonce
            )
        except (
            AuthlibBaseError,
            joserfc.errors.JoseError,
            httpx.HTTPError,
            ValueError,
            KeyError,
            TypeError,
            RuntimeError,
        ) as exc:
            raise _failed(provider, exc) from exc

    async def _github(self, app: Any, *, code: str, redirect_uri: str) -> ProviderProfile:
        token = await app.fetch_access_token(code=code, redirect_uri=redirect_uri)
        user_response = await app.get("user", token=token)
        user_response.raise_for_status()
        user = user_response.json()
        emails_response = await app.get("user/emails", token=token)
        emails_response.raise_for_status()
        primary = next(
            (
                entry
                for entry in emails_response.json()
                if isinstance(entry, dict) and entry.get("primary")
            ),
            None,
        )
        email = primary.get("email") if primary else None
        return ProviderProfile(
            provider="github",
            subject=str(int(user["id"])),
            email=email if isinstance(email, str) else None,
            email_verified=bool(primary and primary.get("verified") is True),
            name=_text(user.get("name")) or _text(user.get("login")),
        )

    async def _google(
        self,
        app: Any,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str | None,
        nonce: str | None,
    ) -> ProviderProfile:
        if not code_verifier or not nonce:
            raise ValueError("the Google flow needs its PKCE verifier and nonce")
        token = await app.fetch_access_token(
            code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        if "id_token" not in token:
            raise ValueError("Google answered without an ID token")
        claims = await app.parse_id_token(token, nonce=nonce)
        email = claims.get("email")
        return ProviderProfile(
            provider="google",
            subject=str(claims["sub"]),
            email=email if isinstance(email, str) else None,
            email_verified=claims.get("email_verified") is True,
            name=_text(claims.get("name")),
        )


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
