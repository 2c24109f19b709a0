"""tasks: case-folded search text

Revision ID: 0007_tasks_search
Revises: 0006_courses_search
Create Date: 2026-11-23

``tasks.search_text`` holds the case-folded title and description
(``campus.kit.text.search_document``), as ``courses.search_text`` does, so the task list's
``q`` matches case-insensitively in every script on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from campus.kit.text import search_document

revision: str = "0007_tasks_search"
down_revision: str | Sequence[str] | None = "0006_courses_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), server_default="", nullable=False))

    bind = op.get_bind()
    tasks = sa.table(
        "tasks",
        sa.column("id", sa.Integer),
        sa.column("title", sa.String),
        sa.column("description", sa.String),
        sa.column("search_text", sa.Text),
    )
    last_id = 0
    while True:
        rows = bind.execute(
            sa.select(tasks.c.id, tasks.c.title, tasks.c.description)
            .where(tasks.c.id > last_id)
            .order_by(tasks.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        bind.execute(
            sa.update(tasks)
            .where(tasks.c.id == sa.bindparam("task_id"))
            .values(search_text=sa.bindparam("folded")),
            [
                {"task_id": row.id, "folded": search_document(row.title, row.description)}
                for row in rows
            ],
        )
        last_id = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("search_text")
