"""single-use account tokens (password reset, email verification)

Revision ID: 0005_accounts_tokens
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campus.kit.types

revision: str = "0005_accounts_tokens"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "password_reset",
                "verify_email",
                name="account_token_purpose",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", campus.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", campus.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", campus.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_account_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_tokens_token_hash")),
    )

    with op.batch_alter_table("account_tokens", schema=None) as batch_op:
        batch_op.create_index(
            "ix_account_tokens_user_id_purpose", ["user_id", "purpose"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("account_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_account_tokens_user_id_purpose")

    op.drop_table("account_tokens")
