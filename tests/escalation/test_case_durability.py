"""Cases outlive crashes: a killed agent's claim lapses, a killed Redis loses nothing, and
consumers in separate processes handle each case exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bench.case_drain import open_cases, run_consumers, tally
from bot.embedded_redis import EmbeddedRedis
from escalation import keys
from escalation.cases import PRIORITIES, CaseStore, Source, Status
from escalation.crypto import Cipher, new_key_spec

ROOT = Path(__file__).resolve().parents[2]
KEY_SPEC = new_key_spec()
CIPHER = Cipher.from_spec(KEY_SPEC)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


def source(n: int, text: str) -> Source:
    return Source(channel="meta", message_id=f"m{n}", author_id=f"a{n}", text=text)


class Deadline:
    """A bounded wait: `tick()` sleeps a poll interval, failing once the time is up."""

    def __init__(self, what: str, timeout_s: float = 30.0, every_s: float = 0.05) -> None:
        self.what, self.every_s = what, every_s
        self.until = time.monotonic() + timeout_s

    async def tick(self) -> None:
        if time.monotonic() > self.until:
            raise AssertionError(f"timed out waiting for {self.what}")
        await asyncio.sleep(self.every_s)


async def test_a_killed_agents_claim_lapses_and_the_case_returns_to_the_queue(
    redis: Redis, redis_url: str
) -> None:
    store = CaseStore(redis, CIPHER)  # the real clock: the lease runs across processes
    case_id, _ = await store.open(source(1, "my son needs his refill"), "normal", [])
    env = {
        **os.environ,
        "TRIAGE_REDIS_URL": redis_url,
        "TRIAGE_ENCRYPTION_KEYS": KEY_SPEC,
        "TRIAGE_CLAIM_LEASE_S": "2.0",
    }
    agent = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.escalation.claim_and_hang", "gone", cwd=ROOT, env=env
    )
    try:
        deadline = Deadline("the agent process to claim the case")
        while (await store.get(case_id)).status != "claimed":
            assert agent.returncode is None, "the agent process exited before claiming"
            await deadline.tick()
    finally:
        agent.kill()
        await agent.wait()
    assert agent.returncode == -signal.SIGKILL

    held = await store.get(case_id)
    assert (held.status, held.claimed_by) == ("claimed", "gone")  # the lease outlives the agent
    assert held.lease_until is not None
    assert await store.queue_length() == 0

    # Whoever requeues it (this test, or the requeue loop of an app on the same Redis),
    # the case is back in the queue once the lease has ended, and not before.
    deadline = Deadline("the lease to end", timeout_s=30.0)
    while (await store.get(case_id)).status != "new":
        await store.requeue_expired()
        await deadline.tick()
    assert time.time() >= held.lease_until
    back = await store.get(case_id)
    assert (back.status, back.claimed_by, back.lease_until) == ("new", None, None)
    assert await store.queue_length() == 1

    taken = await store.claim("ben")
    assert taken is not None
    assert (taken.id, taken.status, taken.claimed_by) == (case_id, "claimed", "ben")
    assert await store.queue_length() == 0


@dataclass
class Expected:
    """What a case must look like after the restart."""

    text: str
    status: Status = "new"
    claimed_by: str | None = None
    thread: list[tuple[str, str]] = field(default_factory=list)  # sender, text
    notes: list[str] = field(default_factory=list)


async def keyspace(redis: Redis) -> dict[bytes, object]:
    """Every key and its content, in a few round trips (the kill should follow the writes)."""
    names = [name async for name in redis.scan_iter(count=10_000)]
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.type(name)
        kinds = await pipe.execute()
    async with redis.pipeline(transaction=False) as pipe:
        for name, kind in zip(names, kinds, strict=True):
            if kind == b"string":
                pipe.get(name)
            elif kind == b"hash":
                pipe.hgetall(name)
            elif kind == b"list":
                pipe.lrange(name, 0, -1)
            elif kind == b"zset":
                pipe.zrange(name, 0, -1, withscores=True)
            else:
                raise AssertionError(f"unexpected Redis type {kind!r}")
        values = await pipe.execute()
    return dict(zip(names, values, strict=True))


async def work_cases(store: CaseStore, n: int) -> dict[str, Expected]:
    """Open `n` cases and take each through one path of its lifecycle; what each must hold."""
    expected: dict[str, Expected] = {}
    for i in range(n):
        text = f"case {i}: I'm Harold Finch, MRN {4_400_000 + i}, chest pain since {i} am"
        case_id, _ = await store.open(source(i, text), PRIORITIES[i % len(PRIORITIES)], ["phi"])
        case = expected[case_id] = Expected(text, thread=[("person", text)])
        agent = f"agent{i % 3}"
        path = i % 5
        if path == 0:  # still new, with a follow-up from the person
            await store.add_message(case_id, "person", f"still waiting on {i}")
            case.thread.append(("person", f"still waiting on {i}"))
        else:
            await store.claim(agent, case_id)
            case.status, case.claimed_by = "claimed", agent
        if path >= 2:  # answered: waiting on the person
            await store.reply(case_id, agent, f"we will call you about {i}")
            case.thread.append(("staff", f"we will call you about {i}"))
            case.status, case.claimed_by = "waiting", None
        if path == 3:  # the person answered: back in the queue
            await store.add_message(case_id, "person", f"please call {i} after 5")
            case.thread.append(("person", f"please call {i} after 5"))
            case.status = "new"
        if path == 4:
            await store.resolve(case_id, agent)
            case.status = "resolved"
        if path != 3:
            await store.note(case_id, agent, f"note on {i}: called the ward")
            case.notes.append(f"note on {i}: called the ward")
    return expected


async def test_cases_survive_a_hard_kill_of_redis(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis")  # its own: the kill must not hit other tests
    await asyncio.to_thread(server.start)
    try:
        client = Redis.from_url(server.url)
        expected = await work_cases(CaseStore(client, CIPHER), 200)
        before = await keyspace(client)
        server.kill()  # SIGKILL at once: no shutdown save, no second for the everysec fsync
        await client.aclose()
        await asyncio.to_thread(server.start)

        client = Redis.from_url(server.url)
        store = CaseStore(client, CIPHER)
        assert await keyspace(client) == before
        assert {case.id for case in await store.by_status(limit=1000)} == set(expected)
        for case_id, want in expected.items():
            case = await store.get(case_id)
            assert (case.status, case.claimed_by) == (want.status, want.claimed_by)
            assert (await store.source(case_id)).text == want.text
            assert [(m.sender, m.text) for m in await store.thread(case_id)] == want.thread
            assert [n.text for n in await store.notes(case_id)] == want.notes
        # The scripts are gone from the new server's cache; the queue still works.
        queued = [case_id for case_id, want in expected.items() if want.status == "new"]
        assert await store.queue_length() == len(queued)
        head = (await client.zrange(keys.QUEUE, 0, 0))[0]
        taken = await store.claim("ben")
        assert taken is not None
        assert (taken.id.encode(), taken.claimed_by) == (head, "ben")
        await client.aclose()
    finally:
        await asyncio.to_thread(server.stop)


async def test_consumer_processes_handle_each_case_exactly_once(
    redis: Redis, redis_url: str
) -> None:
    store = CaseStore(redis, CIPHER)
    opened = await open_cases(store, 500, concurrency=8)
    reports, _ = await asyncio.to_thread(run_consumers, redis_url, KEY_SPEC, 3)
    assert [report["error"] for report in reports] == ["", "", ""]
    assert len({report["pid"] for report in reports} - {os.getpid()}) == 3
    counts = tally(opened, reports)
    assert (counts.handled, counts.duplicates, counts.missing, counts.unexpected) == (500, 0, 0, 0)
    assert await store.queue_length() == 0
    assert len(await store.by_status("resolved", limit=1000)) == 500
