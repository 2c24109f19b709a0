"""Ed25519 signatures over a canonical JSON serialisation (certificates, and anything else
that a third party must be able to check offline with a published public key).

- **Keys**: a private key is given as PEM (PKCS#8, ``-----BEGIN PRIVATE KEY-----``) or as
  the base64 (standard or URL-safe, padding optional) of its 32-byte seed.
  :func:`derived_key` makes a deterministic one from a secret (development and tests only).
- **Canonical form**: :func:`canonical` is JSON with the keys sorted, no whitespace, UTF-8
  and no ASCII escaping (``json.dumps(fields, sort_keys=True, separators=(",", ":"),
  ensure_ascii=False).encode()``); for objects of strings and integers this is also the
  JSON Canonicalization Scheme (RFC 8785).
- **Published key**: :func:`jwk` is the public key as a JSON Web Key (RFC 8037, ``OKP`` /
  ``Ed25519``) whose ``kid`` is its RFC 7638 thumbprint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SEED_BYTES = 32


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_private_key(text: str) -> Ed25519PrivateKey:
    """The key in ``text`` (PEM or base64 seed); ``ValueError`` with a clear message if not."""
    value = text.strip()
    if value.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(value.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError("not a readable unencrypted PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the PEM key is not an Ed25519 key")
        return key
    try:
        seed = base64.b64decode(
            value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4), validate=True
        )
    except (binascii.Error, ValueError) as exc:
        raise ValueError("neither a PEM key nor the base64 of a 32-byte seed") from exc
    if len(seed) != SEED_BYTES:
        raise ValueError(f"a base64 seed must decode to {SEED_BYTES} bytes, not {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def derived_key(secret: str, purpose: str) -> Ed25519PrivateKey:
    """A deterministic key from ``secret`` (HMAC-SHA256 of ``purpose``): development only."""
    seed = hmac.new(secret.encode(), f"ed25519:{purpose}".encode(), hashlib.sha256).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def key_id(key: Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": b64url(public_bytes(key))}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest()
    return b64url(digest)


def jwk(key: Ed25519PublicKey) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(public_bytes(key)),
        "kid": key_id(key),
        "alg": "EdDSA",
        "use": "sig",
    }


def canonical(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(key: Ed25519PrivateKey, fields: Mapping[str, Any]) -> str:
    """The base64url signature of the canonical form of ``fields``."""
    return b64url(key.sign(canonical(fields)))


def verify(key: Ed25519PublicKey, fields: Mapping[str, Any], signature: str) -> bool:
    try:
        key.verify(b64url_decode(signature), canonical(fields))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True
