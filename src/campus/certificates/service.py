"""Certificates: issue once on completion, show to anyone with the code, revoke.

- **Issue**: :func:`issue_certificate` runs in the ``certificates.issue`` job that the
  learning domain enqueues (after its commit) when a lesson completion completes a course.
  It checks again that the student is actively enrolled and the course complete (every
  lesson, every quiz passed), copies the names and title, and inserts with
  ``ON CONFLICT DO NOTHING`` on (student, course): however many jobs or workers race,
  one certificate and one "issued" notification. A certificate is issued once: a revoked
  one is not issued again.
- **Show**: anyone with the code (an unguessable 144-bit random string) sees it; an
  unknown or malformed code is a plain 404 that says nothing about other codes.
- **Revoke**: an admin (any reason), or the payments domain when a refund ends the
  enrollment (:func:`revoke_for_refund`). Revoked stays revoked.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from campus.certificates import pdf, repository, signing
from campus.config import Settings
from campus.errors import Conflict, Forbidden, NotFound
from campus.kit.clock import utcnow
from campus.kit.i18n import N_
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams, make_page_params
from campus.learning import service as learning_service
from campus.log import get_logger
from campus.models.accounts import User, UserRole
from campus.models.certificates import CODE_LENGTH, Certificate, CertificateStatus
from campus.notifications import service as notifications

logger = get_logger("campus.certificates")

ISSUE_JOB = "certificates.issue"
CERTIFICATE_ISSUED = "certificate.issued"
CERTIFICATE_REVOKED = "certificate.revoked"
REFUND_REASON = "The course was refunded."
SORTS = ("issued_at",)
DEFAULT_SORT = "-issued_at"
_CODE = re.compile(rf"[A-Za-z0-9_-]{{{CODE_LENGTH}}}")


def new_code() -> str:
    return secrets.token_urlsafe(CODE_LENGTH * 3 // 4)


def is_code(value: str) -> bool:
    return _CODE.fullmatch(value) is not None


# --- views ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertificateView:
    """A certificate as shown anywhere (page, API, PDF): its fields, status and signature."""

    certificate: Certificate
    url: str
    pdf_url: str
    signed_fields: dict[str, Any]
    signature: str
    key_id: str
    keys_url: str

    @property
    def signed_fields_text(self) -> str:
        """The signed fields as readable JSON (the page; the signature is over the compact,
        canonical form)."""
        return json.dumps(self.signed_fields, indent=2, sort_keys=True, ensure_ascii=False)

    @property
    def is_revoked(self) -> bool:
        return self.certificate.status == CertificateStatus.REVOKED

    def as_dict(self) -> dict[str, Any]:
        c = self.certificate
        return {
            "code": c.code,
            "student_name": c.student_name,
            "course_title": c.course_title,
            "teacher_name": c.teacher_name,
            "course_id": c.course_id,
            "issued_at": c.issued_at,
            "status": c.status,
            "revoked_at": c.revoked_at,
            "revoked_reason": c.revoked_reason,
            "url": self.url,
            "pdf_url": self.pdf_url,
            "signature": {
                "algorithm": signing.ALGORITHM,
                "key_id": self.key_id,
                "value": self.signature,
                "signed_fields": self.signed_fields,
                "keys_url": self.keys_url,
            },
        }


WELL_KNOWN_PATH = "/.well-known/campus-certificates.json"


def view(settings: Settings, certificate: Certificate) -> CertificateView:
    fields, signature, key_id = signing.sign(settings, certificate)
    url = f"{settings.base_url}/certificates/{certificate.code}"
    return CertificateView(
        certificate=certificate,
        url=url,
        pdf_url=f"{url}.pdf",
        signed_fields=fields,
        signature=signature,
        key_id=key_id,
        keys_url=f"{settings.base_url}{WELL_KNOWN_PATH}",
    )


def published_keys(settings: Settings) -> dict[str, Any]:
    return signing.published_keys(settings)


# --- issue ------------------------------------------------------------------------------


async def issue_certificate(
    session: AsyncSession, *, user_id: int, course_id: int
) -> Certificate | None:
    """Issue the certificate of ``user_id`` for ``course_id`` if the course is complete and
    they have none yet: the new certificate, or None (not complete, not enrolled, or
    issued before). Idempotent under concurrency (one row, one notification)."""
    if not await learning_service.has_completed_course(
        session, user_id=user_id, course_id=course_id
    ):
        return None
    names = await repository.names_for(session, user_id=user_id, course_id=course_id)
    if names is None:
        return None
    student_name, course_title, teacher_name = names
    created = await repository.insert_if_absent(
        session,
        code=new_code(),
        user_id=user_id,
        course_id=course_id,
        student_name=student_name,
        course_title=course_title,
        teacher_name=teacher_name,
        # To the second: the signed form of the time is exact after any database round trip.
        issued_at=utcnow().replace(microsecond=0),
        status=CertificateStatus.VALID,
    )
    if created is None:
        return None
    certificate = await repository.get_by_id(session, created)
    assert certificate is not None
    await notifications.notify(
        session,
        user_id=user_id,
        kind=CERTIFICATE_ISSUED,
        title=f"Your certificate for {course_title} is ready",
        data={"course_id": course_id, "course_title": course_title, "code": certificate.code},
        link=f"/certificates/{certificate.code}",
    )
    logger.info("certificate_issued", user_id=user_id, course_id=course_id)
    return certificate


# --- read ---------------------------------------------------------------------------------


async def get_certificate(session: AsyncSession, *, code: str) -> Certificate:
    """The certificate with this code, for anyone; unknown or malformed: 404."""
    found = await repository.get_by_code(session, code) if is_code(code) else None
    if found is None:
        raise NotFound(N_("Certificate not found."))
    return found


async def show_certificate(
    session: AsyncSession, settings: Settings, *, code: str
) -> CertificateView:
    """The certificate with this code, signed, for anyone; unknown or malformed: 404."""
    return view(settings, await get_certificate(session, code=code))


async def list_my_certificates(
    session: AsyncSession, settings: Settings, actor: User, *, params: PageParams
) -> PageResult[dict[str, Any]]:
    """The actor's own certificates (never anyone else's) as shown, newest first by default."""
    page: PageResult[Any] = await repository.list_of_user(session, user_id=actor.id, params=params)
    page.items = [view(settings, c).as_dict() for c in page.items]
    return page


async def my_certificates(
    session: AsyncSession, settings: Settings, actor: User, *, limit: int
) -> list[CertificateView]:
    """The actor's newest ``limit`` certificates (the cabinet)."""
    page = await repository.list_of_user(
        session,
        user_id=actor.id,
        params=make_page_params(
            skip=0, limit=limit, sort=None, allowed=SORTS, default=DEFAULT_SORT
        ),
    )
    return [view(settings, c) for c in page.items]


