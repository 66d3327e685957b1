"""Shared fixtures: one triage engine per test session (loading models takes seconds).

Also what a hung test prints before pytest-timeout fails it: every pending asyncio task
and the chain of awaits it is suspended in (tests/hangs.py).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest

from bot.embedded_redis import EmbeddedRedis
from bot.settings import Settings
from escalation import keys
from tests.hangs import print_pending_tasks

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


@pytest.fixture(autouse=True)
def _no_failed_logins_from_before(request: pytest.FixtureRequest) -> None:
    """Forget the per-address failed logins: every test client comes from 127.0.0.1, and
    one test's wrong passwords must not get the next test's logins refused."""
    if "redis_url" not in request.fixturenames:
        return
    from redis import Redis

    with Redis.from_url(request.getfixturevalue("redis_url")) as client:
        for key in client.scan_iter(match=keys.staff_login_address("*")):
            client.delete(key)


@pytest.hookimpl(wrapper=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> Generator[None, Any, Any]:
    """Before pytest-timeout's SIGALRM handler fails the test, print the pending tasks."""
    result = yield
    fail = signal.getsignal(signal.SIGALRM)
    if settings.method == "signal" and callable(fail):

        def on_timeout(signum: int, frame: FrameType | None) -> None:
            __tracebackhide__ = True
            sys.stderr.write(f"\n+++ {item.nodeid}: still running after {settings.timeout} s\n")
            print_pending_tasks(sys.stderr)
            fail(signum, frame)

        signal.signal(signal.SIGALRM, on_timeout)
    return result
