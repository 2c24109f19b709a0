"""media: course images and PDF attachments; a course's cover image

Revision ID: 0019_media
Revises: 0021_locale
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campus.kit.types

revision: str = "0019_media"
down_revision: str | Sequence[str] | None = "0021_locale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=22), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum("image", "pdf", name="media_kind", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("extension", sa.String(length=5), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("has_thumbnail", sa.Boolean(), nullable=False),
        sa.Column("created_at", campus.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_media_course_id_courses"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["users.id"],
            name=op.f("fk_media_uploaded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
    )
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index("ix_media_token", ["token"], unique=True)
        batch_op.create_index(
            "ix_media_course_id_created_at", ["course_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_media_uploaded_by_id", ["uploaded_by_id"], unique=False)
    # Plain ALTER TABLE on both databases (SQLite 3.35+ drops columns too): a batch copy
    # of ``courses`` on SQLite would drop the counters' triggers on it.
    op.add_column("courses", sa.Column("cover_key", sa.String(length=40), nullable=True))


def downgrade() -> None:
    op.drop_column("courses", "cover_key")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index("ix_media_uploaded_by_id")
        batch_op.drop_index("ix_media_course_id_created_at")
        batch_op.drop_index("ix_media_token")
    op.drop_table("media")
