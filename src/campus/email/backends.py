"""Email backends: ``console`` (development), ``smtp`` (aiosmtplib), ``sendgrid`` and
``mailgun`` (their HTTP APIs through httpx) and ``memory`` (tests).

A backend raises :class:`EmailTemporaryFailure` for what may work later (a 429, a 5xx, a
timeout, a 4xx SMTP reply) and :class:`EmailRejected` for what never will (another 4xx, a
5xx SMTP reply), with the provider's own message. The mail job retries the first and fails
for good on the second.

Only the console backend ever writes a message body to the log, and only outside
production: bodies carry single-use links (password reset, email verification).
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import aiosmtplib
import httpx

from campus.config import Settings
from campus.email.message import EmailMessage
from campus.log import get_logger

logger = get_logger("campus.email")


class EmailDeliveryError(Exception):
    """The message was not delivered; ``detail`` is the provider's own message."""

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail[:1000]
        self.status = status


class EmailTemporaryFailure(EmailDeliveryError):
    """Worth trying again later (rate limited, provider down, network)."""

    def __init__(
        self, detail: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(detail, status=status)
        self.retry_after = retry_after


class EmailRejected(EmailDeliveryError):
    """Will never work as it is (bad key, bad address, refused content)."""


class EmailBackend(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` or raise."""


class ConsoleBackend:
    """Writes each message to the log. For development: no mail leaves the machine."""

    def __init__(self, settings: Settings) -> None:
        self._sender = settings.email_from
        self._with_body = settings.env != "production"

    async def send(self, message: EmailMessage) -> None:
        if self._with_body:
            logger.info(
                "email_console",
                sender=self._sender,
                to=message.to,
                subject=message.subject,
                body=message.text,
            )
        else:
            logger.warning(
                "email_console_not_delivered",
                to=message.to,
                subject=message.subject,
                hint="set CAMPUS_EMAIL_BACKEND=smtp to deliver mail",
            )


class SmtpBackend:
    """Delivers through an SMTP server (implicit TLS, STARTTLS or plain, with optional login)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage) -> None:
        s = self._settings
        try:
            await aiosmtplib.send(
                message.to_mime(s.email_from),
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username or None,
                password=s.smtp_password or None,
                use_tls=s.smtp_ssl,
                start_tls=False if s.smtp_ssl else s.smtp_starttls,
                timeout=s.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPResponseException as exc:
            # RFC 5321: 4yz is a transient negative reply, 5yz a permanent one.
            detail = f"SMTP {exc.code}: {exc.message}"
            if 400 <= exc.code < 500:
                raise EmailTemporaryFailure(detail, status=exc.code) from exc
            raise EmailRejected(detail, status=exc.code) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise EmailTemporaryFailure(f"SMTP: {type(exc).__name__}: {exc}") from exc
        logger.info("email_sent", to=message.to, subject=message.subject)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _check_response(provider: str, response: httpx.Response, detail: str) -> None:
    """429 and 5xx are temporary; any other non-2xx is a rejection."""
    status = response.status_code
    if 200 <= status < 300:
        return
    text = f"{provider} {status}: {detail}"
    if status == 429 or status >= 500:
        raise EmailTemporaryFailure(text, status=status, retry_after=_retry_after(response))
    raise EmailRejected(text, status=status)


async def _post(provider: str, seconds: float, **request: Any) -> httpx.Response:
    try:
        async with httpx.AsyncClient(timeout=seconds) as client:
            return await client.post(**request)
    except httpx.HTTPError as exc:
        raise EmailTemporaryFailure(f"{provider}: {type(exc).__name__}: {exc}") from exc


class SendGridBackend:
    """SendGrid v3 Mail Send: ``POST /v3/mail/send``, ``Authorization: Bearer <key>``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def payload(self, message: EmailMessage) -> dict[str, Any]:
        name, address = email.utils.parseaddr(self._settings.email_from)
        sender: dict[str, str] = {"email": address}
        if name:
            sender["name"] = name
        content = [{"type": "text/plain", "value": message.text}]
        if message.html is not None:
            content.append({"type": "text/html", "value": message.html})
        return {
            "personalizations": [{"to": [{"email": message.to}]}],
            "from": sender,
            "subject": message.subject,
            "content": content,
        }

    async def send(self, message: EmailMessage) -> None:
        s = self._settings
        if not s.sendgrid_api_key:
            raise EmailRejected("SendGrid: CAMPUS_SENDGRID_API_KEY is not set")
        response = await _post(
            "SendGrid",
            s.email_http_timeout_seconds,
            url=f"{s.sendgrid_api_base}/v3/mail/send",
            json=self.payload(message),
            headers={"Authorization": f"Bearer {s.sendgrid_api_key}"},
        )
        _check_response("SendGrid", response, _sendgrid_detail(response))
        logger.info("email_sent", to=message.to, subject=message.subject, provider="sendgrid")


def _sendgrid_detail(response: httpx.Response) -> str:
    # {"errors": [{"message": "...", "field": "...", "help": ...}]}
    try:
        errors = response.json().get("errors") or []
        messages = [str(e.get("message")) for e in errors if isinstance(e, dict)]
        if messages:
            return "; ".join(messages)
    except (ValueError, AttributeError):
        pass
    return response.text[:500]


class MailgunBackend:
    """Mailgun: ``POST /v3/<domain>/messages``, basic auth ``api:<key>``, form fields."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def fields(self, message: EmailMessage) -> dict[str, str]:
        data = {
            "from": self._settings.email_from,
            "to": message.to,
            "subject": message.subject,
            "text": message.text,
        }
        if message.html is not None:
            data["html"] = message.html
        return data

    async def send(self, message: EmailMessage) -> None:
        s = self._settings
        if not (s.mailgun_api_key and s.mailgun_domain):
            raise EmailRejected(
                "Mailgun: CAMPUS_MAILGUN_API_KEY and CAMPUS_MAILGUN_DOMAIN are needed"
            )
        response = await _post(
            "Mailgun",
            s.email_http_timeout_seconds,
            url=f"{s.mailgun_api_base}/v3/{s.mailgun_domain}/messages",
            data=self.fields(message),
            auth=("api", s.mailgun_api_key),
        )
        _check_response("Mailgun", response, _mailgun_detail(response))
        logger.info("email_sent", to=message.to, subject=message.subject, provider="mailgun")


def _mailgun_detail(response: httpx.Response) -> str:
    # {"message": "..."}
    try:
        detail = response.json().get("message")
        if detail:
            return str(detail)
    except (ValueError, AttributeError):
        pass
    return response.text[:500]


class MemoryBackend:
    """Keeps messages in ``MemoryBackend.outbox`` (tests; refused in production)."""

    outbox: ClassVar[list[EmailMessage]] = []

    def __init__(self, settings: Settings) -> None:
        del settings

    async def send(self, message: EmailMessage) -> None:
        MemoryBackend.outbox.append(message)


def get_backend(settings: Settings) -> EmailBackend:
    backends: dict[str, Callable[[Settings], EmailBackend]] = {
        "console": ConsoleBackend,
        "smtp": SmtpBackend,
        "sendgrid": SendGridBackend,
        "mailgun": MailgunBackend,
        "memory": MemoryBackend,
    }
    return backends[settings.email_backend](settings)
