"""Media of a course: upload, list, serve, delete; the course's cover image.

- **Who**: the course's teacher and admins upload, list and delete (the courses domain's
  rule, :func:`campus.courses.service.get_managed_course`: a course one cannot see is a
  404, one seen but not managed a 403).
- **Upload**: the file is checked and re-encoded by :mod:`campus.media.files` (off the
  event loop), counted against the uploader's quota (their uploads that still exist;
  checked under a lock of their row), written to storage, then its row is inserted. A
  refused file stores nothing. Should the request fail after the write, the blobs are
  deleted again.
- **Serve**: ``/media/<key>`` finds the item by its key and shows it to whoever can see
  its course (a published course: anyone; a draft: its teacher and admins). Keys hold
  128 random bits and are never reused, so the bytes under a URL never change and are
  cached for a year (``immutable``); draft courses' files are ``private``.
- **Delete**: the item (or its whole course, by ON DELETE SET NULL) is detached in the
  unit of work; after the commit the ``media.purge`` job deletes the blobs and then the
  rows. A blob that cannot be deleted is logged and left for the next run (the hourly
  clean-up): the request that deleted never fails for it.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.courses import service as courses
from campus.courses.schemas import CourseCard
from campus.errors import Conflict, NotFound, PayloadTooLarge, ServiceUnavailable
from campus.jobs import enqueue
from campus.kit.i18n import N_, FileSize
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.log import get_logger
from campus.media import files, repository
from campus.media.storage import KEY, BlobStorage, storage_for
from campus.models.accounts import User
from campus.models.media import Media, MediaKind

logger = get_logger("campus.media")

PURGE_JOB = courses.MEDIA_PURGE_JOB
PURGE_BATCH = 200
SORTS = ("created_at",)
DEFAULT_SORT = "-created_at"
CACHE_FOREVER = "max-age=31536000, immutable"
NOT_FOUND = N_("No such file.")


def _limits(settings: Settings) -> files.Limits:
    return files.Limits(
        max_dimension=settings.media_max_dimension,
        thumbnail_dimension=settings.media_thumbnail_dimension,
        max_pixels=settings.media_max_image_pixels,
    )


def too_large(settings: Settings) -> PayloadTooLarge:
    return PayloadTooLarge(
        N_("The file is larger than %(limit)s, the limit of one upload."),
        code="file-too-large",
        variables={"limit": FileSize(settings.media_max_upload_bytes)},
    )


async def list_media(
    session: AsyncSession, actor: User, *, course_id: int, page: PageParams
) -> PageResult[Media]:
    await courses.get_managed_course(session, actor, course_id=course_id)
    return await repository.list_course_media(session, course_id, page)


async def upload(
    session: AsyncSession,
    settings: Settings,
    actor: User,
    *,
    course_id: int,
    data: bytes,
    filename: str | None,
    only_images: bool = False,
) -> Media:
    """Store an uploaded file for the course; 403/404 (who), 413 (size), 415 (kind),
    422 (damaged, too many pixels), 409 ``media-quota-exceeded``."""
    course = await courses.get_managed_course(session, actor, course_id=course_id)
    if len(data) > settings.media_max_upload_bytes:
        raise too_large(settings)
    processed = await asyncio.to_thread(
        files.process, data, _limits(settings), only_images=only_images
    )
    await repository.lock_uploader(session, actor.id)
    used = await repository.bytes_used(session, actor.id)
    if used + processed.size_bytes > settings.media_quota_bytes:
        raise Conflict(
            N_(
                "Your uploads would take %(total)s, over your quota of %(quota)s. "
                "Delete files you no longer use, then try again."
            ),
            code="media-quota-exceeded",
            variables={
                "total": FileSize(used + processed.size_bytes),
                "quota": FileSize(settings.media_quota_bytes),
            },
        )
    item = Media(
        token=secrets.token_urlsafe(16),
        course_id=course.id,
        uploaded_by_id=actor.id,
        kind=processed.kind,
        content_type=processed.content_type,
        extension=processed.extension,
        filename=files.clean_filename(filename, processed.extension),
        size_bytes=processed.size_bytes,
        width=processed.width,
        height=processed.height,
        has_thumbnail=processed.thumbnail is not None,
    )
    storage = storage_for(settings)
    try:
        await storage.put(item.key, processed.data, content_type=processed.content_type)
        if processed.thumbnail is not None and item.thumbnail_key is not None:
            await storage.put(
                item.thumbnail_key, processed.thumbnail, content_type=files.THUMBNAIL_TYPE
            )
    except Exception as exc:
        await _delete_blobs(storage, item.blob_keys)
        logger.warning("media_blob_write_failed", key=item.key, error=str(exc))
        raise ServiceUnavailable(
            N_("The file store cannot be reached; nothing was stored. Try again later."),
            headers={"Retry-After": "30"},
        ) from exc
    try:
        session.add(item)
        await session.flush()
    except BaseException:
        await _delete_blobs(storage, item.blob_keys)
        raise
    return item


async def get_media(session: AsyncSession, actor: User, *, course_id: int, media_id: int) -> Media:
    await courses.get_managed_course(session, actor, course_id=course_id)
    item = await repository.get_course_media(session, course_id=course_id, media_id=media_id)
    if item is None:
        raise NotFound(NOT_FOUND)
    return item


async def delete_media(
    session: AsyncSession, actor: User, *, course_id: int, media_id: int
) -> None:
    """Delete the item (its files after the commit); a cover it was stops being one."""
    item = await get_media(session, actor, course_id=course_id, media_id=media_id)
    await courses.set_cover(session, actor, course_id=course_id, cover_key=None, only_if=item.key)
    await repository.mark_deleted(session, item.id)
    enqueue(session, PURGE_JOB)


async def set_cover(
    session: AsyncSession, actor: User, *, course_id: int, media_id: int | None
) -> CourseCard:
    """Make an image of the course its cover, or clear the cover (``None``)."""
    key = None
    if media_id is not None:
        item = await get_media(session, actor, course_id=course_id, media_id=media_id)
        if item.kind != MediaKind.IMAGE:
            raise Conflict(N_("A cover must be an image, not a PDF."), code="not-an-image")
        key = item.key
    return await courses.set_cover(session, actor, course_id=course_id, cover_key=key)


async def upload_cover(
    session: AsyncSession,
    settings: Settings,
    actor: User,
    *,
    course_id: int,
    data: bytes,
    filename: str | None,
) -> CourseCard:
    """Upload an image and make it the course's cover, in one unit of work."""
    item = await upload(
        session,
        settings,
        actor,
        course_id=course_id,
        data=data,
        filename=filename,
        only_images=True,
    )
    return await courses.set_cover(session, actor, course_id=course_id, cover_key=item.key)


