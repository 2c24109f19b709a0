""" "New lesson published": one notification per enrolled student, in batches.

``courses.lesson_published`` is enqueued after the commit that adds a lesson to a published
course. Each run handles one batch of active learners (keyset on the user id): it writes
the batch's effect keys ``lesson-published:<lesson>:<user>`` in one statement, creates a
notification for each key that was new, and enqueues the next batch in the same unit of
work — so a batch that is delivered twice notifies nobody twice. A lesson deleted (or a
course unpublished) before the job runs announces nothing.
"""

from __future__ import annotations

from campus.courses import repository
from campus.jobs import JobContext, claim_effects, enqueue, job
from campus.notifications import service as notifications

BATCH = 500


@job("courses.lesson_published")
async def lesson_published(ctx: JobContext, *, lesson_id: int, after_user_id: int = 0) -> None:
    async with ctx.session() as session:
        lesson = await repository.published_lesson(session, lesson_id)
        if lesson is None:
            return
        students = await repository.enrolled_student_ids(
            session, course_id=lesson.course_id, after_user_id=after_user_id, limit=BATCH
        )
        keys = {f"lesson-published:{lesson_id}:{user_id}": user_id for user_id in students}
        new = await claim_effects(session, list(keys), job=ctx.job)
        for key in sorted(new, key=keys.__getitem__):
            await notifications.notify(
                session,
                user_id=keys[key],
                kind=notifications.LESSON_PUBLISHED,
                data={
                    "course_id": lesson.course_id,
                    "course_title": lesson.course_title,
                    "lesson_id": lesson.lesson_id,
                    "lesson_title": lesson.lesson_title,
                },
                link=f"/courses/{lesson.course_id}/lessons/{lesson.lesson_id}",
            )
        if len(students) == BATCH:
            enqueue(
                session, "courses.lesson_published", lesson_id=lesson_id, after_user_id=students[-1]
            )
