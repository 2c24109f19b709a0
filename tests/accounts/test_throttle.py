"""Login throttling and the auth rate limit, on memory storage and on the real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.errors import RateLimited
from campus.main import create_app
from campus.ratelimit import RateLimiter
from tests.accounts.conftest import ClientFactory, login
from tests.conftest import REDIS_TEST_URL, service_unavailable
from tests.factories import DEFAULT_PASSWORD, create_user


@pytest.fixture(params=["memory", "redis"])
async def storage(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """Settings for the limiter's storage; Redis gets a unique key prefix, deleted after."""
    if request.param == "memory":
        yield {"redis_url": None}
        return
    redis = Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1)
    try:
        await redis.ping()
    except Exception as exc:
        await redis.aclose()
        service_unavailable(f"Redis at {REDIS_TEST_URL} is unreachable: {exc}")
    prefix = f"campus-test-{uuid.uuid4().hex[:12]}"
    try:
        yield {"redis_url": REDIS_TEST_URL, "rate_limit_key_prefix": prefix}
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def _limited(make_client: ClientFactory, storage: dict[str, Any], **kw: Any) -> Any:
    return await make_client(rate_limits_enabled=True, **storage, **kw)


def _from(ip: str) -> dict[str, dict[str, str]]:
    return {"headers": {"X-Forwarded-For": ip}}


async def test_five_failures_per_email_then_429(
    make_client: ClientFactory,
    storage: dict[str, Any],
    session: AsyncSession,
    settings: Settings,
) -> None:
    client = await _limited(make_client, storage)
    user = await create_user(session, settings)
    for attempt in range(5):
        # from five different IPs: the email's own counter trips
        response = await login(client, user.email, "wrong-password", **_from(f"10.0.0.{attempt}"))
        assert response.status_code == 401
    blocked = await login(client, user.email, DEFAULT_PASSWORD, **_from("10.0.1.1"))
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 15 * 60
    assert blocked.headers["content-type"] == "application/problem+json"
    assert blocked.json()["status"] == 429
    assert blocked.headers["ratelimit-remaining"] == "0"
    # an unknown email is counted just the same (no enumeration)
    for attempt in range(5):
        ghost = await login(client, "ghost@example.com", "whatever-1", **_from(f"10.2.0.{attempt}"))
        assert ghost.status_code == 401
    assert (await login(client, "ghost@example.com", "x", **_from("10.2.9.9"))).status_code == 429


async def test_five_failures_per_ip_then_429(
    make_client: ClientFactory,
    storage: dict[str, Any],
    session: AsyncSession,
    settings: Settings,
) -> None:
    client = await _limited(make_client, storage)
    victim = await create_user(session, settings)
    for attempt in range(5):
        response = await login(
            client, f"spray{attempt}@example.com", "guess-123", **_from("10.9.9.9")
        )
        assert response.status_code == 401
    blocked = await login(client, victim.email, DEFAULT_PASSWORD, **_from("10.9.9.9"))
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    # another IP is not affected
    assert (
        await login(client, victim.email, DEFAULT_PASSWORD, **_from("10.9.9.8"))
    ).status_code == 200


async def test_success_does_not_reset_another_ips_counter(
    make_client: ClientFactory,
    storage: dict[str, Any],
    session: AsyncSession,
    settings: Settings,
) -> None:
    client = await _limited(make_client, storage, rate_limit_login_failures="5/15minutes")
    user = await create_user(session, settings)
    other = await create_user(session, settings)
    attacker = _from("10.3.3.3")
    for _ in range(4):
        assert (
            await login(client, f"x-{uuid.uuid4().hex}@example.com", "g-1", **attacker)
        ).status_code == 401
    # the real user signs in from elsewhere
    assert (
        await login(client, user.email, DEFAULT_PASSWORD, **_from("10.4.4.4"))
    ).status_code == 200
    assert (
        await login(client, f"y-{uuid.uuid4().hex}@example.com", "g-2", **attacker)
    ).status_code == 401
    # the attacker's IP used up its five failures
    assert (await login(client, other.email, DEFAULT_PASSWORD, **attacker)).status_code == 429