async def certificate_pdf(session: AsyncSession, settings: Settings, *, code: str) -> bytes:
    """The certificate as a PDF (rendered in a worker thread); unknown code: 404."""
    shown = view(settings, await get_certificate(session, code=code))
    c = shown.certificate
    document = pdf.PdfCertificate(
        code=c.code,
        student_name=c.student_name,
        course_title=c.course_title,
        teacher_name=c.teacher_name,
        issued_on=_day(c.issued_at),
        revoked=shown.is_revoked,
        revoked_on=_day(c.revoked_at) if c.revoked_at else None,
        verify_url=shown.url,
        signature=shown.signature,
        key_id=shown.key_id,
        issuer=settings.base_url,
    )
    return await asyncio.to_thread(pdf.render, document)


def _day(value: datetime) -> str:
    day = value.astimezone(UTC)
    return f"{day.day} {day.strftime('%B %Y')}"


# --- revoke -------------------------------------------------------------------------------


def may_revoke(actor: User | None) -> bool:
    return actor is not None and actor.role == UserRole.ADMIN


async def revoke_certificate(
    session: AsyncSession, actor: User, *, code: str, reason: str
) -> Certificate:
    """An admin revokes a certificate. Others: 403; unknown code: 404; revoked: 409."""
    if not may_revoke(actor):
        raise Forbidden(N_("Only an admin can revoke a certificate."), code="admin-required")
    certificate = await get_certificate(session, code=code)
    changed = await repository.revoke(
        session, now=utcnow(), reason=reason, certificate_id=certificate.id
    )
    if not changed:
        raise Conflict(N_("This certificate was revoked already."), code="certificate-revoked")
    revoked = await repository.get_by_id(session, certificate.id)
    assert revoked is not None
    await _tell_revoked(session, revoked)
    return revoked


async def revoke_for_refund(session: AsyncSession, *, user_id: int, course_id: int) -> int:
    """Revoke the student's certificate for a course whose purchase was refunded (called by
    the payments domain in its unit of work); how many were revoked (0 or 1)."""
    changed = await repository.revoke(
        session, now=utcnow(), reason=REFUND_REASON, user_id=user_id, course_id=course_id
    )
    for certificate_id in changed:
        certificate = await repository.get_by_id(session, certificate_id)
        if certificate is not None:
            await _tell_revoked(session, certificate)
    return len(changed)


async def _tell_revoked(session: AsyncSession, certificate: Certificate) -> None:
    await notifications.notify(
        session,
        user_id=certificate.user_id,
        kind=CERTIFICATE_REVOKED,
        title=f"Your certificate for {certificate.course_title} was revoked",
        data={"course_id": certificate.course_id, "code": certificate.code},
        link=f"/certificates/{certificate.code}",
    )
