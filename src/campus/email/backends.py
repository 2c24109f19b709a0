"""Email backends: ``console`` (development), ``smtp`` (aiosmtplib) and ``memory`` (tests).

Only the console backend ever writes a message body to the log, and only outside
production: bodies carry single-use links (password reset, email verification).
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import aiosmtplib

from campus.config import Settings
from campus.email.message import EmailMessage
from campus.log import get_logger

logger = get_logger("campus.email")


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
        logger.info("email_sent", to=message.to, subject=message.subject)


class MemoryBackend:
    """Keeps messages in ``MemoryBackend.outbox`` (tests; refused in production)."""

    outbox: ClassVar[list[EmailMessage]] = []

    def __init__(self, settings: Settings) -> None:
        del settings

    async def send(self, message: EmailMessage) -> None:
        MemoryBackend.outbox.append(message)


def get_backend(settings: Settings) -> EmailBackend:
    backends: dict[str, type[ConsoleBackend | SmtpBackend | MemoryBackend]] = {
        "console": ConsoleBackend,
        "smtp": SmtpBackend,
        "memory": MemoryBackend,
    }
    return backends[settings.email_backend](settings)
