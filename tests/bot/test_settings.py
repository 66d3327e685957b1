"""Settings read from the environment the way an operator writes them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.settings import Settings


def test_languages_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_LANGUAGES", " ES , en ")
    assert Settings().languages == ("es", "en")


def test_languages_default_is_english_then_spanish(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIAGE_LANGUAGES", raising=False)
    assert Settings().languages == ("en", "es")


@pytest.mark.parametrize(
    ("value", "error"), [("en,xx", "no language pack for xx"), (" , ", "at least 1")]
)
def test_languages_without_a_pack_are_refused(
    monkeypatch: pytest.MonkeyPatch, value: str, error: str
) -> None:
    monkeypatch.setenv("TRIAGE_LANGUAGES", value)
    with pytest.raises(ValidationError, match=error):
        Settings()


def test_a_bad_sentinel_url_is_refused_without_quoting_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIAGE_REDIS_URL", "redis+sentinel://:hunter2@h1:port/mymaster")
    with pytest.raises(ValidationError, match="host\\[:port\\]") as refused:
        Settings()
    assert "hunter2" not in str(refused.value)


def test_a_wait_for_replicas_must_end_before_the_socket_gives_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIAGE_REDIS_WAIT_REPLICAS", "1")
    monkeypatch.setenv("TRIAGE_REDIS_WAIT_TIMEOUT_MS", "2000")
    with pytest.raises(ValidationError, match="shorter than redis_socket_timeout_s"):
        Settings()
    monkeypatch.setenv("TRIAGE_REDIS_WAIT_TIMEOUT_MS", "500")
    assert Settings().redis_wait_replicas == 1
