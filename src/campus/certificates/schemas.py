"""Certificate inputs and outputs (README "Certificates"; OpenAPI at /docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from campus.kit.schemas import InputSchema, Schema
from campus.models.certificates import REASON_MAX, CertificateStatus


class SignedFields(Schema):
    """Exactly what is signed. Serialise it canonically (see the well-known document) and
    check `value` with the published key of `key_id`."""

    code: str
    course_title: str
    issued_at: str = Field(description="UTC, to the second: `YYYY-MM-DDTHH:MM:SSZ`")
    student_name: str
    teacher_name: str
    v: int = Field(description="The format's version (1)")


class SignatureRead(Schema):
    algorithm: str = Field(description="`EdDSA` (Ed25519)")
    key_id: str = Field(description="RFC 7638 thumbprint of the public key")
    value: str = Field(description="The Ed25519 signature, base64url without padding")
    signed_fields: SignedFields
    keys_url: str = Field(description="Where the public keys are published (JWK)")


class CertificateRead(Schema):
    code: str
    student_name: str
    course_title: str
    teacher_name: str
    course_id: int | None = Field(description="Null once the course was deleted")
    issued_at: datetime
    status: CertificateStatus
    revoked_at: datetime | None
    revoked_reason: str | None
    url: str = Field(description="The public page that verifies it")
    pdf_url: str
    signature: SignatureRead


class PublishedKey(Schema):
    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str
    public_key_pem: str


class PublishedKeys(Schema):
    """``/.well-known/campus-certificates.json``: how to check a certificate offline."""

    issuer: str
    algorithm: str
    signed_fields: list[str]
    canonical_form: str
    verify_url: str
    keys: list[PublishedKey]


class RevocationIn(InputSchema):
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=REASON_MAX)
    ] = Field(description="Why it is revoked (shown on the public page)")
