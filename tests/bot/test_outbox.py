"""The outbox on a real Redis, the real Meta connector and a local Graph API: calls per
account are bounded, other accounts are not held up, a throttled account pauses as told."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from bot.connectors.base import ActionKind, InboundMessage, MessageKind, OutboundAction
from bot.connectors.meta import MetaConnector
from bot.metrics import Metrics
from bot.outbox import Outbox
from escalation import keys
from escalation.cases import CaseStore
from escalation.crypto import Cipher, new_key_spec
from tests.hangs import close_within

PAGE_A, PAGE_B = "104857362918273", "204857362918274"


@dataclass
class Graph:
    """Holds the replies to comments in `held` until released; answers 429 (with
    Retry-After) to the first call about a comment in `throttled`."""

    held: set[str] = field(default_factory=set)
    throttled: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0
    most_in_flight: int = 0
    arrivals: list[tuple[float, str]] = field(default_factory=list)

    async def post(self, request: web.Request) -> web.Response:
        comment = request.match_info["path"].split("/")[0]
        self.arrivals.append((asyncio.get_running_loop().time(), comment))
        if comment in self.throttled:
            self.throttled.discard(comment)
            return web.json_response(
                {"error": {"code": 4}}, status=429, headers={"Retry-After": "1"}
            )
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if comment in self.held:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.release.wait(), timeout=8)
        finally:
            self.in_flight -= 1
        return web.json_response({"id": "1_2"})


@pytest.fixture
async def graph() -> AsyncIterator[tuple[Graph, str]]:
    api = Graph()
    app = web.Application()
    app.router.add_post("/v21.0/{path:.*}", api.post)
    server = TestServer(app)
    await server.start_server()
    try:
        yield api, str(server.make_url("/v21.0"))
    finally:
        api.release.set()
        await close_within(server, "the local Graph API")


@pytest.fixture
async def outbox(redis_url: str) -> AsyncIterator[Outbox]:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    async with ClientSession() as session:
        yield Outbox(
            redis=redis,
            session=session,
            metrics=Metrics(),
            cases=CaseStore(redis, Cipher.from_spec(new_key_spec())),
            concurrency=2,
            attempts=3,
        )
    await redis.aclose()


def reply(comment: str, page: str) -> tuple[InboundMessage, OutboundAction]:
    message = InboundMessage(
        platform="meta",
        message_id=comment,
        kind=MessageKind.COMMENT,
        author_id="5532019987431276",
        text="where do I park?",
        account_id=f"fb:{page}",
    )
    action = OutboundAction(
        kind=ActionKind.REPLY,
        platform="meta",
        target_id=comment,
        text="Visitor parking is in the North Garage.",
        account_id=f"fb:{page}",
    )
    return message, action


async def until(check: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"never happened: {what}")


async def test_calls_per_account_are_bounded_and_other_accounts_go_on(
    graph: tuple[Graph, str], outbox: Outbox
) -> None:
    api, url = graph
    meta = MetaConnector("secret", "token", url, PAGE_A)
    held = [f"c_a{n}" for n in range(4)]
    api.held.update(held)
    tasks = [asyncio.create_task(outbox.deliver(meta, *_one(reply(c, PAGE_A)))) for c in held]
    await until(lambda: api.in_flight == 2, "two calls of page A in flight")
    # Page B has slots of its own: its reply goes out while page A's are all taken.
    await outbox.deliver(meta, *_one(reply("c_b", PAGE_B)))
    arrived = [c for _, c in api.arrivals]
    assert "c_b" in arrived
    assert len([c for c in arrived if c.startswith("c_a")]) == 2  # the others wait for a slot
    api.release.set()
    await asyncio.gather(*tasks)
    assert api.most_in_flight == 3  # two of page A, and page B's beside them
    redis = outbox.redis
    for comment in held:
        assert await redis.hget(keys.actions("meta", comment), "0") == b"sent"


async def test_a_throttled_account_waits_as_long_as_the_platform_asks(
    graph: tuple[Graph, str], outbox: Outbox
) -> None:
    api, url = graph
    meta = MetaConnector("secret", "token", url, PAGE_A)
    api.throttled.add("c_first")
    first = asyncio.create_task(outbox.deliver(meta, *_one(reply("c_first", PAGE_A))))
    errors = {"platform": "meta", "kind": "reply", "result": "error"}
    registry = outbox.metrics.registry
    # Counted, and in the same step the account paused.
    await until(
        lambda: registry.get_sample_value("triage_outbound_calls_total", errors) == 1,
        "the 429 read",
    )
    await outbox.deliver(meta, *_one(reply("c_second", PAGE_A)))
    await first
    throttled_at = api.arrivals[0][0]
    later = [at - throttled_at for at, _ in api.arrivals[1:]]
    # Retry-After: 1 — neither the retry nor the other comment's call came sooner.
    assert len(later) == 2
    assert min(later) >= 0.9


def _one(
    pair: tuple[InboundMessage, OutboundAction],
) -> tuple[InboundMessage, list[OutboundAction]]:
    return pair[0], [pair[1]]