async def test_auth_limit_on_register_and_password_reset(
    make_client: ClientFactory, storage: dict[str, Any]
) -> None:
    client = await _limited(make_client, storage, rate_limit_auth="3/minute")
    for i in range(3):
        response = await client.post(
            "/api/v1/auth/password-reset", json={"email": f"r{i}@example.com"}, **_from("10.5.5.5")
        )
        assert response.status_code == 202
    blocked = await client.post(
        "/api/v1/auth/register",
        json={"email": "late@example.com", "password": "a-long-passphrase", "full_name": "L"},
        **_from("10.5.5.5"),
    )
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    elsewhere = await client.post(
        "/api/v1/auth/register",
        json={"email": "late@example.com", "password": "a-long-passphrase", "full_name": "L"},
        **_from("10.5.5.6"),
    )
    assert elsewhere.status_code == 201


async def test_x_forwarded_for_is_ignored_from_untrusted_peers(
    make_client: ClientFactory, storage: dict[str, Any]
) -> None:
    client = await _limited(make_client, storage, trusted_proxies=[], rate_limit_auth="2/minute")
    for i in range(2):
        response = await client.post(
            "/api/v1/auth/password-reset", json={"email": "a@example.com"}, **_from(f"10.6.0.{i}")
        )
        assert response.status_code == 202
    spoofed = await client.post(
        "/api/v1/auth/password-reset", json={"email": "a@example.com"}, **_from("10.6.0.9")
    )
    assert spoofed.status_code == 429


async def test_limits_can_be_switched_off(make_client: ClientFactory) -> None:
    client = await make_client(rate_limits_enabled=False)
    for _ in range(8):
        assert (await login(client, "off@example.com", "wrong-pass")).status_code == 401


async def test_limiter_component(storage: dict[str, Any]) -> None:
    limiter = RateLimiter(
        storage_uri=storage["redis_url"], prefix=storage.get("rate_limit_key_prefix", "t")
    )
    key = uuid.uuid4().hex
    await limiter.hit("2/minute", "unit", key)
    await limiter.hit("2/minute", "unit", key)
    with pytest.raises(RateLimited) as caught:
        await limiter.hit("2/minute", "unit", key)
    assert 1 <= caught.value.retry_after <= 60
    with pytest.raises(RateLimited):
        await limiter.check("2/minute", "unit", key)
    await limiter.check("2/minute", "unit", "another-key")
    await limiter.clear("2/minute", "unit", key)
    await limiter.check("2/minute", "unit", key)


async def test_unreachable_redis_falls_back_to_process_memory() -> None:
    """Redis down: the limits still hold, counted in this process (tests/faults covers an
    outage and the return of Redis against a real redis-server)."""
    limiter = RateLimiter(storage_uri="redis://127.0.0.1:1/0", prefix="down")
    await limiter.hit("1/minute", "unit", "k")
    assert limiter.degraded
    with pytest.raises(RateLimited):
        await limiter.hit("1/minute", "unit", "k")
    assert await limiter.allow("1/minute", "unit", "k") is False
    assert await limiter.allow("1/minute", "unit", "other") is True


async def test_login_form_rejects_oversized_and_missing_fields(client: httpx.AsyncClient) -> None:
    assert (
        await client.post("/api/v1/auth/login", data={"username": "a@b.com"})
    ).status_code == 422
    assert (await client.post("/api/v1/auth/login", data={"password": "x"})).status_code == 422
    long = await client.post(
        "/api/v1/auth/login", data={"username": "a" * 400 + "@b.com", "password": "x"}
    )
    assert long.status_code == 422


async def test_api_rate_limit_per_account_and_per_ip(
    make_client: ClientFactory,
    storage: dict[str, Any],
    session: AsyncSession,
    settings: Settings,
) -> None:
    from tests.factories import auth_headers

    client = await _limited(make_client, storage, rate_limit_api="3/minute")
    alice = await create_user(session, settings)
    bob = await create_user(session, settings)
    alice_h = await auth_headers(session, settings, alice)
    bob_h = await auth_headers(session, settings, bob)
    for _ in range(3):
        assert (await client.get("/api/v1/auth/me", headers=alice_h)).status_code == 200
    limited = await client.get("/api/v1/auth/me", headers=alice_h)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["ratelimit-limit"] == "3"
    assert limited.json()["type"].endswith("rate-limited")
    # another account from the same address is counted on its own
    assert (await client.get("/api/v1/auth/me", headers=bob_h)).status_code == 200
    # anonymous requests count per IP
    for _ in range(3):
        assert (await client.get("/api/v1/courses", **_from("203.0.113.9"))).status_code == 200
    assert (await client.get("/api/v1/courses", **_from("203.0.113.9"))).status_code == 429
    assert (await client.get("/api/v1/courses", **_from("203.0.113.10"))).status_code == 200
    # pages and operations are not under the API limit
    assert (await client.get("/health/live", **_from("203.0.113.9"))).status_code == 200


