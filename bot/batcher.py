"""Micro-batching for the synchronous API: concurrent requests share one NLP pass.

spaCy and scikit-learn are several times faster per message on a batch than one by one,
so requests that arrive within a few milliseconds of each other are triaged together,
in the NLP pool, never on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.nlp_pool import NlpPool, NlpUnavailable
from bot.shutdown import stop_tasks
from nlu.models import Decision

_Item = tuple[str, str, "asyncio.Future[Decision]"]


class Overloaded(Exception):
    """More messages are waiting than the NLP can take in time: the caller should retry."""


class TriageBatcher:
    """Takes every waiting message (up to `max_batch`) when an NLP worker is free, and
    waits up to `max_wait_s` for more if the batch is not full.

    Under load the backlog that built up during the last batch goes at once; under light
    load a message waits a few milliseconds for company, which costs less CPU per message.
    """

    def __init__(
        self,
        pool: NlpPool,
        max_batch: int = 64,
        max_wait_s: float = 0.005,
        observe: Callable[[int], None] | None = None,
        max_waiting: int = 500,
    ) -> None:
        self.pool, self._observe = pool, observe
        self.max_batch, self.max_wait_s = max_batch, max_wait_s
        # Beyond this many waiting messages an answer would come too late to be useful:
        # refuse at once (503) rather than queue for seconds and time out.
        self.max_waiting = max_waiting
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the batching loop on the running event loop."""
        self._task = asyncio.create_task(self._run(), name="triage-batcher")

    async def stop(self) -> None:
        """Stop the loop; requests still waiting get a cancellation."""
        if self._task is not None:
            await stop_tasks([self._task], "triage batcher")
        while not self._queue.empty():
            _, _, future = self._queue.get_nowait()
            future.cancel()

    async def triage(self, message_id: str, text: str) -> Decision:
        """The Decision for one message, made in a batch with its neighbours."""
        if self._queue.qsize() >= self.max_waiting:
            raise Overloaded
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        await self._queue.put((message_id, text, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        # One batch in flight per NLP worker: while all are busy, requests queue up and the
        # next batch takes them together.
        slots = asyncio.Semaphore(self.pool.concurrency)
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                await slots.acquire()
                batch = [await self._queue.get()]
                # The backlog first, without a wait per message.
                while len(batch) < self.max_batch and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                deadline = loop.time() + self.max_wait_s
                while len(batch) < self.max_batch:
                    timeout = deadline - loop.time()
                    if timeout <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self._queue.get(), timeout))
                    except TimeoutError:
                        break
                task = asyncio.create_task(self._triage(batch))
                running.add(task)
                task.add_done_callback(running.discard)
                task.add_done_callback(lambda _: slots.release())
        finally:
            for task in running:
                task.cancel()

    async def _triage(self, batch: list[_Item]) -> None:
        live = [item for item in batch if not item[2].done()]
        if not live:
            return
        if self._observe is not None:
            self._observe(len(live))
        try:
            decisions = await self.pool.triage_each([(i, t) for i, t, _ in live])
        except Exception as exc:  # a failed batch fails its requests, not the loop
            for _, _, future in live:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), decision in zip(live, decisions, strict=True):
            if future.done():
                continue
            if decision is None:  # the NLP process died on each try of this one
                future.set_exception(NlpUnavailable())
            else:
                future.set_result(decision)
