"""Media JSON API: a course's images and PDF attachments, and its cover (README "Media")."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile, status

from campus.courses.schemas import CourseRead
from campus.http.deps import IdPath, SessionDep, SettingsDep, page_params, page_response
from campus.http.identity import CurrentUser
from campus.kit.pagination.envelope import Page
from campus.kit.pagination.params import PageParams
from campus.media import service
from campus.media.schemas import CoverIn, MediaRead

router = APIRouter(prefix="/courses", tags=["media"])

# The routes that take a file (the API's and the pages'), and the room for the multipart
# envelope (boundaries, part headers, the CSRF field) around it: the body limit
# (campus.http.middleware.BodyLimitMiddleware) lets these through up to the upload limit.
UPLOAD_PATHS = re.compile(r"/(?:api/v1|teach)/courses/\d{1,10}/(?:media|cover)")
UPLOAD_ENVELOPE = 64 * 1024

CourseId = Annotated[int, IdPath("Course id")]
MediaId = Annotated[int, IdPath("Media id")]
MediaPage = Annotated[PageParams, Depends(page_params(service.SORTS, service.DEFAULT_SORT))]

Responses = dict[int | str, dict[str, Any]]
MANAGE: Responses = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not the course's teacher nor an admin"},
    404: {"description": "No such course (or not visible to you), or no such file"},
}
UPLOAD: Responses = {
    **MANAGE,
    409: {"description": "`media-quota-exceeded`: the uploader's quota would be exceeded"},
    413: {"description": "`file-too-large`: over `CAMPUS_MEDIA_MAX_UPLOAD_BYTES`"},
    415: {
        "description": (
            "`unsupported-media-type`: the content is not PNG, JPEG, WebP, GIF or PDF "
            "(an SVG, or HTML named `.png`, included), whatever the name or type sent"
        )
    },
    503: {"description": "The file store cannot be reached (nothing was stored)"},
    422: {
        "description": (
            "`invalid-image` / `invalid-pdf` (damaged or truncated), `image-too-large` "
            "(more pixels than `CAMPUS_MEDIA_MAX_IMAGE_PIXELS`: a decompression bomb), "
            "`empty-file`, or no `file` part"
        )
    },
}


async def _read(file: UploadFile, settings: SettingsDep) -> bytes:
    """The part's bytes, reading at most one byte past the limit."""
    data = await file.read(settings.media_max_upload_bytes + 1)
    if len(data) > settings.media_max_upload_bytes:
        raise service.too_large(settings)
    return data


@router.get("/{course_id}/media", response_model=Page[MediaRead], responses=MANAGE)
async def list_media(
    request: Request,
    response: Response,
    course_id: CourseId,
    session: SessionDep,
    actor: CurrentUser,
    page: MediaPage,
) -> Any:
    """The course's files, newest first (its teacher and admins)."""
    result = await service.list_media(session, actor, course_id=course_id, page=page)
    return page_response(request, response, result)


@router.post(
    "/{course_id}/media",
    response_model=MediaRead,
    status_code=status.HTTP_201_CREATED,
    responses=UPLOAD,
)
async def upload_media(
    course_id: CourseId,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentUser,
    file: Annotated[UploadFile, File(description="The image or PDF (multipart part `file`).")],
) -> Any:
    """Upload an image (PNG, JPEG, WebP, GIF) or a PDF for the course. The kind is told by
    the content alone. Images are stored re-encoded without metadata, scaled to fit
    `CAMPUS_MEDIA_MAX_DIMENSION`, with a thumbnail; a GIF becomes a PNG of its first frame.
    A refused file stores nothing."""
    data = await _read(file, settings)
    return await service.upload(
        session, settings, actor, course_id=course_id, data=data, filename=file.filename
    )


@router.delete(
    "/{course_id}/media/{media_id}", status_code=status.HTTP_204_NO_CONTENT, responses=MANAGE
)
async def delete_media(
    course_id: CourseId, media_id: MediaId, session: SessionDep, actor: CurrentUser
) -> Response:
    """Delete the file (its URL answers 404 at once; the stored bytes go right after). A
    cover it was is cleared. Lessons that show it keep their text."""
    await service.delete_media(session, actor, course_id=course_id, media_id=media_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/{course_id}/cover",
    response_model=CourseRead,
    responses={**MANAGE, 409: {"description": "`not-an-image`: the file is a PDF"}},
)
async def set_cover(
    course_id: CourseId, body: CoverIn, session: SessionDep, actor: CurrentUser
) -> Any:
    """Make one of the course's images its cover (shown on catalog cards and the course
    page; `cover_url` of the course)."""
    return await service.set_cover(session, actor, course_id=course_id, media_id=body.media_id)


@router.delete("/{course_id}/cover", response_model=CourseRead, responses=MANAGE)
async def clear_cover(course_id: CourseId, session: SessionDep, actor: CurrentUser) -> Any:
    """Remove the cover (the image stays among the course's files)."""
    return await service.set_cover(session, actor, course_id=course_id, media_id=None)
