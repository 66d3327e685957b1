"""Micro-batching for the synchronous API: concurrent requests share one NLP pass.

spaCy and scikit-learn are several times faster per message on a batch than one by one,
so requests that arrive within a few milliseconds of each other are triaged together,
in the NLP thread pool, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Executor

from nlu.engine import TriageEngine
from nlu.models import Decision

_Item = tuple[str, str, "asyncio.Future[Decision]"]


class TriageBatcher:
    """Collects up to `max_batch` messages or waits `max_wait_s`, whichever comes first."""

    def __init__(
        self,
        engine: TriageEngine,
        pool: Executor,
        max_batch: int = 32,
        max_wait_s: float = 0.003,
        observe: Callable[[int], None] | None = None,
    ) -> None:
        self.engine, self.pool, self._observe = engine, pool, observe
        self.max_batch, self.max_wait_s = max_batch, max_wait_s
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the batching loop on the running event loop."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop the loop; requests still waiting get a cancellation."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            _, _, future = self._queue.get_nowait()
            future.cancel()

    async def triage(self, message_id: str, text: str) -> Decision:
        """The Decision for one message, made in a batch with its neighbours."""
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        await self._queue.put((message_id, text, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.max_wait_s
            while len(batch) < self.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), timeout))
                except TimeoutError:
                    break
            live = [item for item in batch if not item[2].done()]
            if not live:
                continue
            if self._observe is not None:
                self._observe(len(live))
            try:
                decisions = await loop.run_in_executor(
                    self.pool, self.engine.triage_many, [(i, t) for i, t, _ in live]
                )
            except Exception as exc:  # a failed batch fails its requests, not the loop
                for _, _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), decision in zip(live, decisions, strict=True):
                if not future.done():
                    future.set_result(decision)
