"""Bounded stops: every cleanup step gives up after a few seconds, and says which one did.

A cleanup that awaits a task, a pool or a socket without a limit turns one lost wake-up
into a process (or a test run) that never exits. Here a step that overruns is cancelled
and left behind with a log line naming it, and the next step still runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Iterable
from typing import Any

log = logging.getLogger("triagebot.shutdown")
# Long enough for a Redis round trip, a socket close or the end of one NLP batch; short
# enough that a stuck step leaves most of the grace period to the others.
STEP_S = 3.0


def http_drain_s(grace_s: float) -> float:
    """How long in-flight HTTP requests may run on; aiohttp may wait this twice (for the
    handlers, then for them to end once cancelled)."""
    return grace_s / 8


def worker_drain_s(grace_s: float) -> float:
    """How long intake workers may go on finishing what they hold before they are cancelled."""
    return grace_s / 2


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]], what: str, wait_s: float = STEP_S) -> bool:
    """Cancel the tasks and wait up to `wait_s` for them to end; False when some did not."""
    tasks = [t for t in tasks if not t.done()]
    for task in tasks:
        task.cancel()
    if await ended(tasks, wait_s):
        return True
    log.error("did not stop in time", extra={"what": what, "tasks": len(tasks)})
    return False


async def ended(tasks: Iterable[asyncio.Task[Any]], wait_s: float) -> bool:
    """Whether the tasks all end within `wait_s`; they are not cancelled."""
    pending = {t for t in tasks if not t.done()}
    if pending:
        _, pending = await asyncio.wait(pending, timeout=max(wait_s, 0.0))
    return not pending


async def bounded(step: Awaitable[Any], what: str, wait_s: float = STEP_S) -> bool:
    """Run one cleanup step for up to `wait_s`; past that it is cancelled and left behind.

    An error in the step propagates as it would unbounded.
    """
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=wait_s)
    if not done:
        task.cancel()
        log.error("did not stop in time", extra={"what": what, "tasks": 1})
        return False
    task.result()
    return True


def exit_after(grace_s: float) -> threading.Timer:
    """Start the last resort of a shutdown: end the process if it still runs after `grace_s`.

    A thread job that does not return, or a task that ignores cancellation, would otherwise
    keep the process alive until Kubernetes kills it without a word.
    """

    def overrun() -> None:
        log.error("shutdown overran its grace period; exiting now", extra={"grace_s": grace_s})
        logging.shutdown()
        os._exit(1)

    timer = threading.Timer(grace_s, overrun)
    timer.daemon = True
    timer.start()
    return timer
