"""Every ORM table, one module per aggregate; importing this package registers them all."""

from campus.models.accounts import (
    AccountToken,
    AccountTokenPurpose,
    AuthSession,
    User,
    UserRole,
)
from campus.models.counters import Counter, RowCount
from campus.models.courses import Course, CourseLevel, Lesson
from campus.models.jobs import JobEffect, JobFailure
from campus.models.learning import Enrollment, EnrollmentStatus, LessonCompletion
from campus.models.payments import Payment, PaymentStatus, StripeEvent
from campus.models.tasks import Task, TaskPriority, TaskReminder, TaskStatus

__all__ = [
    "AccountToken",
    "AccountTokenPurpose",
    "AuthSession",
    "Counter",
    "Course",
    "CourseLevel",
    "Enrollment",
    "EnrollmentStatus",
    "JobEffect",
    "JobFailure",
    "Lesson",
    "LessonCompletion",
    "Payment",
    "PaymentStatus",
    "RowCount",
    "StripeEvent",
    "Task",
    "TaskPriority",
    "TaskReminder",
    "TaskStatus",
    "User",
    "UserRole",
]
