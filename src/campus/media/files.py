"""What an uploaded file is, decided by its content alone, and what is stored of it.

The name and the content type the browser sent are never believed: the first bytes say
what a file is (PNG, JPEG, GIF, WebP, PDF); anything else is refused, with a clear word
for the usual disguises (HTML or SVG named ``.png``). Images are then decoded by Pillow
and stored re-encoded — metadata (EXIF, GPS, comments, colour profiles) dropped, scaled
to fit ``max_dimension`` — with a WebP thumbnail. Their pixel count is checked from the
header before anything is decoded, so a decompression bomb costs nothing. PDFs are
parsed by pypdf (a damaged one is refused) and stored as sent.

Every refusal is a message marked for the catalogs (its values kept apart,
``variables``), so a teacher's page shows it in their language; the API's is English.

Pure and synchronous: the service runs :func:`process` in a worker thread.
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from campus.errors import UnsupportedMediaType, ValidationFailed
from campus.kit.i18n import N_
from campus.models.media import FILENAME_MAX, MediaKind

ACCEPTED = "PNG, JPEG, WebP or GIF images and PDF files"
ACCEPT_ATTRIBUTE = "image/png,image/jpeg,image/webp,image/gif,application/pdf"
THUMBNAIL_TYPE = "image/webp"
JPEG_QUALITY = 85
WEBP_QUALITY = 82

# Sniffed format -> (Pillow format, content type, extension, Pillow save format)
_IMAGE_FORMATS = {
    "png": ("PNG", "image/png", "png", "PNG"),
    "jpeg": ("JPEG", "image/jpeg", "jpg", "JPEG"),
    # A GIF is stored as a PNG of its first frame (animation is not kept).
    "gif": ("GIF", "image/png", "png", "PNG"),
    "webp": ("WEBP", "image/webp", "webp", "WEBP"),
}


@dataclass(frozen=True, slots=True)
class Limits:
    max_dimension: int
    thumbnail_dimension: int
    max_pixels: int


@dataclass(frozen=True, slots=True)
class Processed:
    """What is stored of an accepted file."""

    kind: MediaKind
    content_type: str
    extension: str
    data: bytes
    thumbnail: bytes | None = None
    width: int | None = None
    height: int | None = None

    @property
    def size_bytes(self) -> int:
        return len(self.data) + len(self.thumbnail or b"")


# What a refused file is told; the kinds accepted are ACCEPTED, written out in each
# message so that each is one sentence to translate.
SVG_REFUSED = N_(
    "This file is an SVG image, which can carry scripts and is not accepted. "
    "Upload PNG, JPEG, WebP or GIF images and PDF files."
)
HTML_REFUSED = N_(
    "This file is an HTML page, whatever its name says. "
    "Upload PNG, JPEG, WebP or GIF images and PDF files."
)
KIND_REFUSED = N_(
    "This kind of file is not accepted. Upload PNG, JPEG, WebP or GIF images and PDF files."
)
COVER_NOT_AN_IMAGE = N_("A cover must be a PNG, JPEG, WebP or GIF image.")
DAMAGED_IMAGE = N_("The image is damaged or not a real image.")
INCOMPLETE_IMAGE = N_("The image is damaged or incomplete.")
MISMATCHED_IMAGE = N_("The image's content does not match its format.")
TOO_MANY_PIXELS = N_(
    "The image is %(size)s pixels; at most %(megapixels)s megapixels are accepted."
)
BOMB = N_("The image has too many pixels; at most %(megapixels)s megapixels are accepted.")
ENCRYPTED_PDF = N_("Password-protected PDFs are not accepted.")
EMPTY_PDF = N_("The PDF has no pages.")
DAMAGED_PDF = N_("The PDF is damaged or incomplete.")
EMPTY_FILE = N_("The file is empty.")


def _refused(detail: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(detail)


def _invalid(
    detail: str, code: str, variables: dict[str, object] | None = None
) -> ValidationFailed:
    error = ValidationFailed(detail, code=code, variables=variables)
    error.errors = [{"loc": ["body", "file"], "msg": error.detail, "type": code}]
    return error


def sniff(data: bytes) -> str:
    """The format the first bytes say (``png``, ``jpeg``, ``gif``, ``webp``, ``pdf``),
    else a 415 that names what the file looks like."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.lstrip()[:5] == b"%PDF-":
        return "pdf"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in head or (head.startswith(b"<?xml") and b"svg" in head):
        raise _refused(SVG_REFUSED)
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")):
        raise _refused(HTML_REFUSED)
    raise _refused(KIND_REFUSED)


