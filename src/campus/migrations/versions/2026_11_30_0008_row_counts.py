"""row counts kept by triggers: users, courses, published courses; per-course lessons and
active students

Revision ID: 0008_row_counts
Revises: 0007_tasks_search
Create Date: 2026-11-30

Exact totals without ``COUNT(*)`` over millions of rows (issue 9): the table ``row_counts``
holds the number of users, courses and published courses, and ``courses`` gains
``lessons_count`` and ``students_count`` (active enrollments). Triggers keep them in the
same transaction as the write that changes them, on both databases:

- PostgreSQL: statement-level triggers with transition tables for INSERT and DELETE (a bulk
  insert or a cascading delete updates a counter once per statement, not once per row), and
  row-level triggers with a ``WHEN`` clause for the UPDATEs that move a row between counts
  (publishing a course, cancelling an enrollment), so ordinary updates cost nothing.
- SQLite: row-level triggers (SQLite has no others); foreign-key cascades fire them too.

A later migration that rebuilds one of these tables on SQLite (``batch_alter_table`` with a
table copy) drops its triggers and must create them again; tests/foundation/test_counters.py
fails if a count drifts.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_row_counts"
down_revision: str | Sequence[str] | None = "0007_tasks_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTERS = ("users", "courses", "courses_published")

RECOUNT = (
    "UPDATE courses SET "
    "lessons_count = (SELECT count(*) FROM lessons WHERE lessons.course_id = courses.id), "
    "students_count = (SELECT count(*) FROM enrollments "
    "WHERE enrollments.course_id = courses.id AND enrollments.status = 'active')",
    "UPDATE row_counts SET value = (SELECT count(*) FROM users) WHERE name = 'users'",
    "UPDATE row_counts SET value = (SELECT count(*) FROM courses) WHERE name = 'courses'",
    "UPDATE row_counts SET value = (SELECT count(*) FROM courses WHERE is_published) "
    "WHERE name = 'courses_published'",
)

# -- PostgreSQL ---------------------------------------------------------------------------

PG_FUNCTIONS = {
    # INSERT / DELETE statements on users.
    "campus_count_users": """
        DECLARE delta bigint;
        BEGIN
          IF TG_OP = 'INSERT' THEN SELECT count(*) INTO delta FROM new_rows;
          ELSE SELECT -count(*) INTO delta FROM old_rows;
          END IF;
          IF delta <> 0 THEN
            UPDATE row_counts SET value = value + delta WHERE name = 'users';
          END IF;
          RETURN NULL;
        END
    """,
    # INSERT / DELETE statements on courses.
    "campus_count_courses": """
        DECLARE delta bigint; published bigint;
        BEGIN
          IF TG_OP = 'INSERT' THEN
            SELECT count(*), count(*) FILTER (WHERE is_published)
              INTO delta, published FROM new_rows;
          ELSE
            SELECT -count(*), -count(*) FILTER (WHERE is_published)
              INTO delta, published FROM old_rows;
          END IF;
          IF delta <> 0 THEN
            UPDATE row_counts SET value = value + delta WHERE name = 'courses';
          END IF;
          IF published <> 0 THEN
            UPDATE row_counts SET value = value + published WHERE name = 'courses_published';
          END IF;
          RETURN NULL;
        END
    """,
    # A course published or unpublished (row level, only when is_published changes).
    "campus_count_publication": """
        BEGIN
          UPDATE row_counts SET value = value + CASE WHEN NEW.is_published THEN 1 ELSE -1 END
          WHERE name = 'courses_published';
          RETURN NULL;
        END
    """,
    # INSERT / DELETE statements on lessons.
    "campus_count_lessons": """
        BEGIN
          IF TG_OP = 'INSERT' THEN
            UPDATE courses c SET lessons_count = c.lessons_count + d.n
            FROM (SELECT course_id, count(*) AS n FROM new_rows GROUP BY course_id) d
            WHERE c.id = d.course_id;
          ELSE
            UPDATE courses c SET lessons_count = c.lessons_count - d.n
            FROM (SELECT course_id, count(*) AS n FROM old_rows GROUP BY course_id) d
            WHERE c.id = d.course_id;
          END IF;
          RETURN NULL;
        END
    """,
    # A lesson moved to another course (row level, only when course_id changes).
    "campus_count_lesson_moved": """
        BEGIN
          UPDATE courses SET lessons_count = lessons_count - 1 WHERE id = OLD.course_id;
          UPDATE courses SET lessons_count = lessons_count + 1 WHERE id = NEW.course_id;
          RETURN NULL;
        END
    """,
    # INSERT / DELETE statements on enrollments: active ones count.
    "campus_count_enrollments": """
        BEGIN
          IF TG_OP = 'INSERT' THEN
            UPDATE courses c SET students_count = c.students_count + d.n
            FROM (SELECT course_id, count(*) AS n FROM new_rows
                  WHERE status = 'active' GROUP BY course_id) d
            WHERE c.id = d.course_id;
          ELSE
            UPDATE courses c SET students_count = c.students_count - d.n
            FROM (SELECT course_id, count(*) AS n FROM old_rows
                  WHERE status = 'active' GROUP BY course_id) d
            WHERE c.id = d.course_id;
          END IF;
          RETURN NULL;
        END
    """,
    # An enrollment's status or course changed (row level, only then).
    "campus_count_enrollment_changed": """
        BEGIN
          IF OLD.status = 'active' THEN
            UPDATE courses SET students_count = students_count - 1 WHERE id = OLD.course_id;
          END IF;
          IF NEW.status = 'active' THEN
            UPDATE courses SET students_count = students_count + 1 WHERE id = NEW.course_id;
          END IF;
          RETURN NULL;
        END
    """,
}

PG_TRIGGERS = (
    "CREATE TRIGGER users_counted_insert AFTER INSERT ON users "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campus_count_users()",
    "CREATE TRIGGER users_counted_delete AFTER DELETE ON users "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION campus_count_users()",
    "CREATE TRIGGER courses_counted_insert AFTER INSERT ON courses "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION campus_count_courses()",
    "CREATE TRIGGER courses_counted_delete AFTER DELETE ON courses "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION campus_count_courses()",
    "CREATE TRIGGER courses_counted_publication AFTER UPDATE OF is_published ON courses "
    "FOR EACH ROW WHEN (OLD.is_published IS DISTINCT FROM NEW.is_published) "
    "EXECUTE FUNCTION campus_count_publication()",
    "CREATE TRIGGER lessons_counted_insert AFTER INSERT ON lessons "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION campus_count_lessons()",
    "CREATE TRIGGER lessons_counted_delete AFTER DELETE ON lessons "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION campus_count_lessons()",
    "CREATE TRIGGER lessons_counted_move AFTER UPDATE OF course_id ON lessons "
    "FOR EACH ROW WHEN (OLD.course_id IS DISTINCT FROM NEW.course_id) "
    "EXECUTE FUNCTION campus_count_lesson_moved()",
    "CREATE TRIGGER enrollments_counted_insert AFTER INSERT ON enrollments "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION campus_count_enrollments()",
    "CREATE TRIGGER enrollments_counted_delete AFTER DELETE ON enrollments "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION campus_count_enrollments()",
    "CREATE TRIGGER enrollments_counted_change AFTER UPDATE OF status, course_id ON enrollments "
    "FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status "
    "OR OLD.course_id IS DISTINCT FROM NEW.course_id) "
    "EXECUTE FUNCTION campus_count_enrollment_changed()",
)

# -- SQLite -------------------------------------------------------------------------------

SQLITE_TRIGGERS = (
    """CREATE TRIGGER users_counted_insert AFTER INSERT ON users BEGIN
         UPDATE row_counts SET value = value + 1 WHERE name = 'users'; END""",
    """CREATE TRIGGER users_counted_delete AFTER DELETE ON users BEGIN
         UPDATE row_counts SET value = value - 1 WHERE name = 'users'; END""",
    """CREATE TRIGGER courses_counted_insert AFTER INSERT ON courses BEGIN
         UPDATE row_counts SET value = value + 1 WHERE name = 'courses';
         UPDATE row_counts SET value = value + 1
           WHERE name = 'courses_published' AND NEW.is_published; END""",
    """CREATE TRIGGER courses_counted_delete AFTER DELETE ON courses BEGIN
         UPDATE row_counts SET value = value - 1 WHERE name = 'courses';
         UPDATE row_counts SET value = value - 1
           WHERE name = 'courses_published' AND OLD.is_published; END""",
    """CREATE TRIGGER courses_counted_publication AFTER UPDATE OF is_published ON courses
       WHEN OLD.is_published IS NOT NEW.is_published BEGIN
         UPDATE row_counts SET value = value + CASE WHEN NEW.is_published THEN 1 ELSE -1 END
           WHERE name = 'courses_published'; END""",
    """CREATE TRIGGER lessons_counted_insert AFTER INSERT ON lessons BEGIN
         UPDATE courses SET lessons_count = lessons_count + 1 WHERE id = NEW.course_id; END""",
    """CREATE TRIGGER lessons_counted_delete AFTER DELETE ON lessons BEGIN
         UPDATE courses SET lessons_count = lessons_count - 1 WHERE id = OLD.course_id; END""",
    """CREATE TRIGGER lessons_counted_move AFTER UPDATE OF course_id ON lessons
       WHEN OLD.course_id IS NOT NEW.course_id BEGIN
         UPDATE courses SET lessons_count = lessons_count - 1 WHERE id = OLD.course_id;
         UPDATE courses SET lessons_count = lessons_count + 1 WHERE id = NEW.course_id; END""",
    """CREATE TRIGGER enrollments_counted_insert AFTER INSERT ON enrollments
       WHEN NEW.status = 'active' BEGIN
         UPDATE courses SET students_count = students_count + 1 WHERE id = NEW.course_id; END""",
    """CREATE TRIGGER enrollments_counted_delete AFTER DELETE ON enrollments
       WHEN OLD.status = 'active' BEGIN
         UPDATE courses SET students_count = students_count - 1 WHERE id = OLD.course_id; END""",
    """CREATE TRIGGER enrollments_counted_change AFTER UPDATE OF status, course_id ON enrollments
       WHEN OLD.status IS NOT NEW.status OR OLD.course_id IS NOT NEW.course_id BEGIN
         UPDATE courses SET students_count = students_count - 1
           WHERE id = OLD.course_id AND OLD.status = 'active';
         UPDATE courses SET students_count = students_count + 1
           WHERE id = NEW.course_id AND NEW.status = 'active'; END""",
)

TRIGGERS = (
    ("users", "users_counted_insert"),
    ("users", "users_counted_delete"),
    ("courses", "courses_counted_insert"),
    ("courses", "courses_counted_delete"),
    ("courses", "courses_counted_publication"),
    ("lessons", "lessons_counted_insert"),
    ("lessons", "lessons_counted_delete"),
    ("lessons", "lessons_counted_move"),
    ("enrollments", "enrollments_counted_insert"),
    ("enrollments", "enrollments_counted_delete"),
    ("enrollments", "enrollments_counted_change"),
)


def upgrade() -> None:
    op.create_table(
        "row_counts",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_row_counts")),
    )
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lessons_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("students_count", sa.Integer(), server_default="0", nullable=False)
        )
    bind = op.get_bind()
    row_counts = sa.table("row_counts", sa.column("name", sa.String))
    bind.execute(sa.insert(row_counts), [{"name": name} for name in COUNTERS])
    # Counts first, triggers after, in one transaction: no write can fall in between.
    for statement in RECOUNT:
        op.execute(statement)
    if bind.dialect.name == "postgresql":
        for name, body in PG_FUNCTIONS.items():
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $${body}$$")
        for statement in PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}" + (f" ON {table}" if postgres else ""))
    if postgres:
        for name in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_column("students_count")
        batch_op.drop_column("lessons_count")
    op.drop_table("row_counts")
