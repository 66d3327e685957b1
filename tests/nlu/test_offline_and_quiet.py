"""No network at run time, and no message content in any log record."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest

from bot.settings import Settings
from nlu.engine import EngineConfig, TriageEngine

PHI_MESSAGE = (
    "Hi this is Harold Finch, DOB 04/02/1960, mrn 8834120, email h.finch@example.org, "
    "my chemo at 1200 Elm Street got cancelled and my ssn is 123-45-6789"
)
PHI_PARTS = ["Harold", "Finch", "04/02/1960", "8834120", "h.finch", "chemo", "Elm", "123-45"]


def test_engine_loads_and_triages_with_the_network_cut_off(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    engine = TriageEngine(
        EngineConfig(settings.spacy_model, settings.faq_dir, settings.intent_threshold)
    )
    decision = engine.triage("n1", "write to me at someone@example.co.uk or jo@clinic.health")
    assert decision.action == "escalate"
    assert "phi:EMAIL_ADDRESS" in decision.reasons
    assert attempts == []


def test_triage_logs_nothing_of_the_message(
    engine: TriageEngine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        decision = engine.triage("q1", PHI_MESSAGE)
    assert decision.action == "escalate"
    logged = "\n".join(
        f"{r.getMessage()} {r.args} {getattr(r, '__dict__', {})}" for r in caplog.records
    )
    for part in PHI_PARTS:
        assert part not in logged
