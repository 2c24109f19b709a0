"""Certificate pages: the public verification page and PDF (no sign-in), the published
keys, and an admin's revocation form."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Response
from fastapi.responses import JSONResponse

from campus.certificates import service
from campus.certificates.schemas import RevocationIn
from campus.errors import CampusError
from campus.http.deps import SessionDep, SettingsDep
from campus.http.forms import FormInvalid, field_errors, form_values, parse_form
from campus.http.identity import AdminUser, OptionalUser
from campus.http.web import WebPage, page_router
from campus.kit.i18n import gettext as _

router = page_router()

Code = Annotated[str, Path()]  # anything that is not a known code: the ordinary 404


@router.get(service.WELL_KNOWN_PATH)
async def published_keys_page(settings: SettingsDep) -> Response:
    """The public key(s) that sign certificates, as JWK, and how to check a signature."""
    return JSONResponse(
        service.published_keys(settings), headers={"Cache-Control": "public, max-age=300"}
    )


# Before "/certificates/{code}", which would not match "<code>.pdf" anyway (a code has no dot).
@router.get("/certificates/{code}.pdf")
async def certificate_pdf_page(code: Code, session: SessionDep, settings: SettingsDep) -> Response:
    body = await service.certificate_pdf(session, settings, code=code)
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="certificate-{code}.pdf"',
            "Cache-Control": "no-store",
            "X-Robots-Tag": "noindex",
        },
    )


async def _render(
    page: WebPage,
    session: SessionDep,
    code: str,
    user: OptionalUser,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    shown = await service.show_certificate(session, page.settings, code=code)
    return page.render(
        "certificates/certificate.html",
        {
            "shown": shown,
            "cert": shown.certificate,
            "may_revoke": service.may_revoke(user),
            "errors": errors or {},
            "values": values or {},
        },
        status_code=422 if errors else 200,
        headers={"X-Robots-Tag": "noindex"},
    )


@router.get("/certificates/{code}")
async def certificate_page(
    page: WebPage, session: SessionDep, code: Code, user: OptionalUser
) -> Response:
    return await _render(page, session, code, user)


@router.post("/certificates/{code}/revoke")
async def revoke_certificate_page(
    page: WebPage, session: SessionDep, code: Code, user: AdminUser
) -> Response:
    values = form_values(await page.form(), "reason")
    try:
        data = parse_form(RevocationIn, values)
        await service.revoke_certificate(session, user, code=code, reason=data.reason)
    except FormInvalid as exc:
        return await _render(page, session, code, user, errors=exc.errors, values=values)
    except CampusError as exc:
        if exc.code != "certificate-revoked":
            raise
        return await _render(page, session, code, user, errors=field_errors(exc), values=values)
    return page.redirect(f"/certificates/{code}", flash=_("The certificate is revoked."))
