"""The hashing gate: a few at once, each queue served in turn."""

from __future__ import annotations

import asyncio

from escalation.fair_gate import FairGate


async def _take(gate: FairGate, queue: str, order: list[str], release: asyncio.Event) -> None:
    async with gate.hold(queue):
        order.append(queue)
        await release.wait()


async def test_a_burst_in_one_queue_does_not_hold_up_another_queue() -> None:
    gate = FairGate(1)
    release = asyncio.Event()
    order: list[str] = []
    burst = [asyncio.create_task(_take(gate, "guesser", order, release)) for _ in range(50)]
    await asyncio.sleep(0)
    other = asyncio.create_task(_take(gate, "staff", order, release))
    await asyncio.sleep(0)
    assert gate.waiting() == 50  # one of the burst holds the slot
    release.set()
    await asyncio.gather(*burst, other)
    # Served third: after the burst's holder and its next in turn, not after its fifty.
    assert order.index("staff") == 2
    assert len(order) == 51


async def test_never_more_holders_than_slots_and_a_cancelled_waiter_loses_no_slot() -> None:
    gate = FairGate(2)
    holding = 0
    most = 0

    async def work(queue: str) -> None:
        nonlocal holding, most
        async with gate.hold(queue):
            holding += 1
            most = max(most, holding)
            await asyncio.sleep(0.001)
            holding -= 1

    tasks = [asyncio.create_task(work(f"q{n % 3}")) for n in range(30)]
    await asyncio.sleep(0)
    tasks[10].cancel()
    tasks[11].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert sum(isinstance(r, asyncio.CancelledError) for r in results) == 2
    assert most == 2
    # Both slots are free again: two holders at once without waiting.
    async with gate.hold("a"), gate.hold("b"):
        assert gate.waiting() == 0
