"""The SMTP backend against a real SMTP server (aiosmtpd) on a free port; the tests follow
the links in the received mail."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import socket
from collections.abc import Iterator
from email.message import EmailMessage as MimeMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from campus.email import EmailMessage, SmtpBackend, wait_for_outgoing
from tests.accounts.conftest import ClientFactory, bearer, login

LINK = re.compile(r"(https?://\S+?)\?token=([A-Za-z0-9_\-]+)")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[MimeMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, MimeMessage)
        self.messages.append(parsed)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def link(self, to: str, path: str) -> str:
        for message in reversed(self.messages):
            if message["To"] != to:
                continue
            body = message.get_body(preferencelist=("plain",))
            assert body is not None
            for base, token in LINK.findall(body.get_content()):
                if base.endswith(path):
                    return f"{base}?token={token}"
        raise AssertionError(f"no {path} link for {to}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _smtp_settings(port: int) -> dict[str, Any]:
    return {
        "email_backend": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": False,
        "smtp_ssl": False,
        "email_from": "Campus <no-reply@campus.example>",
    }


async def _wait_for_mail(inbox: Inbox, count: int) -> None:
    await wait_for_outgoing()
    for _ in range(100):
        if len(inbox.messages) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} messages, got {len(inbox.messages)}")


async def test_smtp_backend_sends_text_and_html(
    smtp_server: tuple[Inbox, int], settings: Any
) -> None:
    inbox, port = smtp_server
    backend = SmtpBackend(settings.model_copy(update=_smtp_settings(port)))
    await backend.send(
        EmailMessage(to="x@example.com", subject="Hi", text="plain body", html="<p>html</p>")
    )
    [message] = inbox.messages
    assert message["Subject"] == "Hi"
    assert message["From"] == "Campus <no-reply@campus.example>"
    assert message["Message-ID"]
    assert inbox.envelopes == [("no-reply@campus.example", ["x@example.com"])]
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None
    assert "plain body" in plain.get_content()
    assert html is not None
    assert "<p>html</p>" in html.get_content()


async def test_register_verify_and_reset_through_smtp(
    smtp_server: tuple[Inbox, int], make_client: ClientFactory
) -> None:
    inbox, port = smtp_server
    client = await make_client(**_smtp_settings(port), base_url="http://campus.example")
    address = "smtp-user@example.com"
    created = await client.post(
        "/api/v1/auth/register",
        json={"email": address, "password": "a-long-passphrase", "full_name": "Sam Smtp"},
    )
    assert created.status_code == 201
    await _wait_for_mail(inbox, 1)
    link = inbox.link(address, "/verify-email")
    assert link.startswith("http://campus.example/verify-email?token=")
    html = inbox.messages[0].get_body(preferencelist=("html",))
    assert html is not None
    assert link in html.get_content()
    token = link.split("token=")[1]
    assert (
        await client.post("/api/v1/auth/verify-email/confirm", json={"token": token})
    ).status_code == 204

    assert (
        await client.post("/api/v1/auth/password-reset", json={"email": address})
    ).status_code == 202
    await _wait_for_mail(inbox, 2)
    link = inbox.link(address, "/reset-password")
    token = link.split("token=")[1]
    confirm = await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "a-fresh-passphrase"},
    )
    assert confirm.status_code == 204
    tokens = (await login(client, address, "a-fresh-passphrase")).json()
    me = (await client.get("/api/v1/auth/me", headers=bearer(tokens))).json()
    assert me["is_verified"] is True


async def test_unreachable_smtp_does_not_fail_the_request(make_client: ClientFactory) -> None:
    client = await make_client(**_smtp_settings(_free_port()), smtp_timeout_seconds=2)
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "down@example.com", "password": "a-long-passphrase", "full_name": "D"},
    )
    assert response.status_code == 201
    await wait_for_outgoing()