def _open(data: bytes, expected: str, limits: Limits) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(None, limits) from None
    except Exception:  # Pillow's parsers raise many kinds on a broken header
        raise _invalid(DAMAGED_IMAGE, "invalid-image") from None
    if image.format != expected:
        raise _invalid(MISMATCHED_IMAGE, "invalid-image")
    return image


def _too_many_pixels(size: tuple[int, int] | None, limits: Limits) -> ValidationFailed:
    megapixels = round(limits.max_pixels / 1_000_000, 2)
    if size is None:
        return _invalid(BOMB, "image-too-large", {"megapixels": megapixels})
    return _invalid(
        TOO_MANY_PIXELS,
        "image-too-large",
        {"size": f"{size[0]}x{size[1]}", "megapixels": megapixels},
    )


def _check_pixels(image: Image.Image, limits: Limits) -> None:
    width, height = image.size
    if width < 1 or height < 1 or width * height > limits.max_pixels:
        raise _too_many_pixels((width, height), limits)


def _encoded(image: Image.Image, save_format: str, *, quality: int) -> bytes:
    out = io.BytesIO()
    options: dict[str, object] = {"optimize": True}
    if save_format in ("JPEG", "WEBP"):
        options["quality"] = quality
    image.save(out, format=save_format, **options)
    return out.getvalue()


def _plain(image: Image.Image, save_format: str) -> Image.Image:
    """The pixels alone (no metadata), in a mode ``save_format`` can store."""
    image = ImageOps.exif_transpose(image) or image
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    mode = "RGB" if save_format == "JPEG" else "RGBA" if has_alpha else "RGB"
    converted = image.convert(mode)
    clean = Image.new(mode, converted.size)
    clean.paste(converted)
    return clean


def _process_image(data: bytes, kind: str, limits: Limits) -> Processed:
    pil_format, content_type, extension, save_format = _IMAGE_FORMATS[kind]
    image = _open(data, pil_format, limits)
    _check_pixels(image, limits)
    try:
        image.verify()  # structure and checksums, without decoding
        image = _open(data, pil_format, limits)  # verify() leaves the image unusable
        image.seek(0)
        image.load()
    except Exception:  # truncated data, bad checksums, broken chunks: all "damaged"
        raise _invalid(INCOMPLETE_IMAGE, "invalid-image") from None
    clean = _plain(image, save_format)
    clean.thumbnail((limits.max_dimension, limits.max_dimension), Image.Resampling.LANCZOS)
    stored = _encoded(clean, save_format, quality=JPEG_QUALITY)
    thumb = clean.copy()
    thumb.thumbnail(
        (limits.thumbnail_dimension, limits.thumbnail_dimension), Image.Resampling.LANCZOS
    )
    return Processed(
        kind=MediaKind.IMAGE,
        content_type=content_type,
        extension=extension,
        data=stored,
        thumbnail=_encoded(thumb, "WEBP", quality=WEBP_QUALITY),
        width=clean.width,
        height=clean.height,
    )


def _process_pdf(data: bytes) -> Processed:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise _invalid(ENCRYPTED_PDF, "invalid-pdf")
        if len(reader.pages) < 1:
            raise _invalid(EMPTY_PDF, "invalid-pdf")
    except (PyPdfError, OSError, ValueError, KeyError, TypeError, RecursionError):
        raise _invalid(DAMAGED_PDF, "invalid-pdf") from None
    return Processed(kind=MediaKind.PDF, content_type="application/pdf", extension="pdf", data=data)


def process(data: bytes, limits: Limits, *, only_images: bool = False) -> Processed:
    """The stored form of an uploaded file, or the 415/422 that says why it is refused."""
    if not data:
        raise _invalid(EMPTY_FILE, "empty-file")
    kind = sniff(data)
    if kind == "pdf":
        if only_images:
            raise _refused(COVER_NOT_AN_IMAGE)
        return _process_pdf(data)
    return _process_image(data, kind, limits)


_UNSAFE = re.compile(r"[^\w.\- ()]+")


def clean_filename(name: str | None, extension: str) -> str:
    """A file name to show and to offer on download: the sender's, tamed, with the
    extension of what is stored (``../../x.php.png`` -> ``x.php.png``)."""
    base = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    base = _UNSAFE.sub("_", base).strip(" ._")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = stem[: FILENAME_MAX - 6] or "file"
    return f"{stem}.{extension}"