# --- serving ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Served:
    data: bytes
    content_type: str
    cache_control: str
    disposition: str | None


def _disposition(item: Media) -> str | None:
    if item.kind != MediaKind.PDF:
        return None
    ascii_name = item.filename.encode("ascii", "replace").decode().replace('"', "_")
    ascii_name = ascii_name.replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(item.filename)}"


async def serve(session: AsyncSession, settings: Settings, actor: User | None, key: str) -> Served:
    """The file under ``key`` for ``actor``; 404 when there is none or its course is not
    visible to them (nothing is said about which)."""
    if KEY.fullmatch(key) is None:
        raise NotFound(NOT_FOUND)
    token = key.split(".", 1)[0].removesuffix("-thumb")
    item = await repository.get_by_token(session, token)
    if item is None or item.course_id is None or key not in item.blob_keys:
        raise NotFound(NOT_FOUND)
    try:
        course = await courses.get_course(session, actor, course_id=item.course_id)
    except NotFound:
        raise NotFound(NOT_FOUND) from None
    data = await storage_for(settings).get(key)
    if data is None:
        logger.warning("media_blob_missing", key=key)
        raise NotFound(NOT_FOUND)
    is_thumbnail = key == item.thumbnail_key
    scope = "public" if course.is_published else "private"
    return Served(
        data=data,
        content_type=files.THUMBNAIL_TYPE if is_thumbnail else item.content_type,
        cache_control=f"{scope}, {CACHE_FOREVER}",
        disposition=None if is_thumbnail else _disposition(item),
    )


# --- deleting files -----------------------------------------------------------------------


async def _delete_blobs(storage: BlobStorage, keys: list[str]) -> bool:
    """Delete the blobs; False (logged) when one could not be deleted."""
    done = True
    for key in keys:
        try:
            await storage.delete(key)
        except Exception as exc:  # any storage failure: logged, retried by the clean-up
            logger.warning("media_blob_delete_failed", key=key, error=str(exc))
            done = False
    return done


async def purge_deleted(session: AsyncSession, settings: Settings) -> tuple[int, int]:
    """Delete the blobs of deleted items, then their rows; (purged, left for a retry)."""
    storage = storage_for(settings)
    purged = failed = 0
    while not failed:  # batch after batch; one that failed is left for the next run
        batch = await repository.deleted_items(session, limit=PURGE_BATCH)
        if not batch:
            break
        done = [item.id for item in batch if await _delete_blobs(storage, item.blob_keys)]
        failed = len(batch) - len(done)
        purged += len(done)
        await repository.forget(session, done)
    return purged, failed
