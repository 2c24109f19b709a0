"""courses: case-folded search text, trigram index on PostgreSQL

Revision ID: 0006_courses_search
Revises: 0005_accounts_tokens
Create Date: 2026-11-23

``courses.search_text`` holds the case-folded title and description
(``campus.kit.text.search_document``), so ``q`` matches case-insensitively in every script on
SQLite and PostgreSQL alike. On PostgreSQL a pg_trgm GIN index serves ``LIKE '%q%'``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from campus.kit.text import search_document

revision: str = "0006_courses_search"
down_revision: str | Sequence[str] | None = "0005_accounts_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_courses_search_text_trgm"
BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), server_default="", nullable=False))

    bind = op.get_bind()
    courses = sa.table(
        "courses",
        sa.column("id", sa.Integer),
        sa.column("title", sa.String),
        sa.column("description", sa.Text),
        sa.column("search_text", sa.Text),
    )
    last_id = 0
    while True:
        rows = bind.execute(
            sa.select(courses.c.id, courses.c.title, courses.c.description)
            .where(courses.c.id > last_id)
            .order_by(courses.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        bind.execute(
            sa.update(courses)
            .where(courses.c.id == sa.bindparam("course_id"))
            .values(search_text=sa.bindparam("folded")),
            [
                {"course_id": row.id, "folded": search_document(row.title, row.description)}
                for row in rows
            ],
        )
        last_id = rows[-1].id

    if bind.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            INDEX,
            "courses",
            ["search_text"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )


def downgrade() -> None:
    # The pg_trgm extension stays: other objects may use it, and it costs nothing unused.
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index(INDEX, table_name="courses", postgresql_using="gin")
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_column("search_text")
