"""Outgoing email, free of any domain: messages, templates, backends, after-commit delivery.

A service builds a message with :func:`render_email` and hands it to
:func:`send_after_commit`; the message is delivered by the mail job (``email.send``)
through the configured backend (``CAMPUS_EMAIL_BACKEND``), only if the unit of work
commits.
"""

from campus.email.backends import (
    ConsoleBackend,
    EmailBackend,
    EmailDeliveryError,
    EmailRejected,
    EmailTemporaryFailure,
    MailgunBackend,
    MemoryBackend,
    SendGridBackend,
    SmtpBackend,
    get_backend,
)
from campus.email.message import EmailMessage
from campus.email.outbox import send_after_commit, wait_for_outgoing
from campus.email.templates import render_email

__all__ = [
    "ConsoleBackend",
    "EmailBackend",
    "EmailDeliveryError",
    "EmailMessage",
    "EmailRejected",
    "EmailTemporaryFailure",
    "MailgunBackend",
    "MemoryBackend",
    "SendGridBackend",
    "SmtpBackend",
    "get_backend",
    "render_email",
    "send_after_commit",
    "wait_for_outgoing",
]
