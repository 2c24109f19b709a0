"""Where media files live: ONE interface, :class:`BlobStorage`, over an obstore store.

- ``local`` (the embedded default): a directory (``CAMPUS_MEDIA_DIR``), through obstore's
  ``LocalStore`` (a write goes to a temporary file that is renamed into place, so a reader
  never sees half a file);
- ``s3``: an S3-compatible bucket (``CAMPUS_S3_*``) through obstore's ``S3Store``, an async
  client on the Rust ``object_store`` crate (maintained by Development Seed; the crate is
  the Apache Arrow project's). Tested against moto's S3 server on loopback.

Keys are flat names made by the media service (``<token>.<ext>``), checked here again, so
no key can leave the directory or the bucket's ``media/`` prefix.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import obstore
from obstore.exceptions import NotFoundError
from obstore.store import LocalStore, S3Store

from campus.config import ConfigurationError, Settings

KEY = re.compile(r"[A-Za-z0-9_-]{22}(?:-thumb)?\.(?:png|jpg|webp|gif|pdf)")
S3_PREFIX = "media"


class BlobStorage:
    """Put, get and delete whole files by key on one obstore store."""

    def __init__(self, store: Any, *, description: str) -> None:
        self.store = store
        self.description = description

    @staticmethod
    def _checked(key: str) -> str:
        if KEY.fullmatch(key) is None:
            raise ValueError(f"not a media key: {key!r}")
        return key

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        # The object's own Content-Type (seen by anyone reading the bucket directly);
        # LocalStore keeps no attributes. Campus serves the type it stored in its row.
        attributes = {"Content-Type": content_type} if isinstance(self.store, S3Store) else None
        await obstore.put_async(self.store, self._checked(key), data, attributes=attributes)

    async def get(self, key: str) -> bytes | None:
        """The file's bytes, or None when there is none under ``key``."""
        try:
            result = await obstore.get_async(self.store, self._checked(key))
            return bytes(await result.bytes_async())
        except (NotFoundError, FileNotFoundError):
            return None

    async def exists(self, key: str) -> bool:
        try:
            await obstore.head_async(self.store, self._checked(key))
        except (NotFoundError, FileNotFoundError):
            return False
        return True

    async def delete(self, key: str) -> None:
        """Delete the file; one that is not there is deleted already."""
        try:
            await obstore.delete_async(self.store, self._checked(key))
        except (NotFoundError, FileNotFoundError):
            return


def _local(media_dir: str) -> BlobStorage:
    directory = Path(media_dir).expanduser().resolve()
    return BlobStorage(LocalStore(directory, mkdir=True), description=f"directory {directory}")


@lru_cache(maxsize=8)
def _cached(backend: str, *args: str | None) -> BlobStorage:
    if backend == "local":
        return _local(str(args[0]))
    bucket, endpoint, region, key_id, secret = args
    if not bucket:
        raise ConfigurationError("CAMPUS_MEDIA_BACKEND=s3 needs CAMPUS_S3_BUCKET")
    config: dict[str, Any] = {"region": region}
    if endpoint:
        config["endpoint"] = endpoint
    if key_id and secret:
        config["access_key_id"] = key_id
        config["secret_access_key"] = secret
    store = S3Store(
        bucket,
        prefix=S3_PREFIX,
        config=config,  # type: ignore[arg-type]
        client_options={"allow_http": (endpoint or "").startswith("http://"), "timeout": "30s"},
    )
    return BlobStorage(store, description=f"bucket {bucket}")


def storage_for(settings: Settings) -> BlobStorage:
    """The storage ``settings`` name (one client per configuration and process)."""
    if settings.media_backend == "local":
        return _cached("local", settings.media_dir)
    return _cached(
        "s3",
        settings.s3_bucket,
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.s3_access_key_id,
        settings.s3_secret_access_key,
    )
