"""Permanent failures (dead letters): recorded by the runner, listed and retried by the CLI."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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


async def claim_effects(
    db: AsyncSession | AsyncConnection, keys: Sequence[str], *, job: str
) -> set[str]:
    """Write many effect keys at once; return the ones that were new (one statement)."""
    return await claim_keys(db, [(key, job) for key in keys])


async def claim_keys(
    db: AsyncSession | AsyncConnection, keys: Sequence[tuple[str, str]]
) -> set[str]:
    """Write ``(key, job)`` pairs in one ``INSERT ... ON CONFLICT DO NOTHING RETURNING``;
    return the keys that were new. Works in a unit of work (a session) or on a Core
    connection (:mod:`campus.jobs.batch`); the statement is compiled once per dialect."""
    if not keys:
        return set()
    bind = db.get_bind() if isinstance(db, AsyncSession) else db
    now = utcnow()
    rows = {key[:200]: job[:100] for key, job in keys}  # a key twice: written once
    params = [{"key": key, "job": job, "created_at": now} for key, job in rows.items()]
    result = await db.execute(_claim_statement(bind.dialect.name), params)
    return set(result.scalars().all())


@cache
def _claim_statement(dialect_name: str) -> Any:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table: Any = JobEffect.__table__
    return (
        dialect.insert(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key)
    )


async def effect_done(session: AsyncSession, key: str) -> bool:
    return await session.get(JobEffect, key) is not None


async def forget_effects(session: AsyncSession, *, prefix: str, before: datetime) -> int:
    """Delete effect keys starting with ``prefix`` written before ``before``."""
    stmt = delete(JobEffect).where(JobEffect.key.startswith(prefix), JobEffect.created_at < before)
    return int((await session.execute(stmt)).rowcount or 0)  # type: ignore[attr-defined]
