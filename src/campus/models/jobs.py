"""Background-job bookkeeping: permanent failures (dead letters) and effect keys.

A job's *effect* (a reminder, a digest, a notification of one lesson to one student) is
written under a unique key in the same transaction as the effect itself, so a job that is
delivered twice (a worker killed after the commit, before the acknowledgement) finds the key
taken and does nothing the second time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from campus.db import Base
from campus.kit.types import UTCDateTime
from campus.models._columns import created_at_column


class JobFailure(Base):
    """A job that failed for good: kept until someone retries it (``campus jobs retry ID``)."""

    __tablename__ = "job_failures"
    __table_args__ = (Index("ix_job_failures_failed_at", "failed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(100))
    # The job's arguments as JSON text (ids only), exactly as they were enqueued.
    payload: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(String(2000))
    attempts: Mapped[int] = mapped_column(Integer)
    failed_at: Mapped[datetime] = created_at_column()
    retried_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class JobEffect(Base):
    """The unique key of one effect of a job, written in the effect's own transaction."""

    __tablename__ = "job_effects"
    __table_args__ = (Index("ix_job_effects_created_at", "created_at"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    job: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at_column()
