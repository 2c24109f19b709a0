"""courses and lessons

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campus.kit.types

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=220), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "level",
            sa.Enum(
                "beginner",
                "intermediate",
                "advanced",
                name="course_level",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("is_published", sa.Boolean(), nullable=False),
        sa.Column("teacher_id", sa.Integer(), nullable=False),
        sa.Column("created_at", campus.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", campus.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("price_cents >= 0", name=op.f("ck_courses_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["teacher_id"],
            ["users.id"],
            name=op.f("fk_courses_teacher_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
        sa.UniqueConstraint("slug", name=op.f("uq_courses_slug")),
    )

    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.create_index("ix_courses_level", ["level"], unique=False)
        batch_op.create_index("ix_courses_price_cents", ["price_cents"], unique=False)
        batch_op.create_index(
            "ix_courses_published_created_at", ["is_published", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_courses_teacher_id_created_at", ["teacher_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_courses_title", ["title"], unique=False)

    op.create_table(
        "lessons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("is_preview", sa.Boolean(), nullable=False),
        sa.Column("created_at", campus.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", campus.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("position >= 1", name=op.f("ck_lessons_position_positive")),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_lessons_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lessons")),
        sa.UniqueConstraint("course_id", "position", name=op.f("uq_lessons_course_id_position")),
    )


def downgrade() -> None:
    op.drop_table("lessons")

    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_index("ix_courses_title")
        batch_op.drop_index("ix_courses_teacher_id_created_at")
        batch_op.drop_index("ix_courses_published_created_at")
        batch_op.drop_index("ix_courses_price_cents")
        batch_op.drop_index("ix_courses_level")

    op.drop_table("courses")
