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


def test_production_accepts_safe_settings() -> None:
    Settings(env="production", secret_key="k" * 40, cors_origins=["https://x"]).check_production()
