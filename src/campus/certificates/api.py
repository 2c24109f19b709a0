"""Certificates JSON API: anyone verifies one by its code; a student lists their own; an
admin revokes (README "Certificates")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from campus.certificates import service
from campus.certificates.schemas import CertificateRead, RevocationIn
from campus.http.deps import SessionDep, SettingsDep, page_params, page_response
from campus.http.identity import AdminUser, CurrentUser
from campus.kit.pagination.envelope import Page
from campus.kit.pagination.params import PageParams

router = APIRouter(prefix="/certificates", tags=["certificates"])

# Any text: a code that is not one (wrong length, other characters) is a plain 404 too.
Code = Annotated[str, Path(description="The certificate's public code (24 characters)")]
Pagination = Annotated[PageParams, Depends(page_params(service.SORTS, service.DEFAULT_SORT))]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No certificate has this code (nothing is said about others)"},
}


@router.get(
    "", response_model=Page[CertificateRead], responses={401: {"description": "Not authenticated"}}
)
async def list_my_certificates(
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    params: Pagination,
) -> Any:
    """The caller's own certificates (valid and revoked), newest first."""
    page = await service.list_my_certificates(session, settings, user, params=params)
    return page_response(request, response, page)


@router.get("/{code}", response_model=CertificateRead, responses=NOT_FOUND)
async def get_certificate(code: Code, session: SessionDep, settings: SettingsDep) -> Any:
    """A certificate by its code, for anyone (no sign-in): its fields, status and
    signature. Check the signature offline with the key at
    `/.well-known/campus-certificates.json`; the status only here."""
    return (await service.show_certificate(session, settings, code=code)).as_dict()


@router.post(
    "/{code}/revoke",
    response_model=CertificateRead,
    responses={
        **NOT_FOUND,
        401: {"description": "Not authenticated"},
        403: {"description": "Not an admin"},
        409: {"description": "Revoked already (`certificate-revoked`)"},
        422: {"description": "Invalid input"},
    },
)
async def revoke_certificate(
    code: Code, body: RevocationIn, user: AdminUser, session: SessionDep, settings: SettingsDep
) -> Any:
    """Revoke a certificate (admins only): it is shown as revoked from now on, with the
    reason; the student is notified."""
    revoked = await service.revoke_certificate(session, user, code=code, reason=body.reason)
    return service.view(settings, revoked).as_dict()
