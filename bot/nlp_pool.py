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
import signal
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from bot.lifeline import die_with_parent
from nlu.engine import EngineConfig, TriageEngine
from nlu.faq_versions import FaqVersion, LiveFaq, Notice
from nlu.models import Decision

log = logging.getLogger("triagebot.nlp")
_engine: TriageEngine | None = None
# The FAQ version this pool process answers from. Batches name the live version and
# carry its content (tens of KB) only to a process that does not have it yet.
_version: FaqVersion | None = None


class StaleFaq(Exception):
    """A pool process was asked to answer from a FAQ version it has not been sent."""


def _init(config: EngineConfig) -> None:
    global _engine  # noqa: PLW0603 - one engine per pool process, loaded once
    # Nothing of this process's is worth a graceful stop: it holds no state of its own.
    die_with_parent(signal.SIGKILL)
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


class NlpUnavailable(Exception):
    """The NLP could not decide a message now: its process died on every try of it."""


class NlpPool:
    """Triage batches off the event loop, in a thread or in worker processes.

    A worker process that dies (the OOM killer, a SIGKILL, a crash in native code) breaks
    the whole process pool: the first caller to see it replaces the pool, once, and every
    batch that was in flight is tried again. The analysis is pure, so a retry is safe.
    """

    def __init__(self, engine: TriageEngine, processes: int, attempts: int = 3) -> None:
        self.engine = engine
        self.processes = processes
        # Tries of one message before it is given up on, counting the one that broke.
        self.attempts = attempts
        # The live FAQ state, sent with every batch to pool processes (their own engines).
        self.live: LiveFaq | None = None
        self.replacements = 0
        self._replacing = asyncio.Lock()
        self._warming = False
        # After a breakage its messages go again one at a time, so that one that kills the
        # process is found out alone and does not take the others' tries with it.
        self._suspects = asyncio.Lock()
        self._executor = self._new_executor()

    def _new_executor(self) -> Executor:
        if self.processes > 0:
            # Spawned, not forked: the parent's native thread pools (lingua's, spaCy's BLAS)
            # do not survive a fork, and a child that inherits their locks waits forever.
            return ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init,
                initargs=(self.engine.config,),
            )
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlp")

    @property
    def concurrency(self) -> int:
        """How many batches can usefully run at once."""
        return max(1, self.processes)

    @property
    def ready(self) -> bool:
        """Whether batches can run now: not while the process pool is broken or replaced."""
        return not self._warming and not self._broken(self._executor)

    def pids(self) -> list[int]:
        """The pool's worker processes (none for the thread)."""
        if isinstance(self._executor, ProcessPoolExecutor):
            return [p.pid for p in list(self._executor._processes.values()) if p.pid]
        return []

    @staticmethod
    def _broken(executor: Executor) -> bool:
        # The executor's management thread marks it as soon as a process dies, before any
        # caller sees an error: readiness and the watcher read it (no public accessor).
        return isinstance(executor, ProcessPoolExecutor) and bool(executor._broken)

    async def warm_up(self) -> None:
        """Start every pool process and load its models before the service says ready."""
        await self._warm(self._executor)

    async def _warm(self, executor: Executor) -> None:
        if self.processes > 0:
            probe = [("warm-up", "hello")]
            await asyncio.gather(*(self._submit(executor, probe) for _ in range(self.processes)))

    async def watch(self, every_s: float = 1.0) -> None:
        """Replace a pool whose process died while no batch was running (until cancelled)."""
        while True:
            await asyncio.sleep(every_s)
            if self._broken(self._executor):
                await self._replace(self._executor)

    async def triage_many(self, items: Sequence[tuple[str, str]]) -> list[Decision]:
        """Decisions for a batch of (id, text); NlpUnavailable when one cannot be made."""
        decisions = await self.triage_each(items)
        if any(d is None for d in decisions):
            raise NlpUnavailable
        return [d for d in decisions if d is not None]

    async def triage_each(self, items: Sequence[tuple[str, str]]) -> list[Decision | None]:
        """Decisions for a batch of (id, text); None for a message on which the NLP process
        died every time it was tried."""
        if self.processes == 0:
            loop = asyncio.get_running_loop()
            return list(await loop.run_in_executor(self._executor, self.engine.triage_many, items))
        try:
            return list(await self._attempt(items))
        except BrokenProcessPool:
            pass
        return [await self._alone(item) for item in items]

    async def _alone(self, item: tuple[str, str]) -> Decision | None:
        for _ in range(self.attempts - 1):
            async with self._suspects:
                try:
                    return (await self._attempt([item]))[0]
                except BrokenProcessPool:
                    continue
        log.error(
            "the nlp process died on every try of a message",
            extra={"message_id": item[0], "tries": self.attempts},
        )
        return None

    async def _attempt(self, items: Sequence[tuple[str, str]]) -> list[Decision]:
        """One try in the current pool; a broken pool is replaced before this raises."""
        executor = self._executor
        try:
            return await self._submit(executor, items)
        except BrokenProcessPool:
            await self._replace(executor)
            raise

    async def _submit(self, executor: Executor, items: Sequence[tuple[str, str]]) -> list[Decision]:
        loop = asyncio.get_running_loop()
        live = self.live
        named = None if live is None else (live.version.version, live.notice)
        try:
            return await loop.run_in_executor(executor, _triage, list(items), named)
        except StaleFaq:
            assert live is not None
            return await loop.run_in_executor(executor, _triage, list(items), named, live.version)

    async def _replace(self, broken: Executor) -> None:
        """Replace a broken pool with a warm one; once, however many callers saw it break."""
        async with self._replacing:
            if self._executor is not broken:
                return  # replaced meanwhile
            log.error(
                "an nlp process died; replacing the pool", extra={"processes": self.processes}
            )
            self._warming = True
            try:
                broken.shutdown(wait=False, cancel_futures=True)
                self._executor = self._new_executor()
                await self._warm(self._executor)
            except BrokenProcessPool:  # the new one died too: the next caller tries again
                log.error("the replacement nlp pool broke while starting")
                return
            finally:
                self._warming = False
            self.replacements += 1
            log.info("nlp pool replaced", extra={"processes": self.processes})

    def shutdown(self) -> None:
        """Stop the pool; pending work is cancelled."""
        self._executor.shutdown(wait=True, cancel_futures=True)
