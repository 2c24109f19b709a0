"""The maintained counts (campus.models.counters) checked against the rows."""

from __future__ import annotations

# Each maintained count next to the same figure counted from the rows.
DRIFT = """
SELECT 'row_counts.' || r.name, r.value,
       CASE r.name
         WHEN 'users' THEN (SELECT count(*) FROM users)
         WHEN 'courses' THEN (SELECT count(*) FROM courses)
         WHEN 'courses_published' THEN (SELECT count(*) FROM courses WHERE is_published)
       END
FROM row_counts r
UNION ALL
SELECT 'courses.lessons_count:' || c.id, c.lessons_count,
       (SELECT count(*) FROM lessons l WHERE l.course_id = c.id)
FROM courses c
UNION ALL
SELECT 'courses.students_count:' || c.id, c.students_count,
       (SELECT count(*) FROM enrollments e WHERE e.course_id = c.id AND e.status = 'active')
FROM courses c
"""
