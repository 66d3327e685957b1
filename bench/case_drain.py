"""Case queue drain: N cases opened, then claimed and resolved by consumers in separate processes.

Each consumer is its own process (own interpreter, event loop and Redis connection); all
start together and loop claim -> resolve until the queue is empty. Prints the open and
drain rates and each consumer's count, and exits non-zero unless every case was handled
exactly once:

    .venv/bin/python bench/case_drain.py [--cases 10000] [--consumers 3] [--open-concurrency 16]

Uses TRIAGE_REDIS_URL when set (its database must be empty, or pass --flush to empty it),
else an embedded redis-server in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from redis.asyncio import Redis

from escalation import keys
from escalation.cases import PRIORITIES, CaseStore, Source
from escalation.crypto import Cipher, new_key_spec

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

START_TIMEOUT_S = 60.0  # interpreter start and imports, on a busy machine


class Handled(TypedDict):
    """One consumer's report: plain types, so it pickles from a spawned process to its parent."""

    agent: str
    pid: int
    case_ids: list[str]
    error: str


@dataclass(frozen=True, slots=True)
class Tally:
    """How the handled ids compare with the opened ones."""

    handled: int
    duplicates: int  # claims beyond the first of a case
    missing: int  # opened, never handled
    unexpected: int  # handled, never opened here

    @property
    def exactly_once(self) -> bool:
        """Every opened case handled once, and nothing else."""
        return self.duplicates == self.missing == self.unexpected == 0


async def open_cases(store: CaseStore, n: int, concurrency: int) -> list[str]:
    """Open `n` cases from `n` different people, `concurrency` opens in flight; their ids."""
    ids: list[str] = []

    async def opener(first: int) -> None:
        for i in range(first, n, concurrency):
            source = Source(
                channel="meta",
                message_id=f"drain-{i}",
                author_id=f"person-{i}",
                text=f"my son needs his insulin refill before friday, order {i}",
            )
            case_id, opened = await store.open(source, PRIORITIES[i % len(PRIORITIES)], ["bench"])
            if not opened:
                raise RuntimeError("a case that should be new joined an existing one")
            ids.append(case_id)

    await asyncio.gather(*(opener(k) for k in range(concurrency)))
    return ids


async def drain(store: CaseStore, agent: str, handled: list[str]) -> None:
    """Claim and resolve until the queue is empty, appending each claimed id to `handled`."""
    while (case := await store.claim(agent)) is not None:
        handled.append(case.id)
        await store.resolve(case.id, agent)


async def connect(redis: Redis) -> None:
    """Open a connection now rather than on the first command."""
    await redis.ping()


def consumer(url: str, key_spec: str, agent: str, ready: Barrier, results: Queue[Handled]) -> None:
    """One consumer process: connect, wait for the others, drain, report."""
    report = Handled(agent=agent, pid=os.getpid(), case_ids=[], error="")
    try:
        with asyncio.Runner() as runner:  # one loop for every step, so the connection stays valid
            redis = Redis.from_url(url)
            store = CaseStore(redis, Cipher.from_spec(key_spec))
            runner.run(connect(redis))  # before the start: the drain's clock times work only
            ready.wait(timeout=START_TIMEOUT_S)
            try:
                runner.run(drain(store, agent, report["case_ids"]))
            finally:
                runner.run(redis.aclose())
    except Exception as exc:
        ready.abort()  # the parent and the others stop waiting for this one
        report["error"] = f"{type(exc).__name__}: {exc}"
    results.put(report)


def run_consumers(
    url: str, key_spec: str, consumers: int, timeout_s: float = 300.0
) -> tuple[list[Handled], float]:
    """Drain the queue with `consumers` processes released together: their reports, wall seconds.

    Blocks; call it from a thread when an event loop is running.
    """
    # spawn, not fork: a fresh interpreter inherits no event loop, socket or lock.
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(consumers + 1)
    results: Queue[Handled] = ctx.Queue()
    processes = [
        ctx.Process(
            target=consumer, args=(url, key_spec, f"agent{n}", ready, results), name=f"agent{n}"
        )
        for n in range(consumers)
    ]
    for process in processes:
        process.start()
    try:
        with contextlib.suppress(threading.BrokenBarrierError):  # its report says why
            ready.wait(timeout=START_TIMEOUT_S)
        started = time.perf_counter()
        deadline = time.monotonic() + timeout_s
        # Read before joining: a child that has put a large report waits for it to be read.
        reports = [results.get(timeout=max(0.0, deadline - time.monotonic())) for _ in processes]
        elapsed = time.perf_counter() - started
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
    return sorted(reports, key=lambda r: r["agent"]), elapsed


