"""A dead NLP process is replaced without anyone's help: the batches it held are tried again,
readiness says so meanwhile, and a message that kills it every time fails alone."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import create_app
from bot.appkeys import NLP_POOL
from bot.nlp_pool import NlpPool
from bot.settings import Settings
from escalation import keys
from nlu.engine import TriageEngine
from tests.bot.test_meta_webhook import APP_SECRET, PAGE_ID, GraphApi, comment, signed
from tests.hangs import close_within

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Generous: a new process loads spaCy, presidio and the FAQ model before it is used.
RECOVERY_S = 60.0


async def eventually(check: Callable[[], Awaitable[bool]]) -> bool:
    """Whether `check` comes true within RECOVERY_S."""
    for _ in range(int(RECOVERY_S / 0.2)):
        if await check():
            return True
        await asyncio.sleep(0.2)
    return False


def kill(pids: list[int]) -> None:
    assert pids, "the pool has no process to kill"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
async def graph() -> AsyncIterator[tuple[GraphApi, str]]:
    api = GraphApi()
    async with TestServer(api.app) as server:
        yield api, str(server.make_url("/v21.0"))


async def test_a_killed_nlp_process_is_replaced_and_the_service_answers_again(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, graph: tuple[GraphApi, str]
) -> None:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("var"),
        redis_url=SecretStr(redis_url),
        api_token=SecretStr(TOKEN),
        meta_app_secret=SecretStr(APP_SECRET),
        meta_page_token=SecretStr("page-token"),
        meta_graph_url=graph[1],
        meta_page_id=PAGE_ID,
        nlp_processes=1,
        workers=1,
        shutdown_grace_s=4,
    )
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    ready: list[int] = []
    stop = asyncio.Event()

    async def watch_readiness() -> None:
        while not stop.is_set():
            ready.append((await client.get("/readyz")).status)
            await asyncio.sleep(0.05)

    try:
        first = await client.post(
            "/v1/messages",
            json={"message_id": "before", "author_id": "u1", "text": "where do I park?"},
            headers=AUTH,
        )
        assert first.status == 200
        watcher = asyncio.create_task(watch_readiness())
        kill(client.server.app[NLP_POOL].pids())
        # A webhook message and API calls arrive while the process is dead or replaced.
        body = comment("c_after_kill", "my husband is having a heart attack right now")
        assert (await client.post("/webhooks/meta", data=body, headers=signed(body))).status == 200
        attempts = itertools.count()

        async def answered() -> bool:
            response = await client.post(
                "/v1/messages",
                json={
                    "message_id": f"after-{next(attempts)}",
                    "author_id": "u1",
                    "text": "parking?",
                },
                headers=AUTH,
            )
            assert response.status in (200, 503)  # never a 500
            answers.append(await response.json())
            return response.status == 200

        async def safety_reply_sent() -> bool:
            calls = graph[0].to("c_after_kill")
            return any(c["path"] == "c_after_kill/comments" for c in calls)

        async def ready_again() -> bool:
            return ready[-1:] == [200]

        answers: list[dict[str, object]] = []
        assert await eventually(answered), "POST /v1/messages did not answer 200 again"
        assert answers[-1]["intent"] == "parking"
        assert await eventually(safety_reply_sent), "the emergency comment got no safety reply"
        assert await redis.exists(keys.message_decision("meta", "c_after_kill"))
        assert await eventually(ready_again)
        # Replaced once, however many requests and workers saw it broken.
        assert client.server.app[NLP_POOL].replacements == 1
        stop.set()
        await watcher
    finally:
        stop.set()
        await close_within(client, "the app under its test client")
        await redis.aclose()
    # Not ready while the pool was broken or being replaced, ready again after.
    assert 503 in ready
    assert ready[-1] == 200
    assert set(ready) <= {200, 503}


async def test_a_batch_in_flight_when_its_process_dies_is_decided_after_one_replacement(
    engine: TriageEngine,
) -> None:
    pool = NlpPool(engine, processes=1)
    try:
        await pool.warm_up()
        # Long enough to still be running when the kill lands (about a second of NLP).
        items = [
            (f"m{i}", f"where do I park for clinic {i}? my mrn is 88341{i:02d}") for i in range(60)
        ]
        batch = asyncio.ensure_future(pool.triage_each(items))
        await asyncio.sleep(0.05)
        assert not batch.done()
        kill(pool.pids())
        decisions = await asyncio.wait_for(batch, RECOVERY_S)
    finally:
        pool.shutdown()
    assert [d.id if d else None for d in decisions] == [i for i, _ in items]
    assert pool.replacements == 1
    assert pool.ready


async def test_a_message_whose_process_dies_on_every_try_fails_alone(
    engine: TriageEngine,
) -> None:
    """The first three processes die as soon as they appear: the batch's try and the
    first message's two tries alone; the second message is then decided."""
    pool = NlpPool(engine, processes=1, attempts=3)
    killed: set[int] = set()

    async def killer() -> None:
        while len(killed) < 3:
            for pid in pool.pids():
                if pid not in killed:
                    killed.add(pid)
                    os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(0.005)

    try:
        await pool.warm_up()
        killing = asyncio.create_task(killer())
        items = [("poison", "hello"), ("fine", "where do I park?")]
        decisions = await asyncio.wait_for(pool.triage_each(items), RECOVERY_S)
        await killing
    finally:
        pool.shutdown()
    assert decisions[0] is None
    assert decisions[1] is not None
    assert decisions[1].intent == "parking"
    assert pool.ready
