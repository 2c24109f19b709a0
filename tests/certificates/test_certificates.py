"""Certificates on the test's transaction: issued once on completion, public by code, the
student's own list, admin revocation, the page, the PDF and the cabinet."""

from __future__ import annotations

import io

import httpx
import pypdf
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.certificates import service
from campus.config import Settings
from campus.models.certificates import Certificate, CertificateStatus
from campus.models.notifications import Notification
from tests.certificates.helpers import (
    COURSE_TITLE,
    STUDENT_NAME,
    TEACHER_NAME,
    World,
    add_quiz,
    complete_course,
    complete_lesson,
    make_world,
)
from tests.factories import DEFAULT_PASSWORD
from tests.pagehelpers import HTML, csrf_from, sign_in

API = "/api/v1/certificates"


@pytest.fixture
async def world(session: AsyncSession, settings: Settings) -> World:
    return await make_world(session, settings)


async def issued(session: AsyncSession, world: World) -> Certificate:
    """What the ``certificates.issue`` job does after the completing request's commit (the
    job's own connection cannot see the test's transaction, so it is called here)."""
    certificate = await service.issue_certificate(
        session, user_id=world.student.id, course_id=world.course.id
    )
    assert certificate is not None
    return certificate


async def count(session: AsyncSession, model: type, *where: object) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_completed_course_issues_one_certificate_with_a_notification(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await complete_course(client, world)
    cert = await issued(session, world)
    assert len(cert.code) == 24
    assert (cert.student_name, cert.course_title, cert.teacher_name) == (
        STUDENT_NAME,
        COURSE_TITLE,
        TEACHER_NAME,
    )
    assert cert.status == CertificateStatus.VALID
    assert cert.issued_at.microsecond == 0
    # Issuing again (a re-run of the job) does nothing.
    again = await service.issue_certificate(
        session, user_id=world.student.id, course_id=world.course.id
    )
    assert again is None
    assert await count(session, Certificate, Certificate.user_id == world.student.id) == 1
    notes = (
        await session.scalars(
            select(Notification).where(
                Notification.user_id == world.student.id,
                Notification.kind == service.CERTIFICATE_ISSUED,
            )
        )
    ).all()
    assert [n.link for n in notes] == [f"/certificates/{cert.code}"]
    assert COURSE_TITLE in notes[0].title


async def test_no_certificate_before_the_course_is_complete(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await add_quiz(client, world)
    # The quiz lesson cannot be completed without passing; the other one alone is not enough.
    blocked = await complete_lesson(client, world, world.lessons[0], world.h["student"])
    assert blocked.status_code == 409
    done = await complete_lesson(client, world, world.lessons[1], world.h["student"])
    assert done.json()["percent"] == 50
    assert (
        await service.issue_certificate(
            session, user_id=world.student.id, course_id=world.course.id
        )
        is None
    )
    # A student who is not enrolled gets nothing, whatever they completed.
    assert (
        await service.issue_certificate(session, user_id=world.admin.id, course_id=world.course.id)
        is None
    )
    assert await count(session, Certificate) == 0


async def test_anyone_can_read_a_certificate_by_its_code(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await complete_course(client, world)
    cert = await issued(session, world)
    r = await client.get(f"{API}/{cert.code}")  # no sign-in
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["student_name"] == STUDENT_NAME
    assert body["course_title"] == COURSE_TITLE
    assert body["teacher_name"] == TEACHER_NAME
    assert body["status"] == "valid"
    assert body["revoked_at"] is None
    assert body["url"] == f"http://testserver/certificates/{cert.code}"
    assert body["pdf_url"] == f"http://testserver/certificates/{cert.code}.pdf"
    sig = body["signature"]
    assert sig["algorithm"] == "EdDSA"
    assert sig["signed_fields"]["student_name"] == STUDENT_NAME
    assert sig["keys_url"] == "http://testserver/.well-known/campus-certificates.json"
    # Nothing private: no user id, no email.
    assert "user_id" not in body
    assert world.student.email not in r.text


@pytest.mark.parametrize(
    "code",
    ["A" * 24, "short", "x" * 65, "x" * 5000, "a.b", "ÿ" * 24, "A" * 23 + "="],
)
async def test_unknown_codes_are_a_plain_404(
    client: httpx.AsyncClient, session: AsyncSession, world: World, code: str
) -> None:
    await complete_course(client, world)
    cert = await issued(session, world)
    r = await client.get(f"{API}/{code}")
    assert r.status_code == 404, r.text
    assert r.json()["type"].endswith("/not-found")
    assert cert.code not in r.text
    page = await client.get(f"/certificates/{code}", headers=HTML)
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert cert.code not in page.text
    assert STUDENT_NAME not in page.text
    pdf = await client.get(f"/certificates/{code}.pdf")
    assert pdf.status_code == 404
    assert "application/pdf" not in pdf.headers["content-type"]


async def test_a_code_with_nul_is_the_text_guards_422(client: httpx.AsyncClient) -> None:
    """NUL in any request text is the one rule's 422 (campus.http.textguard), never a
    lookup."""
    code = "%00" * 3
    r = await client.get(f"{API}/{code}")
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["path"]
    page = await client.get(f"/certificates/{code}", headers=HTML)
    assert page.status_code == 422
    assert '<header class="site-header">' in page.text
    pdf = await client.get(f"/certificates/{code}.pdf")
    assert pdf.status_code == 422
    assert "application/pdf" not in pdf.headers["content-type"]


async def test_the_404_page_is_the_normal_one(client: httpx.AsyncClient) -> None:
    missing = await client.get("/certificates/" + "B" * 24, headers=HTML)
    normal = await client.get("/no-such-page-at-all", headers=HTML)
    assert missing.status_code == normal.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    main = missing.text.split("<main", 1)[-1].split("</main>")[0]
    # The same page as any other 404, with the service's one-line detail (the footer's
    # language switcher differs: it returns to the page's own path).
    assert (
        main.replace("Certificate not found.", "No such resource.")
        == normal.text.split("<main", 1)[-1].split("</main>")[0]
    )


async def test_students_list_only_their_own_certificates(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await complete_course(client, world)
    cert = await issued(session, world)
    mine = await client.get(API, headers=world.h["student"])
    assert mine.status_code == 200
    assert [c["code"] for c in mine.json()["items"]] == [cert.code]
    assert mine.json()["total"] == 1
    theirs = await client.get(API, headers=world.h["other"])
    assert theirs.json()["items"] == []
    assert theirs.json()["total"] == 0
    assert cert.code not in theirs.text
    admin = await client.get(API, headers=world.h["admin"])  # "mine" even for an admin
    assert admin.json()["items"] == []
    assert (await client.get(API)).status_code == 401
    bad = await client.get(API, params={"sort": "student_name"}, headers=world.h["student"])
    assert bad.status_code == 422


async def test_only_an_admin_may_revoke(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await complete_course(client, world)
    cert = await issued(session, world)
    url = f"{API}/{cert.code}/revoke"
    assert (await client.post(url, json={"reason": "no"})).status_code == 401
    for who in ("student", "other", "teacher"):
        r = await client.post(url, json={"reason": "I want to"}, headers=world.h[who])
        assert r.status_code == 403, (who, r.text)
    await session.refresh(cert)
    assert cert.status == CertificateStatus.VALID
    for body in (
        {},
        {"reason": ""},
        {"reason": "   "},
        {"reason": "x" * 301},
        {"reason": "a", "x": 1},
    ):
        r = await client.post(url, json=body, headers=world.h["admin"])
        assert r.status_code == 422, (body, r.text)
    missing = await client.post(
        f"{API}/{'C' * 24}/revoke", json={"reason": "x"}, headers=world.h["admin"]
    )
    assert missing.status_code == 404
    r = await client.post(url, json={"reason": "Plagiarism found"}, headers=world.h["admin"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "revoked"
    assert r.json()["revoked_reason"] == "Plagiarism found"
    assert r.json()["revoked_at"] is not None
    again = await client.post(url, json={"reason": "twice"}, headers=world.h["admin"])
    assert again.status_code == 409
    assert again.json()["type"].endswith("/certificate-revoked")
    public = (await client.get(f"{API}/{cert.code}")).json()
    assert public["status"] == "revoked"
    assert public["revoked_reason"] == "Plagiarism found"
    revoked_notes = await count(
        session,
        Notification,
        Notification.user_id == world.student.id,
        Notification.kind == service.CERTIFICATE_REVOKED,
    )
    assert revoked_notes == 1


async def test_the_public_page_shows_the_certificate_and_its_status(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await complete_course(client, world)
    cert = await issued(session, world)
    page = await client.get(f"/certificates/{cert.code}")  # no sign-in
    assert page.status_code == 200
    for text in (STUDENT_NAME, COURSE_TITLE, TEACHER_NAME, "Valid", cert.code):
        assert text in page.text
    assert 'name="robots" content="noindex"' in page.text
    assert "Revoke this certificate" not in page.text
    await service.revoke_certificate(session, world.admin, code=cert.code, reason="Refund")
    page = await client.get(f"/certificates/{cert.code}")
    assert page.status_code == 200
    assert "Revoked" in page.text
    assert "no longer valid" in page.text


async def test_an_admin_revokes_from_the_page(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await complete_course(client, world)
    cert = await issued(session, world)
    await sign_in(client, world.admin.email, DEFAULT_PASSWORD)
    page = await client.get(f"/certificates/{cert.code}")
    assert "Revoke this certificate" in page.text
    # The revoke form's own token (not the header's sign-out form).
    token = csrf_from(page.text.split('action="/certificates/', 1)[1])
    empty = await client.post(
        f"/certificates/{cert.code}/revoke", data={"csrf_token": token, "reason": " "}
    )
    assert empty.status_code == 422
    assert "error-text" in empty.text
    done = await client.post(
        f"/certificates/{cert.code}/revoke", data={"csrf_token": token, "reason": "Mistake"}
    )
    assert done.status_code == 303
    await session.refresh(cert)
    assert cert.status == CertificateStatus.REVOKED
    assert cert.revoked_reason == "Mistake"


async def test_a_student_cannot_revoke_from_the_page(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await complete_course(client, world)
    cert = await issued(session, world)
    await sign_in(client, world.student.email, DEFAULT_PASSWORD)
    page = await client.get(f"/certificates/{cert.code}")
    assert "Revoke this certificate" not in page.text
    r = await client.post(
        f"/certificates/{cert.code}/revoke",
        data={"csrf_token": csrf_from(page.text), "reason": "mine"},
    )
    assert r.status_code == 403
    await session.refresh(cert)
    assert cert.status == CertificateStatus.VALID


async def test_the_pdf_parses_and_carries_the_names_and_signature(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await complete_course(client, world)
    cert = await issued(session, world)
    r = await client.get(f"/certificates/{cert.code}.pdf")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(r.content))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    for expected in (STUDENT_NAME, COURSE_TITLE, TEACHER_NAME, cert.code):
        assert expected in text, expected
    signature = (await client.get(f"{API}/{cert.code}")).json()["signature"]
    assert signature["value"] in text.replace("\n", "")
    assert reader.metadata is not None
    assert signature["value"] in str(reader.metadata.get("/Keywords"))
    assert "REVOKED" not in text
    await service.revoke_certificate(session, world.admin, code=cert.code, reason="Refund")
    revoked = await client.get(f"/certificates/{cert.code}.pdf")
    assert "REVOKED" in pypdf.PdfReader(io.BytesIO(revoked.content)).pages[0].extract_text()


async def test_the_cabinet_lists_the_students_certificates(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    await sign_in(client, world.student.email, DEFAULT_PASSWORD)
    before = await client.get("/cabinet")
    assert "My certificates" in before.text
    assert "Complete a course to earn its certificate." in before.text
    await complete_course(client, world)
    cert = await issued(session, world)
    after = await client.get("/cabinet")
    assert f'href="/certificates/{cert.code}"' in after.text
    assert "Valid" in after.text
    await service.revoke_certificate(session, world.admin, code=cert.code, reason="x")
    revoked = await client.get("/cabinet")
    assert "Revoked" in revoked.text
