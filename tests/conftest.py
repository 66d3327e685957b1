"""Shared fixtures: one triage engine per test session (loading models takes seconds)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bot.settings import Settings

if TYPE_CHECKING:
    from nlu.engine import TriageEngine


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Settings as a test run sees them: defaults, no environment surprises."""
    return Settings(_env_file=None)


@pytest.fixture(scope="session")
def engine(settings: Settings) -> TriageEngine:
    """The real engine: real spaCy model, real presidio, the demo FAQ content."""
    from nlu.engine import EngineConfig, TriageEngine

    return TriageEngine(
        EngineConfig(
            spacy_model=settings.spacy_model,
            faq_dir=settings.faq_dir,
            intent_threshold=settings.intent_threshold,
        )
    )
