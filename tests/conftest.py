"""Shared fixtures: one triage engine per test session (loading models takes seconds)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.embedded_redis import EmbeddedRedis
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


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: TRIAGE_REDIS_URL when set, else a server started for this test session."""
    configured = os.environ.get("TRIAGE_REDIS_URL")
    if configured:
        yield configured
        return
    data_dir: Path = tmp_path_factory.mktemp("redis")
    with EmbeddedRedis(data_dir) as server:
        yield server.url