def tally(opened: Sequence[str], reports: Sequence[Handled]) -> Tally:
    """Compare what the consumers handled with what was opened."""
    counts = Counter(case_id for report in reports for case_id in report["case_ids"])
    expected = set(opened)
    return Tally(
        handled=sum(counts.values()),
        duplicates=sum(n - 1 for n in counts.values()),
        missing=len(expected - counts.keys()),
        unexpected=len(counts.keys() - expected),
    )


async def prepare(
    url: str, key_spec: str, n: int, concurrency: int, flush: bool
) -> tuple[list[str], float, str]:
    """Open the cases: (their ids, seconds taken, a line about the server)."""
    redis = Redis.from_url(url)
    try:
        if flush:
            await redis.flushdb()
        elif await redis.dbsize():
            sys.exit("the Redis database is not empty: pass --flush to empty it first")
        info = await redis.info("server")
        fsync = (await redis.config_get("appendfsync")).get("appendfsync", "?")
        store = CaseStore(redis, Cipher.from_spec(key_spec))
        started = time.perf_counter()
        opened = await open_cases(store, n, concurrency)
        elapsed = time.perf_counter() - started
    finally:
        await redis.aclose()
    return opened, elapsed, f"redis-server {info['redis_version']}, appendfsync {fsync}"


async def leftovers(url: str) -> tuple[int, int]:
    """(cases still in the queue, cases resolved) as Redis has them."""
    redis = Redis.from_url(url)
    try:
        return await redis.zcard(keys.QUEUE), await redis.zcard(keys.cases_with_status("resolved"))
    finally:
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--consumers", type=int, default=3)
    parser.add_argument("--open-concurrency", type=int, default=16, help="opens in flight")
    parser.add_argument("--flush", action="store_true", help="empty TRIAGE_REDIS_URL's database")
    args = parser.parse_args()

    from bot.embedded_redis import EmbeddedRedis
    from bot.settings import Settings

    configured = Settings().redis_url
    with contextlib.ExitStack() as stack:
        if configured is not None:
            url, where = configured.get_secret_value(), "TRIAGE_REDIS_URL"
        else:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="case-drain-"))
            url, where = stack.enter_context(EmbeddedRedis(Path(data_dir))).url, "embedded"
        key_spec = new_key_spec()
        opened, open_s, server = asyncio.run(
            prepare(url, key_spec, args.cases, args.open_concurrency, args.flush)
        )
        print(f"Redis: {where}, {server}")
        print(
            f"opened   {len(opened):6d} cases in {open_s:6.2f} s  {len(opened) / open_s:8.0f} "
            f"cases/s  (one process, {args.open_concurrency} opens in flight)",
            flush=True,
        )
        reports, drain_s = run_consumers(url, key_spec, args.consumers)
        queued, resolved = asyncio.run(leftovers(url))

    counts = tally(opened, reports)
    print(
        f"drained  {counts.handled:6d} cases in {drain_s:6.2f} s  {counts.handled / drain_s:8.0f} "
        f"cases/s  ({len(reports)} consumer processes, claim + resolve each)"
    )
    for report in reports:
        error = f"  ERROR {report['error']}" if report["error"] else ""
        print(f"  {report['agent']:<8} pid {report['pid']:<8} {len(report['case_ids']):6d}{error}")
    print(
        f"handled {counts.handled}  duplicates {counts.duplicates}  missing {counts.missing}  "
        f"unexpected {counts.unexpected}  |  Redis: queue {queued}, resolved {resolved}"
    )
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"CPUs: {os.cpu_count()} (usable by this process: {usable})")
    failed = any(report["error"] for report in reports)
    if failed or not counts.exactly_once or queued or resolved != len(opened):
        sys.exit("FAILED: not every case was handled exactly once")


if __name__ == "__main__":
    main()
