"""Micro-batching: a backlog goes at once, a lone message waits briefly for company."""

from __future__ import annotations

import asyncio

import pytest

from bot.batcher import TriageBatcher
from bot.nlp_pool import NlpPool
from nlu.engine import TriageEngine


# No wait at all, and a wait far longer than the test may take (full batches never wait).
@pytest.mark.parametrize("wait_s", [0.0, 30.0])
async def test_a_backlog_is_taken_at_once_in_full_batches(
    engine: TriageEngine, wait_s: float
) -> None:
    pool = NlpPool(engine, processes=0)
    sizes: list[int] = []
    batcher = TriageBatcher(pool, max_batch=4, max_wait_s=wait_s, observe=sizes.append)
    calls = [asyncio.ensure_future(batcher.triage(f"m{i}", "where do I park?")) for i in range(8)]
    await asyncio.sleep(0)  # all eight are queued before the loop starts
    batcher.start()
    try:
        decisions = await asyncio.wait_for(asyncio.gather(*calls), timeout=10)
    finally:
        await batcher.stop()
        pool.shutdown()
    assert sizes == [4, 4]
    assert [d.id for d in decisions] == [f"m{i}" for i in range(8)]
    assert {d.intent for d in decisions} == {"parking"}


async def test_a_message_waits_briefly_for_another_to_share_its_batch(
    engine: TriageEngine,
) -> None:
    pool = NlpPool(engine, processes=0)
    sizes: list[int] = []
    batcher = TriageBatcher(pool, max_wait_s=1.0, observe=sizes.append)
    batcher.start()
    try:
        first = asyncio.ensure_future(batcher.triage("a", "when are visiting hours?"))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(batcher.triage("b", "my mrn is 8834120"))
        a, b = await asyncio.wait_for(asyncio.gather(first, second), timeout=10)
    finally:
        await batcher.stop()
        pool.shutdown()
    assert sizes == [2]
    assert (a.action, b.action) == ("reply", "escalate")
