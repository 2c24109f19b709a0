"""Mail as a job, through SendGrid and Mailgun loopback servers that check each request as
the provider would; retries on 429/5xx, permanent failure (provider message kept) on 4xx."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from campus.config import Settings
from campus.email import MemoryBackend, wait_for_outgoing
from campus.main import create_app
from tests.jobs.conftest import WorkerProcess, effect_keys, failed_jobs, wait_until
from tests.jobs.providers import Answer, MailgunServer, SendGridServer

SENDGRID_KEY = "SG.test-key"
MAILGUN_KEY = "key-test-mailgun"
MAILGUN_DOMAIN = "mg.campus.example"


@pytest.fixture
def sendgrid() -> Iterator[SendGridServer]:
    server = SendGridServer(SENDGRID_KEY).start()
    yield server
    server.stop()


@pytest.fixture
def mailgun() -> Iterator[MailgunServer]:
    server = MailgunServer(MAILGUN_KEY, MAILGUN_DOMAIN).start()
    yield server
    server.stop()


AppFactory = Callable[..., Any]


@pytest.fixture
async def make_app(settings: Settings, committed: AsyncEngine) -> AsyncIterator[AppFactory]:
    """Apps whose requests really commit (mail jobs may record failures on their own)."""
    apps: list[Any] = []

    def factory(**overrides: Any) -> httpx.AsyncClient:
        app = create_app(settings.model_copy(update=overrides))
        apps.append(app)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    yield factory
    for app in apps:
        await app.state.jobs.close()
        await app.state.database.dispose()


async def register(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": "a-long-passphrase", "full_name": "Mail Test"},
    )
    assert response.status_code == 201, response.text


def sendgrid_settings(server: SendGridServer, key: str = SENDGRID_KEY) -> dict[str, Any]:
    return {
        "email_backend": "sendgrid",
        "sendgrid_api_base": server.base_url,
        "sendgrid_api_key": key,
    }


def mailgun_settings(server: MailgunServer, domain: str = MAILGUN_DOMAIN) -> dict[str, Any]:
    return {
        "email_backend": "mailgun",
        "mailgun_api_base": server.base_url,
        "mailgun_api_key": MAILGUN_KEY,
        "mailgun_domain": domain,
    }


async def test_sendgrid_delivers_the_verification_mail(
    make_app: AppFactory, sendgrid: SendGridServer
) -> None:
    async with make_app(**sendgrid_settings(sendgrid)) as client:
        await register(client, "sg@example.com")
        await wait_for_outgoing()
    [body] = sendgrid.wait_for(1)
    assert body["personalizations"] == [{"to": [{"email": "sg@example.com"}]}]
    assert body["from"] == {"email": "no-reply@campus.example", "name": "Campus"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert "http://testserver/verify-email?token=" in body["content"][0]["value"]
    assert body["subject"]


async def test_sendgrid_429_and_5xx_are_retried(
    make_app: AppFactory, sendgrid: SendGridServer, committed: AsyncEngine
) -> None:
    sendgrid.script = [
        Answer(429, {"errors": [{"message": "too many requests"}]}, {"Retry-After": "0"}),
        Answer(503, {"errors": [{"message": "Service Unavailable"}]}),
    ]
    async with make_app(**sendgrid_settings(sendgrid)) as client:
        await register(client, "retry@example.com")
        await wait_for_outgoing()
    assert len(sendgrid.wait_for(1)) == 1
    assert sendgrid.requests == 3
    assert await failed_jobs(committed) == []


async def test_sendgrid_rejection_fails_for_good_with_the_providers_message(
    make_app: AppFactory, sendgrid: SendGridServer, committed: AsyncEngine
) -> None:
    async with make_app(**sendgrid_settings(sendgrid, key="SG.wrong")) as client:
        await register(client, "rejected@example.com")
        await wait_for_outgoing()
    assert sendgrid.requests == 1  # a 401 is not retried
    [failure] = await failed_jobs(committed)
    assert failure.job == "email.send"
    assert failure.attempts == 1
    assert failure.error == (
        "mail to 'rejected@example.com' rejected: SendGrid 401: "
        "The provided authorization grant is invalid, expired, or revoked"
    )


async def test_mailgun_delivers_and_retries(
    make_app: AppFactory, mailgun: MailgunServer, committed: AsyncEngine
) -> None:
    mailgun.script = [Answer(500, {"message": "Internal Server Error"})]
    async with make_app(**mailgun_settings(mailgun)) as client:
        await register(client, "mg@example.com")
        await wait_for_outgoing()
    [fields] = mailgun.wait_for(1)
    assert mailgun.requests == 2
    assert fields["from"] == "Campus <no-reply@campus.example>"
    assert fields["to"] == "mg@example.com"
    assert "http://testserver/verify-email?token=" in fields["text"]
    assert "<" in fields["html"]
    assert await failed_jobs(committed) == []


async def test_mailgun_unknown_domain_fails_for_good(
    make_app: AppFactory, mailgun: MailgunServer, committed: AsyncEngine
) -> None:
    async with make_app(**mailgun_settings(mailgun, domain="other.example")) as client:
        await register(client, "nodomain@example.com")
        await wait_for_outgoing()
    [failure] = await failed_jobs(committed)
    assert failure.error.endswith("rejected: Mailgun 404: Domain not found")


async def test_unreachable_provider_is_retried_then_kept_as_failed(
    make_app: AppFactory, committed: AsyncEngine
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with make_app(
        email_backend="sendgrid",
        sendgrid_api_base=f"http://127.0.0.1:{port}",
        sendgrid_api_key=SENDGRID_KEY,
        jobs_max_tries=2,
    ) as client:
        await register(client, "down@example.com")
        await wait_for_outgoing()
    # email.send allows 8 tries; the setting only caps jobs without their own maximum.
    [failure] = await failed_jobs(committed)
    assert failure.attempts == 8
    assert "SendGrid: ConnectError" in failure.error


async def test_redis_down_at_enqueue_falls_back_to_this_process(make_app: AppFactory) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = len(MemoryBackend.outbox)
    async with make_app(redis_url=f"redis://127.0.0.1:{port}/0") as client:
        await register(client, "fallback@example.com")  # the request does not fail
        await wait_for_outgoing()
        metrics = (await client.get("/metrics")).text
    assert [m.to for m in MemoryBackend.outbox[start:]] == ["fallback@example.com"]
    assert 'campus_jobs_enqueued_total{job="email.send"} 1.0' in metrics
    assert 'campus_jobs_succeeded_total{job="email.send"} 1.0' in metrics
    assert "campus_jobs_queue_depth 0.0" in metrics


async def test_mail_through_the_worker(
    make_app: AppFactory,
    sendgrid: SendGridServer,
    job_settings: Settings,
    workers: list[WorkerProcess],
    committed: AsyncEngine,
) -> None:
    overrides = sendgrid_settings(sendgrid)
    workers.append(WorkerProcess(job_settings.model_copy(update=overrides)).wait_ready())
    async with make_app(
        redis_url=job_settings.redis_url, jobs_queue_name=job_settings.jobs_queue_name, **overrides
    ) as client:
        await register(client, "worker-mail@example.com")
        await wait_for_outgoing()
    [body] = sendgrid.wait_for(1, timeout=60)
    assert body["personalizations"][0]["to"][0]["email"] == "worker-mail@example.com"
    # From the queue a job may be delivered twice: the sent mail's key is kept.
    [key] = await wait_until(lambda: effect_keys(committed, "email:"))
    assert len(key) == len("email:") + 32
