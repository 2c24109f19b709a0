"""What a certificate's signature covers, and the key that makes it.

The signed fields are the certificate's own words: its code, the student's name, the
course's title, the teacher's name and the time of issue (UTC, to the second), with the
format's version. The status is *not* signed: a revocation happens after the fact, so
it is checked on the public page (or ``GET /api/v1/certificates/{code}``), never offline.

Ed25519 signatures are deterministic, so signing the same fields with the same key
gives the same signature every time: certificates are signed when shown, with the key
published at ``/.well-known/campus-certificates.json`` at that moment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from campus.config import Settings
from campus.kit import ed25519
from campus.models.certificates import Certificate

FORMAT_VERSION = 1
ALGORITHM = "EdDSA"
KEY_PURPOSE = "campus-certificates"
CANONICAL_FORM = (
    "UTF-8 JSON of the signed fields with the keys sorted and no whitespace, no ASCII "
    'escaping: json.dumps(fields, sort_keys=True, separators=(",", ":"), '
    "ensure_ascii=False) — for these string and integer fields, RFC 8785 (JCS)"
)
SIGNED_FIELDS = ("code", "course_title", "issued_at", "student_name", "teacher_name", "v")


def issued_at_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signed_fields(certificate: Certificate) -> dict[str, Any]:
    return {
        "code": certificate.code,
        "course_title": certificate.course_title,
        "issued_at": issued_at_text(certificate.issued_at),
        "student_name": certificate.student_name,
        "teacher_name": certificate.teacher_name,
        "v": FORMAT_VERSION,
    }


@lru_cache(maxsize=8)
def _key(configured: str | None, secret_key: str) -> Ed25519PrivateKey:
    if configured is not None:
        return ed25519.load_private_key(configured)
    return ed25519.derived_key(secret_key, KEY_PURPOSE)


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """CAMPUS_CERTIFICATE_SIGNING_KEY, or (development and tests, where it may be unset;
    production refuses to start without it) a key derived from the secret key."""
    return _key(settings.certificate_signing_key, settings.secret_key)


def sign(settings: Settings, certificate: Certificate) -> tuple[dict[str, Any], str, str]:
    """(the signed fields, the base64url signature, the key id)."""
    key = signing_key(settings)
    fields = signed_fields(certificate)
    return fields, ed25519.sign(key, fields), ed25519.key_id(key.public_key())


def published_keys(settings: Settings) -> dict[str, Any]:
    """The document served at ``/.well-known/campus-certificates.json``."""
    public = signing_key(settings).public_key()
    return {
        "issuer": settings.base_url,
        "algorithm": ALGORITHM,
        "signed_fields": list(SIGNED_FIELDS),
        "canonical_form": CANONICAL_FORM,
        "verify_url": f"{settings.base_url}/certificates/{{code}}",
        "keys": [{**ed25519.jwk(public), "public_key_pem": ed25519.public_pem(public)}],
    }
