"""Shared fixtures: one triage engine per test session (loading models takes seconds).

Also what a hung test prints before pytest-timeout fails it: every pending asyncio task
and the chain of awaits it is suspended in.
"""

from __future__ import annotations

import asyncio
import gc
import linecache
import os
import signal
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

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


def _frame_of(awaitable: object) -> FrameType | None:
    for name in ("cr_frame", "gi_frame", "ag_frame"):
        frame = getattr(awaitable, name, None)
        if frame is not None:
            return frame  # type: ignore[no-any-return]
    return None


def _awaited_by(awaitable: object) -> object:
    for name in ("cr_await", "gi_yieldfrom", "ag_await"):
        inner = getattr(awaitable, name, None)
        if inner is not None:
            return inner
    if _frame_of(awaitable) is not None:
        return None
    # An awaitable with nothing to inspect (an async generator's asend, as a cleanup_ctx
    # is driven): follow what it holds to the generator or future behind it.
    for held in gc.get_referents(awaitable):
        if _frame_of(held) is not None or isinstance(held, asyncio.Future):
            return held
    return None


def await_chain(task: asyncio.Task[Any]) -> list[str]:
    """Where a task is suspended: each coroutine frame down to the future it waits on."""
    lines: list[str] = []
    current: object = task.get_coro()
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frame = _frame_of(current)
        if frame is not None:
            code = frame.f_code
            lines.append(f'  File "{code.co_filename}", line {frame.f_lineno}, in {code.co_name}')
            source = linecache.getline(code.co_filename, frame.f_lineno).strip()
            if source:
                lines.append(f"    {source}")
        elif isinstance(current, asyncio.Future):
            lines.append(f"  waiting on {current!r}")
            break
        current = _awaited_by(current)
    return lines


def print_pending_tasks(out: TextIO) -> None:
    """Every task of the running event loop (none when no loop runs) with its await chain."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        out.write("no asyncio event loop is running\n")
        return
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    out.write(f"{len(tasks)} pending asyncio tasks:\n")
    for task in tasks:
        out.write(f"{task!r}\n")
        out.writelines(line + "\n" for line in await_chain(task))
    out.flush()


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
