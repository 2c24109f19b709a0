"""locale: the account's language (pages and mails)

Revision ID: 0021_locale
Revises: 0016_oauth_accounts
Create Date: 2026-12-02

One nullable column, ``users.locale`` (``en``, ``ru``; NULL: the browser's language). The
downgrade drops it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_locale"
down_revision: str | Sequence[str] | None = "0016_oauth_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("locale")
