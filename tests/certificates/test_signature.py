"""The signature, checked as a third party would: the published JWK, the API's fields,
``json`` and ``cryptography`` only — no Campus code on the verifying side."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_public_key,
)
from sqlalchemy.ext.asyncio import AsyncSession

from campus.certificates import service
from campus.config import Settings
from tests.certificates.helpers import World, complete_course, make_world

WELL_KNOWN = "/.well-known/campus-certificates.json"


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def third_party_verify(keys: dict[str, Any], certificate: dict[str, Any]) -> bool:
    """What a verifier writes from the well-known document alone."""
    signature = certificate["signature"]
    jwk = next(k for k in keys["keys"] if k["kid"] == signature["key_id"])
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
    public = Ed25519PublicKey.from_public_bytes(_b64url(jwk["x"]))
    message = json.dumps(
        signature["signed_fields"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    try:
        public.verify(_b64url(signature["value"]), message)
    except (InvalidSignature, ValueError):
        return False
    return True


@pytest.fixture
async def world(session: AsyncSession, settings: Settings) -> World:
    return await make_world(session, settings)


@pytest.fixture
async def signed(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> tuple[dict[str, Any], dict[str, Any]]:
    await complete_course(client, world)
    cert = await service.issue_certificate(
        session, user_id=world.student.id, course_id=world.course.id
    )
    assert cert is not None
    keys = await client.get(WELL_KNOWN)
    assert keys.status_code == 200
    assert keys.headers["content-type"].startswith("application/json")
    body = (await client.get(f"/api/v1/certificates/{cert.code}")).json()
    return keys.json(), body


async def test_the_signature_verifies_with_the_published_key_alone(
    signed: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    keys, body = signed
    assert third_party_verify(keys, body)
    fields = body["signature"]["signed_fields"]
    # The signed fields are the certificate's own words.
    assert fields["code"] == body["code"]
    assert fields["student_name"] == body["student_name"]
    assert fields["course_title"] == body["course_title"]
    assert fields["teacher_name"] == body["teacher_name"]
    assert fields["issued_at"].endswith("Z")
    assert body["issued_at"].startswith(fields["issued_at"][:19])
    assert set(fields) == set(keys["signed_fields"])
    # The PEM form of the key is the same key.
    jwk = keys["keys"][0]
    pem = load_pem_public_key(jwk["public_key_pem"].encode())
    assert isinstance(pem, Ed25519PublicKey)
    assert base64.urlsafe_b64encode(pem.public_bytes_raw()).rstrip(b"=").decode() == jwk["x"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("student_name", "Иван Петров-Водкина"),
        ("course_title", "Something else"),
        ("teacher_name", "Another Teacher"),
        ("issued_at", "2020-01-01T00:00:00Z"),
        ("code", "A" * 24),
        ("v", 2),
    ],
)
async def test_a_tampered_field_fails(
    signed: tuple[dict[str, Any], dict[str, Any]], field: str, value: Any
) -> None:
    keys, body = signed
    forged = copy.deepcopy(body)
    forged["signature"]["signed_fields"][field] = value
    assert not third_party_verify(keys, forged)


async def test_a_tampered_or_foreign_signature_fails(
    signed: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    keys, body = signed
    raw = bytearray(_b64url(body["signature"]["value"]))
    raw[0] ^= 1
    flipped = copy.deepcopy(body)
    flipped["signature"]["value"] = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert not third_party_verify(keys, flipped)
    # Signed by someone else's key over the very same fields.
    other = Ed25519PrivateKey.generate()
    fields = body["signature"]["signed_fields"]
    message = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    foreign = copy.deepcopy(body)
    foreign["signature"]["value"] = (
        base64.urlsafe_b64encode(other.sign(message.encode())).decode().rstrip("=")
    )
    assert not third_party_verify(keys, foreign)
    truncated = copy.deepcopy(body)
    truncated["signature"]["value"] = body["signature"]["value"][:-4]
    assert not third_party_verify(keys, truncated)


async def test_the_page_shows_the_signature_and_key_id(
    client: httpx.AsyncClient, signed: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    _, body = signed
    page = await client.get(f"/certificates/{body['code']}")
    assert body["signature"]["value"] in page.text
    assert body["signature"]["key_id"] in page.text
    assert WELL_KNOWN in page.text


def test_the_key_comes_from_the_setting(settings: Settings) -> None:
    from campus.certificates import signing

    derived = signing.signing_key(settings).public_key().public_bytes_raw()
    # Deterministic in development and tests: the same secret key, the same signing key.
    again = settings.model_copy(update={})
    assert signing.signing_key(again).public_key().public_bytes_raw() == derived
    other_secret = settings.model_copy(update={"secret_key": "another-secret-key-" * 3})
    assert signing.signing_key(other_secret).public_key().public_bytes_raw() != derived
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    expected = key.public_key().public_bytes_raw()
    for value in (
        base64.b64encode(seed).decode(),
        base64.urlsafe_b64encode(seed).decode().rstrip("="),
        pem,
    ):
        configured = Settings(**{**settings.model_dump(), "certificate_signing_key": value})
        assert signing.signing_key(configured).public_key().public_bytes_raw() == expected
