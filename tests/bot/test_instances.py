"""Several service instances on one real Redis: a delivery and its retry on different
instances are decided once, what a dead instance held goes to another after the lease, an
FAQ approval on one reaches the other, and keys that differ lose nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import create_app
from bot.appkeys import FAQ
from bot.embedded_redis import EmbeddedRedis
from bot.intake import record
from bot.settings import Settings
from escalation import keys
from escalation.crypto import Cipher, new_key_spec
from escalation.faq.store import Changes
from nlu.engine import TriageEngine
from tests.bot.test_intake_worker import CIPHER, message, worker
from tests.bot.test_meta_webhook import APP_SECRET, PAGE_ID, GraphApi, comment, signed
from tests.hangs import close_within

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Every instance of a deployment holds the same keys (TRIAGE_ENCRYPTION_KEYS).
SHARED_KEYS = new_key_spec()
NEW_PARKING = "Parking is free in the new North garage."


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis of this module's own: an FAQ approval here must not reach other tests."""
    with EmbeddedRedis(tmp_path_factory.mktemp("shared-redis")) as server:
        yield server.url


@pytest.fixture
async def redis(shared_redis: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(shared_redis)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
async def graph() -> AsyncIterator[tuple[GraphApi, str]]:
    api = GraphApi()
    server = TestServer(api.app)
    await server.start_server()
    try:
        yield api, str(server.make_url("/v21.0"))
    finally:
        await close_within(server, "the local Graph API")


class Instances:
    """Service instances started on the shared Redis, each with its own data folder."""

    def __init__(self, tmp_path: Path, redis_url: str, graph_url: str) -> None:
        self.tmp_path, self.redis_url, self.graph_url = tmp_path, redis_url, graph_url
        self.started: list[TestClient] = []

    async def start(self, name: str, workers: int = 1, **overrides: Any) -> TestClient:
        settings = Settings(
            _env_file=None,
            data_dir=self.tmp_path / name,
            api_token=SecretStr(TOKEN),
            redis_url=SecretStr(self.redis_url),
            encryption_keys=SecretStr(SHARED_KEYS),
            meta_app_secret=SecretStr(APP_SECRET),
            meta_page_token=SecretStr("page-token"),
            meta_graph_url=self.graph_url,
            meta_page_id=PAGE_ID,
            workers=workers,
            worker_lease_s=1.0,
            outbound_attempts=2,
            shutdown_grace_s=4,
            **overrides,
        )
        client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        self.started.append(client)
        return client

    async def close(self) -> None:
        for client in reversed(self.started):
            await close_within(client, "an instance under its test client")


@pytest.fixture
async def instances(
    tmp_path: Path, shared_redis: str, redis: Redis, graph: tuple[GraphApi, str]
) -> AsyncIterator[Instances]:
    started = Instances(tmp_path, shared_redis, graph[1])
    try:
        yield started
    finally:
        await started.close()


async def answered(api: GraphApi, comment_ids: list[str], wait_s: float = 15.0) -> list[int]:
    """Graph API calls per comment once each has one (bounded), then a moment more for a
    wrongly repeated call to show."""
    for _ in range(int(wait_s / 0.05)):
        if all(api.to(c) for c in comment_ids):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    return [len(api.to(c)) for c in comment_ids]


async def test_a_delivery_and_its_retries_on_two_instances_are_decided_and_answered_once(
    instances: Instances, graph: tuple[GraphApi, str], redis: Redis
) -> None:
    a, b = await instances.start("a"), await instances.start("b")
    delivery = comment("c_both", "what are your visiting hours?")
    news = []
    for target in (a, b, a, b):
        answer = await target.post("/webhooks/meta", data=delivery, headers=signed(delivery))
        assert answer.status == 200
        news.append((await answer.json())["new"])
    assert news == [1, 0, 0, 0]
    assert await answered(graph[0], ["c_both"]) == [1]
    # The API too: a client's retry that reaches the other instance gets the first Decision.
    sent = {"message_id": "api-both", "author_id": "u1", "text": "I have chest pain"}
    first = await (await a.post("/v1/messages", json=sent, headers=AUTH)).json()
    again = await (await b.post("/v1/messages", json=sent, headers=AUTH)).json()
    assert (again["duplicate"], again["id"], again["case_id"]) == (
        True,
        first["id"],
        first["case_id"],
    )
    # Both at once, one on each instance: still one Decision and one case.
    sent = {"message_id": "api-race", "author_id": "u2", "text": "I have chest pain"}
    both = await asyncio.gather(
        *(target.post("/v1/messages", json=sent, headers=AUTH) for target in (a, b))
    )
    raced = [await answer.json() for answer in both]
    assert sorted(r["duplicate"] for r in raced) == [False, True]
    assert len({(r["id"], r["case_id"]) for r in raced}) == 1
    assert await redis.zcard(keys.CASES) == 2


async def test_what_a_dead_instance_held_goes_to_the_other_after_the_lease(
    instances: Instances, graph: tuple[GraphApi, str], redis: Redis
) -> None:
    intake = await instances.start("intake", workers=0)
    comment_ids = [f"c_held_{i}" for i in range(3)]
    for comment_id in comment_ids:
        delivery = comment(comment_id, "where do I park?")
        assert (await intake.post("/webhooks/meta", data=delivery, headers=signed(delivery))).ok
    # What an instance SIGKILLed right after reading leaves: entries pending under its
    # consumer, which nobody will ever acknowledge.
    await redis.xgroup_create(keys.INBOX, keys.INBOX_GROUP, id="0")
    await redis.xreadgroup(keys.INBOX_GROUP, "gone-host:1:dead00:0", {keys.INBOX: ">"}, count=10)
    held = await redis.xpending(keys.INBOX, keys.INBOX_GROUP)
    assert held["pending"] == 3
    await instances.start("survivor")
    assert await answered(graph[0], comment_ids) == [1, 1, 1]
    assert (await redis.xpending(keys.INBOX, keys.INBOX_GROUP))["pending"] == 0


async def test_an_faq_approval_on_one_instance_reaches_the_other(
    instances: Instances, redis: Redis
) -> None:
    a, b = await instances.start("a", workers=0), await instances.start("b", workers=0)
    store = a.app[FAQ]
    changes = Changes(answers={"parking": NEW_PARKING}, add_examples={}, remove_examples={},
                      new_intents={})  # fmt: skip
    draft = await store.propose("editor", "new garage", changes)
    version = await store.approve(draft.id, "compliance")
    for _ in range(600):  # the other instance follows (retraining takes a few seconds)
        ready = await (await b.get("/readyz")).json()
        if ready.get("faq_version") == version.version:
            break
        await asyncio.sleep(0.05)
    assert ready["faq_version"] == version.version
    sent = {"message_id": "park-b", "author_id": "u1", "text": "where can I park my car?"}
    decided = await (await b.post("/v1/messages", json=sent, headers=AUTH)).json()
    assert decided["reply"] == NEW_PARKING


async def test_a_receipt_sealed_with_other_keys_is_left_for_an_instance_that_holds_them(
    redis: Redis, engine: TriageEngine
) -> None:
    # An instance started with its own key file instead of the shared keys: it must not
    # throw away what the others recorded.
    stranger = Cipher.from_spec(new_key_spec())
    assert await record(redis, CIPHER, message("c_sealed", "where do I park?"))
    async with ClientSession() as session:
        wrong = worker(redis, engine, session, "stranger", lease_ms=200)
        wrong.cipher = stranger
        await wrong.ensure_group()
        assert await wrong.step() == 0
        assert (await redis.xpending(keys.INBOX, keys.INBOX_GROUP))["pending"] == 1
        await asyncio.sleep(0.3)  # the lease runs out; an instance with the keys takes it
        right = worker(redis, engine, session, "holder", lease_ms=200)
        assert await right.step() == 1
    assert await redis.exists(keys.message_decision("meta", "c_sealed"))
    assert (await redis.xpending(keys.INBOX, keys.INBOX_GROUP))["pending"] == 0


async def test_consumers_of_gone_instances_are_forgotten_never_with_pending_entries(
    redis: Redis, engine: TriageEngine
) -> None:
    assert await record(redis, CIPHER, message("c_kept", "where do I park?"))
    await redis.xgroup_create(keys.INBOX, keys.INBOX_GROUP, id="0", mkstream=True)
    await redis.xgroup_createconsumer(keys.INBOX, keys.INBOX_GROUP, "gone-idle")
    await redis.xreadgroup(keys.INBOX_GROUP, "gone-holding", {keys.INBOX: ">"}, count=1)
    await asyncio.sleep(0.05)
    async with ClientSession() as session:
        live = worker(redis, engine, session, "live")
        live.config = replace(live.config, forget_after_ms=10)
        assert await live.forget_gone_consumers() == 1
    names = {c["name"] for c in await redis.xinfo_consumers(keys.INBOX, keys.INBOX_GROUP)}
    assert names == {b"gone-holding"}


async def test_a_consumer_group_a_new_primary_never_got_is_made_again(
    instances: Instances, graph: tuple[GraphApi, str], redis: Redis
) -> None:
    # Replication is asynchronous: a replica promoted right after the first start may
    # have the stream's entries without the group.
    app = await instances.start("only")
    await redis.xgroup_destroy(keys.INBOX, keys.INBOX_GROUP)
    delivery = comment("c_regrouped", "where do I park?")
    assert (await app.post("/webhooks/meta", data=delivery, headers=signed(delivery))).ok
    assert await answered(graph[0], ["c_regrouped"]) == [1]
