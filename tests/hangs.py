"""What a hang shows: every pending asyncio task and where it waits; and fixture teardown
with a limit, so that a close that does not finish fails in seconds instead of hanging."""

from __future__ import annotations

import asyncio
import gc
import linecache
import sys
from types import FrameType
from typing import Any, Protocol, TextIO

import pytest


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


# Beyond the app's own bounded shutdown (a few seconds a step) with room for a slow host.
CLOSE_S = 20.0


class Closable(Protocol):
    async def close(self) -> None: ...


async def close_within(closable: Closable, what: str, wait_s: float = CLOSE_S) -> None:
    """Close `closable`, failing the test after `wait_s` with every pending task printed."""
    try:
        async with asyncio.timeout(wait_s):
            await closable.close()
    except TimeoutError:
        print_pending_tasks(sys.stderr)
        pytest.fail(f"closing {what} did not finish in {wait_s} s", pytrace=False)
