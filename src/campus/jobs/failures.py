"""Permanent failures (dead letters): recorded by the runner, listed and retried by the CLI."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from campus.kit.clock import utcnow
from campus.models.jobs import JobEffect, JobFailure


def encode_payload(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)


async def record_failure(
    session: AsyncSession, *, job: str, payload: Any, error: str, attempts: int
) -> JobFailure:
    text = encode_payload(payload) if isinstance(payload, dict) else json.dumps(str(payload))
    failure = JobFailure(job=job[:100], payload=text, error=error[:2000], attempts=attempts)
    session.add(failure)
    await session.flush()
    return failure


async def list_failures(
    session: AsyncSession, *, include_retried: bool = False, limit: int = 100
) -> Sequence[JobFailure]:
    statement = select(JobFailure).order_by(JobFailure.id.desc()).limit(limit)
    if not include_retried:
        statement = statement.where(JobFailure.retried_at.is_(None))
    return (await session.scalars(statement)).all()


async def take_for_retry(session: AsyncSession, failure_id: int) -> JobFailure | None:
    """Mark the failure retried and return it (None if unknown or already retried)."""
    failure = await session.get(JobFailure, failure_id, with_for_update=True)
    if failure is None or failure.retried_at is not None:
        return None
    failure.retried_at = utcnow()
    await session.flush()
    return failure


def decode_payload(failure: JobFailure) -> dict[str, Any]:
    value = json.loads(failure.payload)
    if not isinstance(value, dict):
        raise ValueError("the stored payload is not an object")
    return value


async def claim_effect(session: AsyncSession, key: str, *, job: str) -> bool:
    """Write the unique key of an effect in the current transaction; False if it exists.

    Call it in the same unit of work as the effect: if the transaction rolls back, the key
    goes with it; if another run committed the key first, this one does nothing. One
    ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` statement.
    """
    return key[:200] in await claim_effects(session, [key], job=job)


async def claim_effects(session: AsyncSession, keys: list[str], *, job: str) -> set[str]:
    """Write many effect keys at once; return the ones that were new (one statement)."""
    if not keys:
        return set()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = utcnow()
    insert: Any = dialect.insert(JobEffect)
    stmt = (
        insert.values([{"key": k[:200], "job": job[:100], "created_at": now} for k in keys])
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(JobEffect.key)
    )
    return set((await session.execute(stmt)).scalars().all())


async def effect_done(session: AsyncSession, key: str) -> bool:
    return await session.get(JobEffect, key) is not None


async def forget_effects(session: AsyncSession, *, prefix: str, before: datetime) -> int:
    """Delete effect keys starting with ``prefix`` written before ``before``."""
    stmt = delete(JobEffect).where(JobEffect.key.startswith(prefix), JobEffect.created_at < before)
    return int((await session.execute(stmt)).rowcount or 0)  # type: ignore[attr-defined]
