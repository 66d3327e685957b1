"""TRIAGE_REDIS_URL naming a Sentinel set: the primary is SIGKILLed under load, a replica
takes over, the service answers normally again by itself, and nothing acknowledged before
the failover (with TRIAGE_REDIS_WAIT_REPLICAS=1) is lost. Real redis-server processes: a
primary, a replica and three sentinels (tests/sentinel_set.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import create_app
from bot.appkeys import REDIS
from bot.redis_client import parse_sentinel_url
from bot.settings import Settings
from escalation import keys
from tests.bot.test_meta_webhook import APP_SECRET, PAGE_ID, GraphApi, comment, signed
from tests.hangs import close_within
from tests.sentinel_set import SentinelSet

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Sentinel's down-after is 1 s in the test set: a failover takes a few seconds, the
# restarted node's resync one more. Past this, the service did not come back by itself.
RECOVERY_BOUND_S = 25.0


def body(message_id: str, text: str = "where do I park?") -> dict[str, str]:
    return {"message_id": message_id, "author_id": "u1", "text": text}


@pytest.fixture
def sentinel_set(tmp_path: Path) -> Iterator[SentinelSet]:
    with SentinelSet(tmp_path / "sentinel-set") as started:
        yield started


@pytest.fixture
async def graph() -> AsyncIterator[tuple[GraphApi, str]]:
    api = GraphApi()
    server = TestServer(api.app)
    await server.start_server()
    try:
        yield api, str(server.make_url("/v21.0"))
    finally:
        await close_within(server, "the local Graph API")


@pytest.fixture
async def client(
    tmp_path: Path, sentinel_set: SentinelSet, graph: tuple[GraphApi, str]
) -> AsyncIterator[TestClient]:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "var",
        api_token=SecretStr(TOKEN),
        redis_url=SecretStr(sentinel_set.url),
        redis_wait_replicas=1,
        meta_app_secret=SecretStr(APP_SECRET),
        meta_page_token=SecretStr("page-token"),
        meta_graph_url=graph[1],
        meta_page_id=PAGE_ID,
        workers=1,
        worker_lease_s=2.0,  # a receipt whose action waited for a replica is taken again
        outbound_attempts=2,
        shutdown_grace_s=4,
    )
    test_client = TestClient(TestServer(create_app(settings)))
    await test_client.start_server()
    try:
        yield test_client
    finally:
        await close_within(test_client, "the app under its test client")


def test_a_sentinel_url_names_sentinels_service_db_and_passwords() -> None:
    target = parse_sentinel_url(
        "redis+sentinel://:p%40ss@h1:26380,h2,[::1]:26381/mymaster/3?sentinel_password=s"
    )
    assert target.sentinels == (("h1", 26380), ("h2", 26379), ("::1", 26381))
    assert (target.service, target.db, target.password, target.sentinel_password) == (
        "mymaster",
        3,
        "p@ss",
        "s",
    )
    assert "p@ss" not in repr(target)
    for bad in ("redis+sentinel://h1/", "redis+sentinel://h1:x/m", "redis+sentinel://h1/m/db"):
        with pytest.raises(ValueError, match=r"path|address|db"):
            parse_sentinel_url(bad)


async def test_primary_killed_service_recovers_and_acknowledged_messages_survive(
    client: TestClient,
    sentinel_set: SentinelSet,
    graph: tuple[GraphApi, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    api, _ = graph
    acknowledged: dict[str, dict[str, Any]] = {}
    for i in range(8):
        answer = await client.post("/v1/messages", json=body(f"before-{i}"), headers=AUTH)
        assert answer.status == 200  # WAIT 1: on the replica before this answer
        acknowledged[f"before-{i}"] = await answer.json()
    comments = [f"c_before_{i}" for i in range(4)]
    for comment_id in comments:
        delivery = comment(comment_id, "what are your visiting hours?")
        answer = await client.post("/webhooks/meta", data=delivery, headers=signed(delivery))
        assert answer.status == 200

    old = sentinel_set.primary_port()
    sentinel_set.node_on(old).kill()
    killed_at = time.monotonic()

    async def bring_back_as_replica() -> None:
        # What an orchestrator's restart does (Sentinel would also turn the old primary
        # into a replica by itself, some seconds after it answers again).
        new = await asyncio.to_thread(sentinel_set.wait_for_new_primary, old)
        sentinel_set.node_on(old).start("--replicaof", "127.0.0.1", str(new))

    restarting = asyncio.create_task(bring_back_as_replica())
    statuses: list[int] = []
    while True:  # a client retries its message until it is acknowledged
        assert time.monotonic() - killed_at < RECOVERY_BOUND_S, f"no recovery: {statuses}"
        answer = await client.post("/v1/messages", json=body("during"), headers=AUTH)
        statuses.append(answer.status)
        if answer.status == 200:
            break
        assert answer.status == 503
        assert answer.headers.get("Retry-After")
        await asyncio.sleep(0.2)
    recovered_s = time.monotonic() - killed_at
    await restarting
    print(f"answered normally again {recovered_s:.1f} s after the primary's SIGKILL")
    assert sentinel_set.primary_port() != old
    assert (await client.get("/readyz")).status == 200

    # Every message acknowledged before the failover is there: the same Decision again.
    # (Retried on a 503 as clients do: the replica that just came back may still lag.)
    for message_id, first in acknowledged.items():
        for _ in range(50):
            again = await client.post("/v1/messages", json=body(message_id), headers=AUTH)
            if again.status != 503:
                break
            await asyncio.sleep(0.2)
        assert again.status == 200
        seen = await again.json()
        assert seen["duplicate"] is True, message_id
        assert (seen["id"], seen["action"], seen["reply"]) == (
            first["id"],
            first["action"],
            first["reply"],
        )
    # And the webhook receipts: the worker, reconnected to the new primary, answers each
    # comment once.
    new_primary = sentinel_set.data_client(sentinel_set.primary_port())
    try:
        for _ in range(200):
            decided = [new_primary.exists(keys.message_decision("meta", c)) for c in comments]
            if all(decided) and all(api.to(c) for c in comments):
                break
            await asyncio.sleep(0.1)
        assert all(decided)
        assert [len(api.to(c)) for c in comments] == [1, 1, 1, 1]
    finally:
        new_primary.close()
    # The outage was a warning an episode in each part, never a traceback.
    assert not [r for r in caplog.records if r.exc_info and r.name.startswith("triagebot")]


async def test_too_few_replicas_in_time_is_a_503_and_the_redelivery_stays_single(
    tmp_path: Path, redis_url: str
) -> None:
    # The session's Redis has no replica: WAIT 1 never succeeds.
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        redis_url=SecretStr(redis_url),
        redis_wait_replicas=1,
        redis_wait_timeout_ms=50,
        meta_app_secret=SecretStr(APP_SECRET),
        meta_page_id=PAGE_ID,
        workers=0,
        shutdown_grace_s=4,
    )
    test_client = TestClient(TestServer(create_app(settings)))
    await test_client.start_server()
    try:
        delivery = comment("c_unreplicated", "where do I park?")
        answers = [
            await test_client.post("/webhooks/meta", data=delivery, headers=signed(delivery))
            for _ in range(2)
        ]
        assert [(a.status, a.headers.get("Retry-After")) for a in answers] == [(503, "1")] * 2
        assert await answers[0].json() == {"error": "storage not yet replicated; retry shortly"}
    finally:
        await close_within(test_client, "the app under its test client")
    redis = Redis.from_url(redis_url)
    try:
        ours = [i for i, f in await redis.xrange(keys.INBOX) if f[b"id"] == b"c_unreplicated"]
        assert len(ours) == 1
    finally:  # no other test's worker is to meet it
        await redis.xdel(keys.INBOX, *ours)
        await redis.aclose()


async def test_a_manual_failover_demotes_the_primary_and_the_workers_follow(
    client: TestClient,
    sentinel_set: SentinelSet,
    graph: tuple[GraphApi, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # SENTINEL FAILOVER: the old primary lives on as a replica, so a connection to it
    # meets READONLY or a blocked read cut off (UNBLOCKED) rather than a closed socket.
    api, _ = graph
    warm = comment("c_warm", "what are your visiting hours?")
    assert (await client.post("/webhooks/meta", data=warm, headers=signed(warm))).status == 200
    for _ in range(200):  # the worker is blocked reading when the failover comes
        if api.to("c_warm"):
            break
        await asyncio.sleep(0.05)
    old = sentinel_set.primary_port()
    sentinel = sentinel_set.data_client(sentinel_set.sentinels[0].port)
    sentinel.connection_pool.connection_kwargs.pop("password")
    try:
        assert sentinel.execute_command("SENTINEL", "FAILOVER", "mymaster")
    finally:
        sentinel.close()
    asked_at = time.monotonic()
    await asyncio.to_thread(sentinel_set.wait_for_new_primary, old)
    promoted_s = time.monotonic() - asked_at
    after = comment("c_after", "what are your visiting hours?")
    for _ in range(100):  # a delivery is redelivered until it is acknowledged
        answer = await client.post("/webhooks/meta", data=after, headers=signed(after))
        if answer.status == 200:
            break
        assert answer.status == 503
        await asyncio.sleep(0.2)
    assert answer.status == 200
    answered_s = time.monotonic() - asked_at
    for _ in range(300):
        if api.to("c_after"):
            break
        await asyncio.sleep(0.05)
    print(
        f"SENTINEL FAILOVER: promoted {promoted_s:.1f} s, webhook acknowledged "
        f"{answered_s:.1f} s, its reply sent {time.monotonic() - asked_at:.1f} s after"
    )
    await asyncio.sleep(0.5)
    assert [len(api.to(c)) for c in ("c_warm", "c_after")] == [1, 1]
    # The connections left the demoted primary: moved by the follower as soon as the
    # sentinels named another, or, when a write met READONLY first, by redis-py itself.
    pool = client.app[REDIS].connection_pool
    assert any(
        r.getMessage().startswith("redis primary moved") for r in caplog.records
    ) or pool.master_address == ("127.0.0.1", sentinel_set.primary_port())
    # An outage is a warning an episode, never a traceback.
    assert not [r for r in caplog.records if r.exc_info and r.name.startswith("triagebot")]
