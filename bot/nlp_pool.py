"""Where the CPU-bound NLP runs: a thread beside the event loop, or processes of its own.

Python runs one thread of bytecode at a time, so on a multi-core host the service keeps
its event loop responsive and uses every core by triaging in separate processes, each
with its own engine. With `nlp_processes = 0` a single thread in the service process does
the work (less memory, one core).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

from nlu.engine import EngineConfig, TriageEngine
from nlu.faq_versions import FaqVersion, LiveFaq, Notice
from nlu.models import Decision

_engine: TriageEngine | None = None
# The FAQ version this pool process answers from. Batches name the live version and
# carry its content (tens of KB) only to a process that does not have it yet.
_version: FaqVersion | None = None


class StaleFaq(Exception):
    """A pool process was asked to answer from a FAQ version it has not been sent."""


def _init(config: EngineConfig) -> None:
    global _engine  # noqa: PLW0603 - one engine per pool process, loaded once
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    _engine = TriageEngine(config)


def _triage(
    items: Sequence[tuple[str, str]],
    live: tuple[str, Notice | None] | None,
    version: FaqVersion | None = None,
) -> list[Decision]:
    global _version  # noqa: PLW0603 - the process's own copy of the live version
    assert _engine is not None, "the NLP pool process was not initialised"
    if version is not None:
        _version = version
    if live is not None:
        name, notice = live
        if _version is None or _version.version != name:
            raise StaleFaq(name)
        # Cheap unless the version changed (then it retrains once).
        _engine.use_live(LiveFaq(_version, notice))
    return _engine.triage_many(items)


class NlpPool:
    """Triage batches off the event loop, in a thread or in worker processes."""

    def __init__(self, engine: TriageEngine, processes: int) -> None:
        self.engine = engine
        self.processes = processes
        # The live FAQ state, sent with every batch to pool processes (their own engines).
        self.live: LiveFaq | None = None
        self._executor: Executor
        if processes > 0:
            # Spawned, not forked: the parent's native thread pools (lingua's, spaCy's BLAS)
            # do not survive a fork, and a child that inherits their locks waits forever.
            self._executor = ProcessPoolExecutor(
                max_workers=processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init,
                initargs=(engine.config,),
            )
        else:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlp")

    @property
    def concurrency(self) -> int:
        """How many batches can usefully run at once."""
        return max(1, self.processes)

    async def warm_up(self) -> None:
        """Start every pool process and load its models before the service says ready."""
        if self.processes > 0:
            probe = [("warm-up", "hello")]
            await asyncio.gather(*(self.triage_many(probe) for _ in range(self.processes)))

    async def triage_many(self, items: Sequence[tuple[str, str]]) -> list[Decision]:
        """Decisions for a batch of (id, text)."""
        loop = asyncio.get_running_loop()
        if self.processes > 0:
            live = self.live
            named = None if live is None else (live.version.version, live.notice)
            try:
                return await loop.run_in_executor(self._executor, _triage, list(items), named)
            except StaleFaq:
                assert live is not None
                return await loop.run_in_executor(
                    self._executor, _triage, list(items), named, live.version
                )
        return await loop.run_in_executor(self._executor, self.engine.triage_many, items)

    def shutdown(self) -> None:
        """Stop the pool; pending work is cancelled."""
        self._executor.shutdown(wait=True, cancel_futures=True)
