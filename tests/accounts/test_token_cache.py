"""Verified access tokens are remembered, but never past their expiry, never across keys,
and a token that failed verification is never remembered."""

from __future__ import annotations

from datetime import timedelta

import pytest

from campus.accounts import tokens
from campus.config import Settings
from campus.errors import Unauthenticated
from campus.kit.clock import utcnow


def _token(settings: Settings, lifetime: timedelta = timedelta(minutes=5)) -> str:
    return tokens.encode_token(
        settings, user_id=7, session_id="s1", type_="access", lifetime=lifetime
    )


def test_a_verified_token_is_verified_once(settings: Settings) -> None:
    token = _token(settings)
    before = tokens._verified_payload.cache_info().hits
    first = tokens.decode_token(settings, token, expected="access")
    second = tokens.decode_token(settings, token, expected="access")
    assert first == second
    assert first.user_id == 7
    assert tokens._verified_payload.cache_info().hits == before + 1


def test_a_remembered_token_still_expires(settings: Settings) -> None:
    token = _token(settings, timedelta(minutes=1))
    assert tokens.decode_token(settings, token, expected="access").session_id == "s1"
    later = utcnow() + timedelta(minutes=2)
    with pytest.raises(Unauthenticated):
        tokens.decode_token(settings, token, expected="access", now=later)


def test_a_remembered_token_is_checked_against_the_current_key_and_type(
    settings: Settings,
) -> None:
    token = _token(settings)
    tokens.decode_token(settings, token, expected="access")
    other_key = settings.model_copy(update={"secret_key": "another-secret-key-" + "x" * 40})
    with pytest.raises(Unauthenticated):
        tokens.decode_token(other_key, token, expected="access")
    with pytest.raises(Unauthenticated):
        tokens.decode_token(settings, token, expected="refresh")


def test_a_forged_token_is_never_remembered(settings: Settings) -> None:
    token = _token(settings)
    head, payload, _signature = token.split(".")
    forged = f"{head}.{payload}.{'A' * 43}"
    size = tokens._verified_payload.cache_info().currsize
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            tokens.decode_token(settings, forged, expected="access")
    assert tokens._verified_payload.cache_info().currsize == size
