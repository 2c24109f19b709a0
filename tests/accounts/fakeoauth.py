"""A loopback OAuth provider speaking the parts of GitHub's and Google's protocols Campus
uses, served by uvicorn on a free port so Authlib's real httpx client talks HTTP to it.

GitHub (OAuth 2.0), under ``/github``:
- ``GET /login/oauth/authorize`` (auto-approves, as GitHub does for an app the person has
  authorized before): 302 to ``redirect_uri?code=...&state=...``, or ``error=access_denied``
  when :attr:`FakeProvider.deny` is set;
- ``POST /login/oauth/access_token``: client id and secret in the form body, a single-use
  code for the same ``redirect_uri``; JSON token, or GitHub's 200 + ``{"error": ...}``;
- ``GET /api/user`` and ``GET /api/user/emails`` with the bearer token.

Google (OpenID Connect), under ``/google``:
- ``GET /.well-known/openid-configuration``, ``GET /jwks`` (an RSA test key);
- ``GET /authorize``: requires ``code_challenge`` (S256) and ``nonce``;
- ``POST /token``: HTTP Basic client authentication, the PKCE ``code_verifier`` checked
  against the challenge; answers with an access token and an ID token signed RS256 with
  the test key (``iss``, ``aud``, ``sub``, ``email``, ``email_verified``, ``nonce``,
  ``at_hash``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

GITHUB_CLIENT_ID = "gh-client-campus"
GITHUB_CLIENT_SECRET = "gh-secret-campus-0123456789"
GOOGLE_CLIENT_ID = "google-client-campus.apps.example"
GOOGLE_CLIENT_SECRET = "google-secret-campus-0123456789"


@dataclass
class GitHubAccount:
    id: int
    login: str
    name: str | None
    emails: list[dict[str, Any]]


@dataclass
class GoogleAccount:
    sub: str
    email: str
    email_verified: bool
    name: str | None


@dataclass
class _Grant:
    provider: str
    redirect_uri: str
    account: Any
    challenge: str | None = None
    nonce: str | None = None


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass
class FakeProvider:
    url: str = ""
    #: the accounts that sign in next (tests set them)
    github: GitHubAccount = field(
        default_factory=lambda: GitHubAccount(
            1001,
            "octo",
            "Octo Cat",
            [{"email": "octo@example.com", "primary": True, "verified": True}],
        )
    )
    google: GoogleAccount = field(
        default_factory=lambda: GoogleAccount("g-2002", "gina@example.com", True, "Gina G")
    )
    deny: bool = False
    #: claims to change in the next ID tokens (a wrong nonce, audience, issuer...)
    id_token_overrides: dict[str, Any] = field(default_factory=dict)
    #: sign the next ID tokens with a key that is not in the JWKS
    sign_with_stranger_key: bool = False
    #: the token endpoints answer with this HTTP status (e.g. 503) instead of a token
    token_status: int | None = None
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, private=True))
    codes: dict[str, _Grant] = field(default_factory=dict)
    tokens: dict[str, Any] = field(default_factory=dict)
    #: the query of every authorization request, newest last
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def reset(self) -> None:
        """Back to the default accounts, approving, with no codes or tokens outstanding."""
        fresh = FakeProvider()
        self.github, self.google, self.deny = fresh.github, fresh.google, False
        self.id_token_overrides = {}
        self.sign_with_stranger_key = False
        self.token_status = None
        self.codes.clear()
        self.tokens.clear()
        self.authorize_requests.clear()
        self.token_requests.clear()

    # --- shared ---------------------------------------------------------------------------

    def _authorize(self, request: Request, provider: str, client_id: str) -> Response:
        query = dict(request.query_params)
        self.authorize_requests.append(query)
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != client_id or not redirect_uri:
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        state = query.get("state")
        if self.deny:
            params = {"error": "access_denied", "error_description": "The user said no."}
            if state:
                params["state"] = state
            return RedirectResponse(f"{redirect_uri}?{urlencode(params)}", status_code=302)
        grant = _Grant(provider=provider, redirect_uri=redirect_uri, account=None)
        if provider == "github":
            grant.account = self.github
        else:
            if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            grant.challenge = query["code_challenge"]
            grant.nonce = query.get("nonce")
            grant.account = self.google
        code = secrets.token_urlsafe(16)
        self.codes[code] = grant
        params = {"code": code}
        if state:
            params["state"] = state
        return RedirectResponse(f"{redirect_uri}?{urlencode(params)}", status_code=302)

    def _take_code(self, form: dict[str, str], provider: str) -> _Grant | None:
        grant = self.codes.pop(form.get("code", ""), None)  # single use
        if grant is None or grant.provider != provider:
            return None
        if grant.redirect_uri != form.get("redirect_uri"):
            return None
        return grant

    # --- GitHub ---------------------------------------------------------------------------

    async def gh_authorize(self, request: Request) -> Response:
        return self._authorize(request, "github", GITHUB_CLIENT_ID)

    async def gh_token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.token_requests.append(form)
        if self.token_status is not None:
            return Response("upstream trouble", status_code=self.token_status)
        if (
            form.get("client_id") != GITHUB_CLIENT_ID
            or form.get("client_secret") != GITHUB_CLIENT_SECRET
        ):
            return JSONResponse({"error": "incorrect_client_credentials"})
        grant = self._take_code(form, "github")
        if grant is None:
            return JSONResponse(
                {"error": "bad_verification_code", "error_description": "The code is wrong."}
            )
        token = "gho_" + secrets.token_urlsafe(20)
        self.tokens[token] = grant.account
        return JSONResponse({"access_token": token, "token_type": "bearer", "scope": "user:email"})

    def _gh_account(self, request: Request) -> GitHubAccount | None:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        account = self.tokens.get(token) if scheme.lower() in ("bearer", "token") else None
        return account if isinstance(account, GitHubAccount) else None

    async def gh_user(self, request: Request) -> Response:
        account = self._gh_account(request)
        if account is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse({"id": account.id, "login": account.login, "name": account.name})

    async def gh_emails(self, request: Request) -> Response:
        account = self._gh_account(request)
        if account is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse(account.emails)

    # --- Google ---------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return f"{self.url}/google"

    async def g_metadata(self, request: Request) -> Response:
        base = self.issuer
        return JSONResponse(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
            }
        )

    async def g_jwks(self, request: Request) -> Response:
        public = self.key.as_dict(private=False)
        public.update({"kid": "test-key-1", "use": "sig", "alg": "RS256"})
        return JSONResponse({"keys": [public]})

    async def g_authorize(self, request: Request) -> Response:
        return self._authorize(request, "google", GOOGLE_CLIENT_ID)

    async def g_token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.token_requests.append(form)
        if self.token_status is not None:
            return Response("upstream trouble", status_code=self.token_status)
        expected = base64.b64encode(f"{GOOGLE_CLIENT_ID}:{GOOGLE_CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self._take_code(form, "google")
        if grant is None:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        verifier = form.get("code_verifier", "")
        if not verifier or _s256(verifier) != grant.challenge:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "PKCE verification failed"},
                status_code=400,
            )
        account: GoogleAccount = grant.account
        access_token = "ya29." + secrets.token_urlsafe(20)
        digest = hashlib.sha256(access_token.encode()).digest()
        at_hash = base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": GOOGLE_CLIENT_ID,
            "sub": account.sub,
            "email": account.email,
            "email_verified": account.email_verified,
            "name": account.name,
            "iat": now,
            "exp": now + 3600,
            "nonce": grant.nonce,
            "at_hash": at_hash,
        }
        claims.update(self.id_token_overrides)
        key = RSAKey.generate_key(2048, private=True) if self.sign_with_stranger_key else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key-1"}, claims, key)
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 3599,
                "scope": "openid email profile",
                "id_token": id_token,
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/github/login/oauth/authorize", self.gh_authorize),
                Route("/github/login/oauth/access_token", self.gh_token, methods=["POST"]),
                Route("/github/api/user", self.gh_user),
                Route("/github/api/user/emails", self.gh_emails),
                Route("/google/.well-known/openid-configuration", self.g_metadata),
                Route("/google/jwks", self.g_jwks),
                Route("/google/authorize", self.g_authorize),
                Route("/google/token", self.g_token, methods=["POST"]),
            ]
        )

    def settings_update(self) -> dict[str, Any]:
        """The Campus settings that point both providers here."""
        return {
            "oauth_github_client_id": GITHUB_CLIENT_ID,
            "oauth_github_client_secret": GITHUB_CLIENT_SECRET,
            "oauth_github_authorize_url": f"{self.url}/github/login/oauth/authorize",
            "oauth_github_token_url": f"{self.url}/github/login/oauth/access_token",
            "oauth_github_api_base": f"{self.url}/github/api",
            "oauth_google_client_id": GOOGLE_CLIENT_ID,
            "oauth_google_client_secret": GOOGLE_CLIENT_SECRET,
            "oauth_google_metadata_url": f"{self.url}/google/.well-known/openid-configuration",
        }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_fake_provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    port = _free_port()
    fake.url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(
        fake.app(), host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-oauth", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake OAuth provider did not start")
        time.sleep(0.02)
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)
