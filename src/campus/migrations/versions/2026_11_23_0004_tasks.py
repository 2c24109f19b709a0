"""the learners' tasks

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campus.kit.types

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "todo",
                "in_progress",
                "completed",
                name="task_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "priority",
            sa.Enum(
                "low",
                "medium",
                "high",
                name="task_priority",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("due_date", campus.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lesson_id", sa.Integer(), nullable=True),
        sa.Column("created_at", campus.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", campus.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", campus.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["lessons.id"],
            name=op.f("fk_tasks_lesson_id_lessons"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_tasks_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_lesson_id", ["lesson_id"], unique=False)
        batch_op.create_index(
            "ix_tasks_owner_id_created_at", ["owner_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_tasks_owner_id_due_date", ["owner_id", "due_date"], unique=False)
        batch_op.create_index("ix_tasks_owner_id_status", ["owner_id", "status"], unique=False)
        batch_op.create_index(
            "ix_tasks_owner_id_updated_at", ["owner_id", "updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_owner_id_updated_at")
        batch_op.drop_index("ix_tasks_owner_id_status")
        batch_op.drop_index("ix_tasks_owner_id_due_date")
        batch_op.drop_index("ix_tasks_owner_id_created_at")
        batch_op.drop_index("ix_tasks_lesson_id")

    op.drop_table("tasks")
