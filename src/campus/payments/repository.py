"""SQL for payments and the processed Stripe events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.kit.pagination.statements import AnySelect, ListQuery, fetch_page
from campus.models.accounts import User
from campus.models.courses import Course
from campus.models.payments import Payment, PaymentStatus, StripeEvent

SORTS: dict[str, Any] = {
    "created_at": Payment.created_at,
    "amount_cents": Payment.amount_cents,
    "status": Payment.status,
}


def _insert(session: AsyncSession, table: Any) -> Any:
    """INSERT with ON CONFLICT support for the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def record_event(session: AsyncSession, *, event_id: str, type_: str, now: datetime) -> bool:
    """Record a Stripe event as processed; False when it was already (a redelivery).

    ``INSERT ... ON CONFLICT DO NOTHING``: of concurrent deliveries of one event, the others
    wait on the unique key until the first commits, then insert nothing.
    """
    stmt = (
        _insert(session, StripeEvent)
        .values(event_id=event_id, type=type_, received_at=now)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(StripeEvent.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def insert_payment_if_absent(
    session: AsyncSession,
    *,
    user_id: int,
    course_id: int,
    amount_cents: int,
    currency: str,
    checkout_session_id: str,
    checkout_url: str,
    now: datetime,
) -> None:
    """A pending payment for a Checkout Session; nothing when the session is known already
    (the same session comes back for a repeated Idempotency-Key)."""
    stmt = (
        _insert(session, Payment)
        .values(
            user_id=user_id,
            course_id=course_id,
            amount_cents=amount_cents,
            currency=currency,
            status=PaymentStatus.PENDING,
            checkout_session_id=checkout_session_id,
            checkout_url=checkout_url,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["checkout_session_id"])
    )
    await session.execute(stmt)


def _fresh(stmt: Any, *, lock: bool) -> Any:
    stmt = stmt.execution_options(populate_existing=True)
    return stmt.with_for_update() if lock else stmt


async def get_by_session_id(
    session: AsyncSession, checkout_session_id: str, *, lock: bool = False
) -> Payment | None:
    """The payment of a Checkout Session; ``lock`` takes its row lock (PostgreSQL) so
    concurrent events for one payment apply one after the other."""
    stmt = select(Payment).where(Payment.checkout_session_id == checkout_session_id)
    return (await session.execute(_fresh(stmt, lock=lock))).scalar_one_or_none()


async def get_by_payment_intent(
    session: AsyncSession, payment_intent_id: str, *, lock: bool = False
) -> Payment | None:
    stmt = select(Payment).where(Payment.payment_intent_id == payment_intent_id)
    return (await session.execute(_fresh(stmt, lock=lock))).scalar_one_or_none()


async def get_for_user(
    session: AsyncSession, *, user_id: int, checkout_session_id: str
) -> Payment | None:
    stmt = select(Payment).where(
        Payment.checkout_session_id == checkout_session_id, Payment.user_id == user_id
    )
    return (await session.execute(_fresh(stmt, lock=False))).scalar_one_or_none()


async def count_with_status(
    session: AsyncSession,
    *,
    user_id: int,
    course_id: int,
    status: PaymentStatus,
    except_id: int | None = None,
) -> int:
    stmt = select(func.count(Payment.id)).where(
        Payment.user_id == user_id, Payment.course_id == course_id, Payment.status == status
    )
    if except_id is not None:
        stmt = stmt.where(Payment.id != except_id)
    return int((await session.execute(stmt)).scalar_one())


async def count_ended(session: AsyncSession, *, user_id: int, course_id: int) -> int:
    """The user's payments for the course that ended without a purchase standing (failed,
    refunded)."""
    stmt = select(func.count(Payment.id)).where(
        Payment.user_id == user_id,
        Payment.course_id == course_id,
        Payment.status.in_((PaymentStatus.FAILED, PaymentStatus.REFUNDED)),
    )
    return int((await session.execute(stmt)).scalar_one())


def list_statement(
    *,
    user_id: int | None = None,
    course_id: int | None = None,
    status: PaymentStatus | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> AnySelect:
    stmt: AnySelect = select(Payment)
    if user_id is not None:
        stmt = stmt.where(Payment.user_id == user_id)
    if course_id is not None:
        stmt = stmt.where(Payment.course_id == course_id)
    if status is not None:
        stmt = stmt.where(Payment.status == status)
    if created_after is not None:
        stmt = stmt.where(Payment.created_at >= created_after)
    if created_before is not None:
        stmt = stmt.where(Payment.created_at <= created_before)
    return stmt


async def list_payments(
    session: AsyncSession,
    params: PageParams,
    *,
    user_id: int | None = None,
    course_id: int | None = None,
    status: PaymentStatus | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> PageResult[Payment]:
    """One page of :func:`list_statement` and its total."""
    stmt = list_statement(
        user_id=user_id,
        course_id=course_id,
        status=status,
        created_after=created_after,
        created_before=created_before,
    )
    return await fetch_page(
        session, ListQuery(page=stmt), params, sort_columns=SORTS, tie_breaker=Payment.id
    )


async def sales_by_course(
    session: AsyncSession, course_ids: list[int], *, teacher_id: int | None
) -> list[tuple[int, str, int, int]]:
    """(course id, currency, paid sales, revenue in cents) for the given courses: one query.

    Refunded payments are neither sales nor revenue."""
    if not course_ids:
        return []
    stmt = (
        select(
            Payment.course_id,
            Payment.currency,
            func.count(Payment.id),
            func.coalesce(func.sum(Payment.amount_cents), 0),
        )
        .where(Payment.course_id.in_(course_ids), Payment.status == PaymentStatus.PAID)
        .group_by(Payment.course_id, Payment.currency)
        .order_by(Payment.course_id, Payment.currency)
    )
    if teacher_id is not None:  # a teacher sees the sales of their own courses only
        stmt = stmt.where(Payment.course_id.in_(_taught_by(teacher_id)))
    rows = (await session.execute(stmt)).all()
    return [(int(c), str(cur), int(n), int(total)) for c, cur, n, total in rows]


def _taught_by(teacher_id: int) -> AnySelect:
    return select(Course.id).where(Course.teacher_id == teacher_id)


async def buyer_and_course(
    session: AsyncSession, *, user_id: int, course_id: int
) -> tuple[str, str, str, str | None] | None:
    """(buyer's email, buyer's name, course title, buyer's language), for telling the
    buyer the result."""
    stmt = (
        select(User.email, User.full_name, Course.title, User.locale)
        .select_from(User)
        .join(Course, Course.id == course_id)
        .where(User.id == user_id)
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        return None
    return str(row[0]), str(row[1]), str(row[2]), row[3]


async def course_titles(session: AsyncSession, course_ids: set[int]) -> dict[int, str]:
    if not course_ids:
        return {}
    stmt = select(Course.id, Course.title).where(Course.id.in_(course_ids))
    return {int(i): str(t) for i, t in (await session.execute(stmt)).all()}
