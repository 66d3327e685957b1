"""Durable intake and workers on a real Redis: once-only receipts, reclaim after a crash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession
from redis.asyncio import Redis

from bot.connectors.base import InboundMessage, MessageKind
from bot.intake import open_payload, record
from bot.metrics import Metrics
from bot.nlp_pool import NlpPool
from bot.outbox import Outbox
from bot.worker import Worker, WorkerConfig
from escalation import keys
from escalation.cases import CaseStore
from escalation.crypto import Cipher, new_key_spec
from escalation.handover import Handover
from escalation.private import PrivateLinks
from nlu.engine import TriageEngine
from nlu.models import Decision
from tests.redis_dump import every_byte

CIPHER = Cipher.from_spec(new_key_spec())
SECRET_TEXT = "I'm Harold Finch, ssn 123-45-6789, my chemo was cancelled"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


def message(message_id: str, text: str = SECRET_TEXT) -> InboundMessage:
    return InboundMessage(
        platform="meta", message_id=message_id, kind=MessageKind.COMMENT, author_id="u1", text=text
    )


def worker(
    redis: Redis, engine: TriageEngine, session: ClientSession, name: str, lease_ms: int = 30_000
) -> Worker:
    cases, metrics = CaseStore(redis, CIPHER), Metrics()
    return Worker(
        redis=redis,
        cipher=CIPHER,
        connectors={},
        outbox=Outbox(redis=redis, session=session, metrics=metrics, cases=cases),
        pool=NlpPool(engine, processes=0),
        metrics=metrics,
        config=WorkerConfig(name=name, lease_ms=lease_ms, block_ms=50),
        handover=Handover(
            cases=cases,
            links=PrivateLinks(redis, ttl_s=60, guesses_per_min=5),
            public_base_url="https://care.example.org",
        ),
    )


async def test_a_redelivered_message_is_recorded_once_and_encrypted(redis: Redis) -> None:
    results = [await record(redis, CIPHER, message("c1")) for _ in range(10)]
    assert results == [True] + [False] * 9
    entries = await redis.xrange(keys.INBOX)
    assert len(entries) == 1
    raw = b"".join(v for _, fields in entries for v in fields.values())
    assert b"Harold" not in raw
    assert b"123-45-6789" not in raw


async def test_each_edit_is_recorded_once_per_text_and_never_names_it(redis: Redis) -> None:
    assert await record(redis, CIPHER, message("c9", "visiting hours?"))
    same = message("c9", "visiting hours?").model_copy(update={"edited": True})
    assert not await record(redis, CIPHER, same)  # an edit that changed nothing
    edit = message("c9").model_copy(update={"edited": True})
    assert [await record(redis, CIPHER, edit) for _ in range(3)] == [True, False, False]
    entries = await redis.xrange(keys.INBOX)
    assert [fields[b"id"].split(b"~")[0] for _, fields in entries] == [b"c9", b"c9"]
    opened = open_payload(CIPHER, "meta", entries[1][1][b"id"].decode(), entries[1][1][b"payload"])
    assert (opened.edited, opened.text, opened.message_id) == (True, SECRET_TEXT, "c9")
    assert opened.version is not None
    names = b" ".join(await redis.keys("*"))
    assert b"Harold" not in names
    assert b"visiting" not in names


async def test_worker_decides_hands_over_and_acknowledges(
    redis: Redis, engine: TriageEngine
) -> None:
    await record(redis, CIPHER, message("c2"))
    async with ClientSession() as session:
        w = worker(redis, engine, session, "w1")
        await w.ensure_group()
        assert await w.step() == 1
        await w.acted()
    decision = Decision.model_validate_json(await redis.get(keys.message_decision("meta", "c2")))
    assert decision.action == "escalate"
    assert await redis.xlen(keys.INBOX) == 0  # acknowledged and deleted
    cases = CaseStore(redis, CIPHER)
    [case] = await cases.by_status("new")
    assert case.priority == "high"
    assert (await cases.source(case.id)).text == SECRET_TEXT
    dump = (await every_byte(redis)).lower()
    for secret in (b"harold", b"123-45-6789", b"chemo"):
        assert secret not in dump


async def test_a_crashed_workers_receipt_is_reclaimed_and_processed_once(
    redis: Redis, engine: TriageEngine
) -> None:
    await record(redis, CIPHER, message("c3", "where do I park?"))
    async with ClientSession() as session:
        first = worker(redis, engine, session, "dies", lease_ms=200)
        await first.ensure_group()
        # The first worker reads the receipt and dies before acknowledging it.
        read = await redis.xreadgroup(keys.INBOX_GROUP, "dies", {keys.INBOX: ">"}, count=1)
        assert len(read[0][1]) == 1
        second = worker(redis, engine, session, "survivor", lease_ms=200)
        assert await second.step() == 0  # still leased to the dead worker
        await asyncio.sleep(0.3)
        assert await second.step() == 1  # lease expired: reclaimed
        await second.acted()
        assert await second.step() == 0  # and only once
    pending = await redis.xpending(keys.INBOX, keys.INBOX_GROUP)
    assert pending["pending"] == 0
    stored = await redis.get(keys.message_decision("meta", "c3"))
    assert Decision.model_validate_json(stored).action == "reply"
