"""Learner actions on pages (issue #18): leave a course (with a confirmation step; a bought
course is not silently lost), un-mark a lesson, continue where you left off."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.kit.clock import utcnow
from campus.learning import service as learning_service
from campus.models.accounts import User, UserRole
from campus.models.courses import Course, Lesson
from campus.models.learning import Enrollment, EnrollmentStatus, LessonCompletion
from campus.models.payments import Payment, PaymentStatus
from tests.factories import DEFAULT_PASSWORD, create_course, create_lesson, create_user, enroll
from tests.pagehelpers import HTML, page_csrf, post_form, sign_in


async def _complete(session: AsyncSession, user: User, lesson: Lesson, *, minutes_ago: int) -> None:
    session.add(
        LessonCompletion(
            user_id=user.id,
            lesson_id=lesson.id,
            course_id=lesson.course_id,
            completed_at=utcnow() - timedelta(minutes=minutes_ago),
        )
    )
    await session.flush()


async def _status(session: AsyncSession, user: User, course: Course) -> EnrollmentStatus | None:
    return await session.scalar(
        select(Enrollment.status)
        .where(Enrollment.user_id == user.id, Enrollment.course_id == course.id)
        .execution_options(populate_existing=True)
    )


async def test_leave_a_free_course_after_a_confirmation_step(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher, title="Leavable")
    first = await create_lesson(session, course, position=1)
    await create_lesson(session, course, position=2)
    student = await create_user(session, settings)
    await enroll(session, student, course)
    await _complete(session, student, first, minutes_ago=5)
    await sign_in(client, student.email, DEFAULT_PASSWORD)
    course_url = f"/courses/{course.id}"
    page = await client.get(course_url, headers=HTML)
    assert f'href="{course_url}/leave"' in page.text  # a link to the step, no JS needed
    confirm = await client.get(f"{course_url}/leave", headers=HTML)
    assert confirm.status_code == 200
    assert "Leave “Leavable”?" in confirm.text
    assert "1 of 2 lessons completed" in confirm.text
    assert "free course" in confirm.text
    assert "refund" not in confirm.text
    assert await _status(session, student, course) == EnrollmentStatus.ACTIVE  # GET changes nothing
    left = await post_form(client, f"{course_url}/leave", {}, from_page=f"{course_url}/leave")
    assert left.status_code == 303
    assert left.headers["location"] == "/cabinet"
    assert await _status(session, student, course) == EnrollmentStatus.CANCELLED
    cabinet = await client.get("/cabinet", headers=HTML)
    assert "You left the course" in cabinet.text
    assert "No courses yet" in cabinet.text
    after = await client.get(course_url, headers=HTML)
    assert "Enroll for free" in after.text
    # Back in: the completed lesson was kept.
    await post_form(client, f"{course_url}/enroll", {}, from_page=course_url)
    assert "1 of 2 lessons" in (await client.get(course_url, headers=HTML)).text


async def test_leaving_a_bought_course_is_not_a_silent_loss(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher, title="Paid one", price_cents=1999)
    await create_lesson(session, course, position=1)
    buyer = await create_user(session, settings)
    session.add(
        Payment(
            user_id=buyer.id,
            course_id=course.id,
            amount_cents=1999,
            currency="USD",
            status=PaymentStatus.PAID,
            checkout_session_id=f"cs_test_leave_{buyer.id}",
        )
    )
    await enroll(session, buyer, course)
    await sign_in(client, buyer.email, DEFAULT_PASSWORD)
    course_url = f"/courses/{course.id}"
    confirm = await client.get(f"{course_url}/leave", headers=HTML)
    assert "Leaving is not a refund" in confirm.text
    assert "without paying again" in confirm.text
    assert "ask for a refund instead of leaving" in confirm.text
    left = await post_form(client, f"{course_url}/leave", {}, from_page=f"{course_url}/leave")
    assert left.status_code == 303
    cabinet = await client.get("/cabinet", headers=HTML)
    assert "rejoin without paying again" in cabinet.text
    page = await client.get(course_url, headers=HTML)
    assert "Rejoin the course" in page.text
    assert "Buy for" not in page.text
    back = await post_form(client, f"{course_url}/enroll", {}, from_page=course_url)
    assert back.status_code == 303
    assert await _status(session, buyer, course) == EnrollmentStatus.ACTIVE
    payments = await session.scalar(
        select(Payment.id).where(Payment.user_id == buyer.id).order_by(Payment.id.desc())
    )
    assert payments is not None  # still the one purchase; nothing charged again

    # Enrolled in a paid course without having bought it (e.g. it became paid later): told
    # that coming back means buying it.
    other = await create_user(session, settings)
    await enroll(session, other, course)
    client.cookies.clear()
    await sign_in(client, other.email, DEFAULT_PASSWORD)
    warned = await client.get(f"{course_url}/leave", headers=HTML)
    assert "to come back you would have to buy it" in warned.text


async def test_who_may_not_leave(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher)
    enrolled = await create_user(session, settings)
    await enroll(session, enrolled, course)
    url = f"/courses/{course.id}/leave"
    anonymous = await client.get(url, headers=HTML)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")
    token = await page_csrf(client, "/login")
    posted = await client.post(url, data={"csrf_token": token}, headers=HTML)
    assert posted.status_code == 303
    assert posted.headers["location"].startswith("/login")
    stranger = await create_user(session, settings)
    await sign_in(client, stranger.email, DEFAULT_PASSWORD)
    step = await client.get(url, headers=HTML)
    assert step.status_code == 303  # not enrolled: back to the course, told so
    refused = await post_form(client, url, {}, from_page="/cabinet")
    assert refused.status_code == 303
    assert refused.headers["location"] == f"/courses/{course.id}"
    no_token = await client.post(url, headers=HTML)
    assert no_token.status_code == 403
    assert await _status(session, enrolled, course) == EnrollmentStatus.ACTIVE


async def test_unmark_a_completed_lesson(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher)
    lesson = await create_lesson(session, course, position=1)
    await create_lesson(session, course, position=2)
    student = await create_user(session, settings)
    other = await create_user(session, settings)
    for user in (student, other):
        await enroll(session, user, course)
        await _complete(session, user, lesson, minutes_ago=1)
    lesson_url = f"/courses/{course.id}/lessons/{lesson.id}"
    await sign_in(client, student.email, DEFAULT_PASSWORD)
    page = await client.get(lesson_url, headers=HTML)
    assert f'action="{lesson_url}/uncomplete"' in page.text
    assert "Mark as not completed" in page.text
    undone = await post_form(client, f"{lesson_url}/uncomplete", {}, from_page=lesson_url)
    assert undone.status_code == 303
    assert undone.headers["location"] == lesson_url
    page = await client.get(lesson_url, headers=HTML)
    assert "Marked as not completed: 0 of 2 done (0%)." in page.text
    assert "Mark complete" in page.text
    # Idempotent; the other learner's completion stays.
    again = await post_form(client, f"{lesson_url}/uncomplete", {}, from_page=lesson_url)
    assert again.status_code == 303
    others = await learning_service.completed_lesson_ids(session, other, course_id=course.id)
    assert others == {lesson.id}
    # Not enrolled: 403; anonymous: to the sign-in page.
    stranger = await create_user(session, settings)
    client.cookies.clear()
    await sign_in(client, stranger.email, DEFAULT_PASSWORD)
    refused = await post_form(client, f"{lesson_url}/uncomplete", {}, from_page="/cabinet")
    assert refused.status_code == 403
    client.cookies.clear()
    token = await page_csrf(client, "/login")
    anonymous = await client.post(
        f"{lesson_url}/uncomplete", data={"csrf_token": token}, headers=HTML
    )
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")


async def test_continue_where_you_left_off(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher, title="Continuable")
    lessons = [
        await create_lesson(session, course, position=n, title=f"Step {n}") for n in range(1, 6)
    ]
    empty = await create_course(session, teacher)
    student = await create_user(session, settings)
    await enroll(session, student, course)
    await enroll(session, student, empty)

    async def next_of(*courses: Course) -> dict[int, int]:
        found = await learning_service.continue_lessons(
            session, student, course_ids=[c.id for c in courses]
        )
        return {course_id: item.position for course_id, item in found.items()}

    assert await next_of(course, empty) == {course.id: 1}  # nothing completed: the first
    await _complete(session, student, lessons[3], minutes_ago=30)  # step 4, long ago
    await _complete(session, student, lessons[2], minutes_ago=10)  # step 3, last
    await _complete(session, student, lessons[0], minutes_ago=20)  # step 1
    assert await next_of(course) == {course.id: 5}  # after step 3, 4 is done: 5
    await _complete(session, student, lessons[4], minutes_ago=1)  # step 5, last
    assert await next_of(course) == {course.id: 2}  # nothing after it: the first not done

    course_url = f"/courses/{course.id}"
    await sign_in(client, student.email, DEFAULT_PASSWORD)
    page = await client.get(course_url, headers=HTML)
    assert "Continue where you left off" in page.text
    assert f'href="{course_url}/lessons/{lessons[1].id}"' in page.text
    assert "Lesson 2: Step 2" in page.text
    cabinet = await client.get("/cabinet", headers=HTML)
    assert f'href="{course_url}/lessons/{lessons[1].id}" aria-label="Continue Continuable' in (
        cabinet.text
    )
    assert "Continue with lesson 2</a>" in cabinet.text

    await _complete(session, student, lessons[1], minutes_ago=0)
    assert await next_of(course) == {}
    page = await client.get(course_url, headers=HTML)
    assert "Review from the start" in page.text
    assert "Continue where you left off" not in page.text

    # Only for the enrolled learner: a visitor sees no continue button.
    client.cookies.clear()
    assert "Continue where you left off" not in (await client.get(course_url, headers=HTML)).text
