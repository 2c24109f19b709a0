"""selfservice: the account activity log (sign-ins, password changes, resets, devices)

Revision ID: 0018_selfservice
Revises: 0017_certificates
Create Date: 2026-12-02

One new table (``account_events``); the sessions already keep user agent, IP and last use.
The downgrade drops it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campus.kit.types

revision: str = "0018_selfservice"
down_revision: str | Sequence[str] | None = "0017_certificates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "sign_in",
                "password_changed",
                "password_reset",
                name="account_event_kind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("method", sa.String(length=32), nullable=True),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("device_key", sa.String(length=64), nullable=True),
        sa.Column("is_new_device", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", campus.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_account_events_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_events")),
    )
    with op.batch_alter_table("account_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_account_events_user_id_created_at", ["user_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_account_events_user_id_device_key", ["user_id", "device_key"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("account_events", schema=None) as batch_op:
        batch_op.drop_index("ix_account_events_user_id_device_key")
        batch_op.drop_index("ix_account_events_user_id_created_at")
    op.drop_table("account_events")
