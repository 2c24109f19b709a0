"""jobs: dead letters, effect keys, task reminders, mail preferences

Revision ID: 0010_jobs
Revises: 0013_payments
Create Date: 2026-12-01

``job_failures`` keeps the jobs that failed for good (``campus jobs failed``/``retry``);
``job_effects`` holds the unique key of each effect a job wrote, so a redelivered job does
nothing twice; ``task_reminders`` is the one reminder per (task, due date). The two mail
preferences are plain columns added to ``users`` (no table copy on SQLite, so the counting
triggers of migration 0008 stay in place).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from campus.kit.types import UTCDateTime

revision: str = "0010_jobs"
down_revision: str | Sequence[str] | None = "0013_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("error", sa.String(length=2000), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failed_at", UTCDateTime(), nullable=False),
        sa.Column("retried_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_failures")),
    )
    op.create_index("ix_job_failures_failed_at", "job_failures", ["failed_at"], unique=False)
    op.create_table(
        "job_effects",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_job_effects")),
    )
    op.create_index("ix_job_effects_created_at", "job_effects", ["created_at"], unique=False)
    op.create_table(
        "task_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("due_date", UTCDateTime(), nullable=False),
        sa.Column("emailed", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_task_reminders_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_task_reminders_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_reminders")),
        sa.UniqueConstraint("task_id", "due_date", name=op.f("uq_task_reminders_task_id_due_date")),
    )
    op.create_index("ix_tasks_due_date", "tasks", ["due_date"], unique=False)
    op.add_column(
        "users",
        sa.Column("reminder_emails", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "users",
        sa.Column("digest_emails", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN on both databases (SQLite 3.35+): no table copy, so
    # the triggers on users survive.
    op.drop_column("users", "digest_emails")
    op.drop_column("users", "reminder_emails")
    op.drop_index("ix_tasks_due_date", table_name="tasks")
    op.drop_table("task_reminders")
    op.drop_index("ix_job_effects_created_at", table_name="job_effects")
    op.drop_table("job_effects")
    op.drop_index("ix_job_failures_failed_at", table_name="job_failures")
    op.drop_table("job_failures")
