from __future__ import annotations

import pytest

from campus.config import DEFAULT_SECRET_KEY, ConfigurationError, Settings


def test_cors_origins_accepts_json_and_comma_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPUS_CORS_ORIGINS", '["https://a.example", "https://b.example"]')
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]
    monkeypatch.setenv("CAMPUS_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]
    monkeypatch.setenv("CAMPUS_CORS_ORIGINS", "")
    assert Settings().cors_origins == []


def test_log_format_defaults_by_environment() -> None:
    assert Settings(env="development").log_format == "console"
    assert Settings(env="production", secret_key="x" * 40).log_format == "json"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"secret_key": DEFAULT_SECRET_KEY}, "CAMPUS_SECRET_KEY"),
        ({"secret_key": "short"}, "CAMPUS_SECRET_KEY"),
        ({"cors_origins": ["*"]}, "CAMPUS_CORS_ORIGINS"),
        ({"debug": True}, "CAMPUS_DEBUG"),
    ],
)
def test_production_refuses_unsafe_settings(overrides: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"env": "production", "secret_key": "k" * 40, **overrides}
    settings = Settings(**values)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=message):
        settings.check_production()


SEED = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # base64 of bytes 0..31


def test_production_accepts_safe_settings() -> None:
    Settings(
        env="production",
        secret_key="k" * 40,
        cors_origins=["https://x"],
        certificate_signing_key=SEED,
    ).check_production()


def test_production_requires_a_certificate_signing_key() -> None:
    settings = Settings(env="production", secret_key="k" * 40)
    with pytest.raises(ConfigurationError, match="CAMPUS_CERTIFICATE_SIGNING_KEY"):
        settings.check_production()


@pytest.mark.parametrize(
    "value", ["not base64!", "AAEC", "-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----"]
)
def test_a_bad_certificate_signing_key_is_refused(value: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="CAMPUS_CERTIFICATE_SIGNING_KEY"):
        Settings(certificate_signing_key=value)
