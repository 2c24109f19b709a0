"""Application settings, read from the environment (prefix ``CAMPUS_``).

Settings are never read at import time: call :func:`get_settings` (cached) or receive a
``Settings`` instance explicitly (``create_app(settings)``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET_KEY = "change-me-campus-development-secret-key"  # noqa: S105 - refused in production
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./campus.db"


class ConfigurationError(Exception):
    """The configuration cannot be used (e.g. production with a default secret)."""


def _split_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CAMPUS_", env_file=".env", extra="ignore", validate_default=True
    )

    env: Literal["development", "test", "production"] = "development"
    debug: bool = False
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = DEFAULT_SECRET_KEY

    # Database
    database_url: str = DEFAULT_DATABASE_URL
    # A fixed pool by default: overflow connections are opened for a burst and closed when
    # returned to a full pool, and under sustained load above the pool size that churn
    # (a TCP + TLS + auth handshake per connection) costs more than the wait for a pooled
    # one (docs/performance.md). Size the pool to the concurrency a worker should reach.
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=0, ge=0, le=200)
    # How long a request waits for a free connection before it gets a 503 (Retry-After).
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    db_pool_recycle_seconds: int = Field(default=1800, ge=30)
    # Off: a ping costs round trips per checkout; see campus.db._install_checkout_liveness.
    db_pool_pre_ping: bool = False
    db_echo: bool = False
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)

    redis_url: str | None = None
    # Campus serves without Redis (limits per process, jobs in process, sockets on this
    # instance only), so /health stays 200 ("degraded") while Redis is down, unless this
    # says the deployment needs it: then /health answers 503 and the instance leaves the
    # load balancer.
    # API.md §9: /health is 503 when a dependency is down. false: Redis down is a 200
    # "degraded" (Campus serves without it), e.g. for a readiness probe (deploy/k8s).
    redis_required: bool = True

    # Authentication
    access_token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=14, ge=1, le=365)
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    # Argon2id parameters: OWASP Password Storage Cheat Sheet (m=19 MiB, t=2, p=1).
    argon2_memory_kib: int = Field(default=19 * 1024, ge=8 * 1024)
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_parallelism: int = Field(default=1, ge=1)
    # At most this many hashes run at once (worker threads), so a sign-in storm cannot
    # starve the rest of the API. 1 per core the server may use: measured on one pinned core,
    # 1 gives more sign-ins/s AND lower p99 elsewhere than 2 (docs/performance.md).
    password_hash_concurrency: int = Field(default=1, ge=1, le=64)
    password_reset_minutes: int = Field(default=60, ge=5, le=24 * 60)
    email_verification_hours: int = Field(default=48, ge=1, le=30 * 24)

    # Rate limits, in the `limits` library's notation ("5/15minutes", "20/minute").
    rate_limits_enabled: bool = True
    rate_limit_login_failures: str = "5/15minutes"
    rate_limit_auth: str = "20/minute"
    rate_limit_api: str = "600/minute"
    # The lesson editor's Markdown preview, per teacher (each draft is a render in the
    # Markdown worker; the live pane sends at most one a second while typing).
    rate_limit_preview: str = "120/minute"
    rate_limit_key_prefix: str = Field(default="campus", min_length=1, max_length=64)
    metrics_key_prefix: str = Field(default="campus", min_length=1, max_length=64)

    # Email
    email_backend: Literal["console", "smtp", "sendgrid", "mailgun", "memory"] = "console"
    email_from: str = "Campus <no-reply@campus.example>"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # SendGrid (v3 Mail Send) and Mailgun (v3 messages) over HTTPS. The base URLs select
    # the region (``https://api.eu.sendgrid.com``, ``https://api.eu.mailgun.net``).
    sendgrid_api_key: str | None = None
    sendgrid_api_base: str = "https://api.sendgrid.com"
    mailgun_api_key: str | None = None
    mailgun_domain: str | None = None
    mailgun_api_base: str = "https://api.mailgun.net"
    email_http_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    # Background jobs (campus.jobs). With CAMPUS_REDIS_URL they go through the Redis queue
    # to `campus worker`; without it they run inside the app process after commit.
    jobs_queue_name: str = Field(default="campus", min_length=1, max_length=64)
    jobs_concurrency: int = Field(default=16, ge=1, le=1000)
    jobs_max_tries: int = Field(default=5, ge=1, le=100)
    jobs_retry_base_seconds: float = Field(default=2.0, gt=0, le=3600)
    jobs_retry_max_seconds: float = Field(default=600.0, gt=0, le=86400)
    jobs_timeout_seconds: float = Field(default=300.0, gt=0, le=86400)
    # How long a job taken by a worker that died (SIGKILL, lost host) waits before another
    # worker takes it again; a live worker renews its running jobs well before that.
    jobs_idle_timeout_seconds: float = Field(default=30.0, ge=1, le=3600)
    jobs_shutdown_grace_seconds: int = Field(default=30, ge=0, le=3600)
    jobs_enqueue_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    #: unset: ``<temp dir>/campus-worker-<uid>.heartbeat`` (campus.jobs.heartbeat)
    jobs_heartbeat_file: str | None = Field(default=None, min_length=1, max_length=4096)
    jobs_heartbeat_seconds: float = Field(default=10.0, gt=0, le=3600)
    # Scheduled jobs (reminders, digest, clean-up): in the worker with Redis, in the app
    # process without it. Off: nothing is scheduled (tests).
    jobs_schedule: bool = True
    jobs_reminders_cron: str = "*/10 * * * *"
    jobs_digest_cron: str = "0 7 * * mon"
    jobs_cleanup_cron: str = "17 * * * *"
    # Extra modules whose jobs are registered too (plugins, test jobs).
    job_modules: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Payments (Stripe Checkout). Without a secret key, checkout answers 503; without a
    # webhook secret, the webhook does. The API base is Stripe's unless set (a loopback
    # server speaking Stripe's API stands in for it in tests, or stripe-mock locally).
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None
    stripe_timeout_seconds: float = Field(default=20.0, gt=0, le=120)

    # Certificates (campus.certificates): the Ed25519 key that signs them, as PEM (PKCS#8)
    # or the base64 of its 32-byte seed. Unset in development and tests: a key derived from
    # the secret key. Required in production.
    certificate_signing_key: str | None = None
    # Social sign-in (Authlib). A provider without a client id is not offered and its
    # routes answer 404. The URLs are the providers' own unless set (a loopback provider
    # speaking their protocol stands in for them in tests).
    oauth_github_client_id: str | None = None
    oauth_github_client_secret: str | None = None
    oauth_github_authorize_url: str = "https://github.com/login/oauth/authorize"
    oauth_github_token_url: str = "https://github.com/login/oauth/access_token"  # noqa: S105
    # ``/user`` and ``/user/emails`` are read under this base.
    oauth_github_api_base: str = "https://api.github.com"
    oauth_google_client_id: str | None = None
    oauth_google_client_secret: str | None = None
    # OpenID Connect discovery: names the authorize, token and JWKS endpoints and the issuer.
    oauth_google_metadata_url: str = "https://accounts.google.com/.well-known/openid-configuration"
    # Optional overrides of the discovered endpoints.
    oauth_google_authorize_url: str | None = None
    oauth_google_token_url: str | None = None
    oauth_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # How long a sign-in may take at the provider (the browser-bound state cookie lives so long).
    oauth_state_minutes: int = Field(default=10, ge=1, le=60)
    # How long an API client's one-time code may wait to be exchanged for tokens.
    oauth_exchange_code_seconds: int = Field(default=60, ge=10, le=600)
    # API clients (apps) may have the one-time code sent to these exact URLs
    # (``client_redirect_uri`` of the login route); none: only browser sign-in.
    oauth_client_redirect_uris: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Media (campus.media): course images and PDF attachments. ``local`` keeps the files in
    # ``media_dir`` (the embedded default, beside ./campus.db); ``s3`` in an S3-compatible
    # bucket (through obstore). Uploads are bounded per file and per teacher (the sum of
    # the files they uploaded that still exist).
    media_backend: Literal["local", "s3"] = "local"
    media_dir: str = Field(default="./media", min_length=1, max_length=4096)
    media_max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=1024**3)
    media_quota_bytes: int = Field(default=500 * 1024 * 1024, ge=1024)
    # Images larger than this (either side) are scaled down; thumbnails fit this box.
    media_max_dimension: int = Field(default=2048, ge=64, le=16384)
    media_thumbnail_dimension: int = Field(default=320, ge=32, le=2048)
    # Decoded size bound (width x height): a small file that would decode to more pixels
    # (a decompression bomb) is refused before it is decoded.
    media_max_image_pixels: int = Field(default=40_000_000, ge=10_000, le=1_000_000_000)
    s3_bucket: str | None = None
    # Unset: AWS's endpoint of the region; set for another S3-compatible service (http://
    # endpoints are allowed, e.g. a local test server).
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    # Unset: the usual AWS credential chain (environment, instance/pod role).
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    # HTTP
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_json_depth: int = Field(default=32, ge=1)
    # One Markdown render (lesson content, course description) in the worker process at
    # most this long; past it the text is shown unformatted (campus.kit.markdown).
    markdown_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    health_timeout_seconds: float = Field(default=2.0, gt=0)

    # Real time (chat, notifications, the WebSocket at /api/v1/ws)
    # Author may edit or delete their own chat message for this long after posting.
    chat_edit_window_minutes: int = Field(default=15, ge=0, le=7 * 24 * 60)
    # Prefix of the Redis pub/sub channels (fan-out between instances).
    realtime_channel_prefix: str = Field(default="campus", min_length=1, max_length=64)
    # A text frame larger than this gets an error frame (the socket stays open).
    ws_max_frame_bytes: int = Field(default=16 * 1024, ge=256, le=1024 * 1024)
    # Frames a socket may send: a bucket of ws_frame_burst refilled at ws_frames_per_second.
    # An empty bucket drops the frame with an error; ws_frame_burst more while empty: 1008.
    ws_frames_per_second: float = Field(default=10.0, gt=0, le=10_000)
    ws_frame_burst: int = Field(default=30, ge=1, le=100_000)
    # How often the sockets' sign-in sessions are checked (ended ones close).
    ws_session_check_seconds: float = Field(default=3.0, gt=0, le=300)
    # Frames queued for one socket before it counts as too slow and is closed (1013).
    ws_send_queue: int = Field(default=256, ge=8, le=100_000)
    # Protocol pings of `campus serve` to idle sockets; no pong within the timeout drops it.
    ws_ping_interval_seconds: float = Field(default=20.0, gt=0, le=3600)
    ws_ping_timeout_seconds: float = Field(default=20.0, gt=0, le=3600)

    # Observability
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["console", "json"] | None = None
    sentry_dsn: str | None = None
    sentry_traces_sample_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    metrics_token: str | None = None
    # The garbage collector's young-generation threshold while serving (CPython's default
    # is 700); 0 keeps the interpreter's. See campus.operations.runtime.
    gc_gen0_threshold: int = Field(default=10_000, ge=0, le=1_000_000)
    # Benchmarks only (bench/run.py): sample the event loop's lag and serve it on the
    # unlisted /_bench/loop-lag routes. Off by default.
    bench_loop_lag: bool = False

    @field_validator(
        "cors_origins",
        "trusted_proxies",
        "job_modules",
        "oauth_client_redirect_uris",
        mode="before",
    )
    @classmethod
    def _parse_list(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator(
        "rate_limit_login_failures", "rate_limit_auth", "rate_limit_api", "rate_limit_preview"
    )
    @classmethod
    def _valid_rate_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit in the limits notation: {value!r}") from exc
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator(
        "base_url",
        "sendgrid_api_base",
        "mailgun_api_base",
        "oauth_github_api_base",
    )
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator(
        "stripe_secret_key",
        "stripe_webhook_secret",
        "stripe_api_base",
        "oauth_github_client_id",
        "oauth_github_client_secret",
        "oauth_google_client_id",
        "oauth_google_client_secret",
        "oauth_google_authorize_url",
        "oauth_google_token_url",
        "s3_bucket",
        "s3_endpoint_url",
        "s3_access_key_id",
        "s3_secret_access_key",
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return value.strip()

    @field_validator("certificate_signing_key")
    @classmethod
    def _valid_signing_key(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from campus.kit.ed25519 import load_private_key

        try:
            load_private_key(value)
        except ValueError as exc:
            raise ValueError(f"CAMPUS_CERTIFICATE_SIGNING_KEY: {exc}") from None
        return value.strip()

    @field_validator("stripe_api_base")
    @classmethod
    def _stripe_base(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("CAMPUS_STRIPE_API_BASE must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("jobs_reminders_cron", "jobs_digest_cron", "jobs_cleanup_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError(f"not a crontab: {value!r}")
        return value

    @model_validator(mode="after")
    def _default_log_format(self) -> Settings:
        if self.log_format is None:
            self.log_format = "json" if self.env == "production" else "console"
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_embedded_default(self) -> bool:
        """True for the embedded SQLite default, which migrates itself on start."""
        return self.is_sqlite

    def check_production(self) -> None:
        """Refuse unsafe production settings with one clear line."""
        if self.env != "production":
            return
        problems = []
        if self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < 32:
            problems.append("CAMPUS_SECRET_KEY must be set to a random value of 32+ characters")
        if self.certificate_signing_key is None:
            problems.append(
                "CAMPUS_CERTIFICATE_SIGNING_KEY must be set (an Ed25519 key: PEM or base64 seed)"
            )
        if "*" in self.cors_origins:
            problems.append("CAMPUS_CORS_ORIGINS must not contain '*'")
        if self.debug:
            problems.append("CAMPUS_DEBUG must be off")
        if self.email_backend == "memory":
            problems.append("CAMPUS_EMAIL_BACKEND=memory keeps mail in memory (tests only)")
        if self.email_backend == "sendgrid" and not self.sendgrid_api_key:
            problems.append("CAMPUS_EMAIL_BACKEND=sendgrid needs CAMPUS_SENDGRID_API_KEY")
        if self.email_backend == "mailgun" and not (self.mailgun_api_key and self.mailgun_domain):
            problems.append(
                "CAMPUS_EMAIL_BACKEND=mailgun needs CAMPUS_MAILGUN_API_KEY and "
                "CAMPUS_MAILGUN_DOMAIN"
            )
        if self.media_backend == "s3" and not self.s3_bucket:
            problems.append("CAMPUS_MEDIA_BACKEND=s3 needs CAMPUS_S3_BUCKET")
        for provider in ("github", "google"):
            name = provider.upper()
            if getattr(self, f"oauth_{provider}_client_id") and not getattr(
                self, f"oauth_{provider}_client_secret"
            ):
                problems.append(
                    f"CAMPUS_OAUTH_{name}_CLIENT_ID needs CAMPUS_OAUTH_{name}_CLIENT_SECRET"
                )
        if problems:
            raise ConfigurationError("refusing to start in production: " + "; ".join(problems))


@lru_cache
def get_settings() -> Settings:
    return Settings()