@pytest.fixture
async def committed_factory(
    settings: Settings, engine: Any
) -> AsyncIterator[Callable[..., Awaitable[tuple[httpx.AsyncClient, FastAPI]]]]:
    """Apps whose requests really commit, so parallel requests use parallel connections."""
    from tests.conftest import truncate_all

    async with AsyncExitStack() as stack:

        async def factory(**overrides: Any) -> tuple[httpx.AsyncClient, FastAPI]:
            overrides.setdefault("trusted_proxies", ["127.0.0.1"])
            app = create_app(settings.model_copy(update=overrides))
            stack.push_async_callback(app.state.database.dispose)
            transport = httpx.ASGITransport(app=app)
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://testserver")
            )
            return client, app

        try:
            yield factory
        finally:
            await stack.aclose()
            await truncate_all(engine)


async def _committed_user(app: FastAPI, settings: Settings) -> str:
    async with app.state.database.sessionmaker() as db:
        user = await create_user(db, settings)
        await db.commit()
        return user.email


@pytest.mark.parametrize("per", ["email", "ip"])
async def test_a_burst_of_guesses_checks_at_most_the_limit(
    committed_factory: Callable[..., Awaitable[tuple[httpx.AsyncClient, FastAPI]]],
    storage: dict[str, Any],
    settings: Settings,
    per: str,
) -> None:
    """40 wrong guesses at once: at most 5 passwords are verified, the rest are 429
    before any verify; afterwards the right password is 429 too.
    (Before: the limit was checked before the verify and counted after it, so all 40
    were checked.)"""
    client, app = await _limited_committed(committed_factory, storage)
    email = await _committed_user(app, settings)
    if per == "email":  # one account from 40 addresses
        guesses = [
            login(client, email, f"wrong-guess-{i}", **_from(f"10.40.0.{i}")) for i in range(40)
        ]
    else:  # 40 accounts (known or not) from one address
        guesses = [
            login(client, f"spray{i}@example.test", "guess-pass-1", **_from("10.41.0.1"))
            for i in range(40)
        ]
    responses = await asyncio.gather(*guesses)
    statuses = [r.status_code for r in responses]
    # A 401 is a verified password; a 429 was refused before any verify.
    assert statuses.count(401) <= 5, statuses
    assert statuses.count(429) >= 35, statuses
    assert set(statuses) == {401, 429}
    again = await login(
        client, email, DEFAULT_PASSWORD, **_from("10.40.1.1" if per == "email" else "10.41.0.1")
    )
    assert again.status_code == 429
    assert int(again.headers["retry-after"]) >= 1


async def _limited_committed(
    factory: Callable[..., Awaitable[tuple[httpx.AsyncClient, FastAPI]]], storage: dict[str, Any]
) -> tuple[httpx.AsyncClient, FastAPI]:
    return await factory(rate_limits_enabled=True, **storage)


async def test_a_right_password_gives_its_place_back(storage: dict[str, Any]) -> None:
    limiter = RateLimiter(
        storage_uri=storage["redis_url"], prefix=storage.get("rate_limit_key_prefix", "t")
    )
    key = uuid.uuid4().hex
    first = await limiter.reserve("2/minute", "unit", key)
    second = await limiter.reserve("2/minute", "unit", key)
    with pytest.raises(RateLimited) as caught:
        await limiter.reserve("2/minute", "unit", key)
    assert 1 <= caught.value.retry_after <= 60
    await limiter.release(second)
    third = await limiter.reserve("2/minute", "unit", key)
    assert third is not None
    assert first is not None
    await limiter.release(first)
    await limiter.release(third)
    await limiter.reserve("2/minute", "unit", key)
    await limiter.aclose()


async def test_reservations_fall_back_to_memory_when_redis_is_down() -> None:
    """These limits guard passwords: with Redis unreachable they still hold, per process."""
    limiter = RateLimiter(storage_uri="redis://127.0.0.1:1/0", prefix="down")
    await limiter.reserve("1/minute", "unit", "k")
    with pytest.raises(RateLimited):
        await limiter.reserve("1/minute", "unit", "k")
    await limiter.aclose()
