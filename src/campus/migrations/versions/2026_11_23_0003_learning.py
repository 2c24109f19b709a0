"""enrollments and lesson completions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campus.kit.types

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enrollments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "cancelled",
                name="enrollment_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("enrolled_at", campus.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_enrollments_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_enrollments_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollments")),
        sa.UniqueConstraint("user_id", "course_id", name=op.f("uq_enrollments_user_id_course_id")),
    )

    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_enrollments_course_id_enrolled_at", ["course_id", "enrolled_at"], unique=False
        )
        batch_op.create_index(
            "ix_enrollments_user_id_enrolled_at", ["user_id", "enrolled_at"], unique=False
        )

    op.create_table(
        "lesson_completions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("completed_at", campus.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_lesson_completions_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["lessons.id"],
            name=op.f("fk_lesson_completions_lesson_id_lessons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_lesson_completions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lesson_completions")),
        sa.UniqueConstraint(
            "user_id", "lesson_id", name=op.f("uq_lesson_completions_user_id_lesson_id")
        ),
    )

    with op.batch_alter_table("lesson_completions", schema=None) as batch_op:
        batch_op.create_index("ix_lesson_completions_course_id", ["course_id"], unique=False)
        batch_op.create_index("ix_lesson_completions_lesson_id", ["lesson_id"], unique=False)
        batch_op.create_index(
            "ix_lesson_completions_user_id_course_id", ["user_id", "course_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("lesson_completions", schema=None) as batch_op:
        batch_op.drop_index("ix_lesson_completions_user_id_course_id")
        batch_op.drop_index("ix_lesson_completions_lesson_id")
        batch_op.drop_index("ix_lesson_completions_course_id")

    op.drop_table("lesson_completions")

    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_index("ix_enrollments_user_id_enrolled_at")
        batch_op.drop_index("ix_enrollments_course_id_enrolled_at")

    op.drop_table("enrollments")
