"""real time: course chat, notifications and socket tickets

Revision ID: 0011_realtime
Revises: 0013_payments
Create Date: 2026-12-01

``chat_messages``: newest first in a course through (course_id, created_at, id); a course's
chat goes with the course (CASCADE). ``notifications``: a user's list through (user_id,
created_at, id) and their unread through a partial index of the same columns ``WHERE
read_at IS NULL`` (both databases have partial indexes). ``socket_tickets``: the SHA-256 of
each single-use socket ticket. New tables only, so the downgrade drops them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campus.kit.types

revision: str = "0011_realtime"
down_revision: str | Sequence[str] | None = "0010_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", campus.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", campus.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_user_id_created_at_id", ["user_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_notifications_user_id_unread",
            ["user_id", "created_at", "id"],
            unique=False,
            sqlite_where=sa.text("read_at IS NULL"),
            postgresql_where=sa.text("read_at IS NULL"),
        )

    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.String(length=4000), nullable=False),
        sa.Column("created_at", campus.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("edited_at", campus.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_chat_messages_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_chat_messages_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index("ix_chat_messages_author_id", ["author_id"], unique=False)
        batch_op.create_index(
            "ix_chat_messages_course_id_created_at_id",
            ["course_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "socket_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", campus.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", campus.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", campus.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth_sessions.id"],
            name=op.f("fk_socket_tickets_session_id_auth_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_socket_tickets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_socket_tickets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_socket_tickets_token_hash")),
    )
    with op.batch_alter_table("socket_tickets", schema=None) as batch_op:
        batch_op.create_index("ix_socket_tickets_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("socket_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_socket_tickets_expires_at")

    op.drop_table("socket_tickets")
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_messages_course_id_created_at_id")
        batch_op.drop_index("ix_chat_messages_author_id")

    op.drop_table("chat_messages")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_notifications_user_id_unread",
            sqlite_where=sa.text("read_at IS NULL"),
            postgresql_where=sa.text("read_at IS NULL"),
        )
        batch_op.drop_index("ix_notifications_user_id_created_at_id")

    op.drop_table("notifications")
