"""A slow platform API end to end: signed Meta webhooks into the real app, and a local Graph
API that carries every call out at once but answers some of them only after the client has
given up (or drops the connection). Nothing may be done twice, a message's actions stay in
order, and other messages do not wait behind the slow call."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import create_app
from bot.connectors.base import ActionKind, OutboundAction, retry_after
from bot.outbox import resend_unconfirmed
from bot.settings import Settings
from escalation import keys
from tests.hangs import close_within

APP_SECRET = "meta-app-secret-for-slow-tests"
PAGE_ID = "104857362918273"
PHI_TEXT = "I'm Harold Finch, DOB 04/02/1960, my chemo on 4 west got cancelled again"
Slowness = Literal["late", "dropped", "held"]


@dataclass
class Post:
    path: str
    comment: str
    answered: bool = False


@dataclass
class SlowGraph:
    """Plays graph.facebook.com: carries each POST out at once, keeps what it did so that
    reads show it, and answers the first POST of each action on a slow comment late."""

    delay_s: float = 1.0
    posts: list[Post] = field(default_factory=list)
    hidden: set[str] = field(default_factory=set)
    replies: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    privately: set[str] = field(default_factory=set)
    slow: dict[str, Slowness] = field(default_factory=dict)  # comment id -> how it is slow
    unreadable: set[str] = field(default_factory=set)  # comments whose replies cannot be read
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _slowed: set[tuple[str, str]] = field(default_factory=set)

    def to(self, comment: str) -> list[str]:
        """The paths of the POSTs about one comment, in the order they arrived."""
        return [p.path for p in self.posts if p.comment == comment]

    async def post(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        body = await request.json()
        recipient = body.get("recipient", {})
        comment = recipient.get("comment_id") or path.split("/")[0]
        post = Post(path, comment)
        self.posts.append(post)
        if path == comment:
            self.hidden.add(comment)
        elif path == f"{comment}/comments":
            self.replies.setdefault(comment, []).append(
                {"from": {"id": PAGE_ID}, "message": body["message"], "id": f"r{len(self.posts)}"}
            )
        elif "comment_id" in recipient:
            self.privately.add(comment)
        how = self.slow.get(comment)
        if how is not None and (path, comment) not in self._slowed:
            self._slowed.add((path, comment))  # only the first try of each action is slow
            if how == "late":
                await asyncio.sleep(self.delay_s)
            elif how == "held":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.release.wait(), timeout=8)
            else:  # done, and the connection drops before any answer
                assert request.transport is not None
                request.transport.close()
                await asyncio.sleep(0.1)
        post.answered = True
        return web.json_response({"success": True, "id": f"out_{len(self.posts)}"})

    async def get(self, request: web.Request) -> web.Response:
        path, fields = request.match_info["path"], request.query.get("fields", "")
        comment = path.split("/")[0]
        if path.endswith("/comments"):
            if comment in self.unreadable:
                return web.json_response({"error": {"code": 2}}, status=500)
            return web.json_response({"data": self.replies.get(comment, [])})
        if fields == "is_hidden":
            return web.json_response({"id": comment, "is_hidden": comment in self.hidden})
        if fields == "can_reply_privately":
            return web.json_response(
                {"id": comment, "can_reply_privately": comment not in self.privately}
            )
        return web.json_response({"error": {"code": 100}}, status=400)


@pytest.fixture
async def graph() -> AsyncIterator[tuple[SlowGraph, str]]:
    api = SlowGraph()
    app = web.Application()
    app.router.add_post("/v21.0/{path:.*}", api.post)
    app.router.add_get("/v21.0/{path:.*}", api.get)
    server = TestServer(app)
    await server.start_server()
    try:
        yield api, str(server.make_url("/v21.0"))
    finally:
        api.release.set()  # a held call answers, so the server closes at once
        await close_within(server, "the local Graph API")


@contextlib.asynccontextmanager
async def bot(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, graph_url: str, timeout_s: float
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("var"),
        redis_url=SecretStr(redis_url),
        meta_app_secret=SecretStr(APP_SECRET),
        meta_page_token=SecretStr("page-token"),
        meta_graph_url=graph_url,
        meta_page_id=PAGE_ID,
        workers=1,
        outbound_attempts=3,
        platform_timeout_s=timeout_s,
        shutdown_grace_s=4,
    )
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        yield client
    finally:
        await close_within(client, "the app under its test client")


def comment(comment_id: str, text: str, author: str) -> bytes:
    value = {
        "item": "comment",
        "verb": "add",
        "comment_id": comment_id,
        "post_id": f"{PAGE_ID}_42",
        "from": {"id": author, "name": "A Person"},
        "message": text,
    }
    entry = {"id": PAGE_ID, "time": 1, "changes": [{"field": "feed", "value": value}]}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


async def post_comment(
    client: TestClient[web.Request, web.Application], comment_id: str, text: str, author: str
) -> None:
    body = comment(comment_id, text, author)
    digest = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}
    response = await client.post("/webhooks/meta", data=body, headers=headers)
    assert response.status == 200


async def states(redis_url: str, message_id: str, count: int) -> dict[Any, Any]:
    """The message's action states once `count` of them are settled (bounded wait)."""
    redis = Redis.from_url(redis_url)
    try:
        for _ in range(300):
            state = await redis.hgetall(keys.actions("meta", message_id))
            settled = [v for v in state.values() if v not in (b"pending", b"uncertain")]
            if len(settled) >= count:
                break
            await asyncio.sleep(0.05)
        return state
    finally:
        await redis.aclose()


async def arrival(graph: SlowGraph, comment: str, count: int) -> None:
    """Wait (bounded) until `count` POSTs about a comment reached the Graph API."""
    for _ in range(200):
        if len(graph.to(comment)) >= count:
            return
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("how", ["late", "dropped"])
async def test_an_action_done_but_unanswered_is_confirmed_not_sent_twice(
    tmp_path_factory: pytest.TempPathFactory,
    redis_url: str,
    graph: tuple[SlowGraph, str],
    how: Slowness,
) -> None:
    api, url = graph
    api.slow["c_slow"] = how
    # The Graph API answers after 1 s; the bot waits 0.5 s for an answer.
    async with bot(tmp_path_factory, redis_url, url, timeout_s=0.5) as client:
        await post_comment(client, "c_slow", PHI_TEXT, author="77002")
        state = await states(redis_url, "c_slow", 3)
        await asyncio.sleep(0.3)  # give a wrongly repeated call the chance to show
    # Hide, public reply, private reply: each carried out once, in that order.
    assert api.to("c_slow") == ["c_slow", "c_slow/comments", f"{PAGE_ID}/messages"]
    assert len(api.replies["c_slow"]) == 1
    assert state == {b"0": b"sent", b"1": b"sent", b"2": b"sent"}


async def test_other_messages_are_not_held_up_behind_a_slow_call(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, graph: tuple[SlowGraph, str]
) -> None:
    api, url = graph
    api.slow["c_held"] = "held"
    # A long client timeout: the slow hide stays in flight while the other comments come in.
    async with bot(tmp_path_factory, redis_url, url, timeout_s=6) as client:
        await post_comment(client, "c_held", PHI_TEXT, author="77003")
        await arrival(api, "c_held", 1)
        assert api.to("c_held") == ["c_held"]
        for n in range(3):
            await post_comment(client, f"c_quick{n}", "where do I park?", author=f"7710{n}")
        for n in range(3):
            await arrival(api, f"c_quick{n}", 1)
        # Every other comment was answered while the slow call was still unanswered.
        hide = next(p for p in api.posts if p.comment == "c_held")
        assert [api.to(f"c_quick{n}") for n in range(3)] == [
            [f"c_quick{n}/comments"] for n in range(3)
        ]
        assert not hide.answered
        assert api.to("c_held") == ["c_held"]
        api.release.set()
        state = await states(redis_url, "c_held", 3)
        await asyncio.sleep(0.3)
    # And the slow message's own actions went on, after it and in order, once each.
    assert api.to("c_held") == ["c_held", "c_held/comments", f"{PAGE_ID}/messages"]
    assert state == {b"0": b"sent", b"1": b"sent", b"2": b"sent"}


async def test_an_unconfirmable_reply_is_not_resent_but_a_safety_reply_is(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, graph: tuple[SlowGraph, str]
) -> None:
    api, url = graph
    for name in ("c_faq", "c_sos"):
        api.slow[name] = "late"
        api.unreadable.add(name)  # its replies cannot be read back: no way to tell
    async with bot(tmp_path_factory, redis_url, url, timeout_s=0.5) as client:
        await post_comment(client, "c_faq", "where do I park?", author="77201")
        await post_comment(
            client, "c_sos", "my husband is having a heart attack right now", "77202"
        )
        faq = await states(redis_url, "c_faq", 1)
        sos = await states(redis_url, "c_sos", 1)
        await asyncio.sleep(0.3)
    # A second FAQ answer would be worse for the person than a missing one: left to staff.
    assert api.to("c_faq") == ["c_faq/comments"]
    assert faq == {b"0": b"unconfirmed"}
    # A missing safety reply would be worse than two.
    assert api.to("c_sos").count("c_sos/comments") == 2
    assert sos[b"0"] == b"sent"


@pytest.mark.parametrize(
    ("kind", "safety", "resent"),
    [
        (ActionKind.HIDE, False, True),  # idempotent
        (ActionKind.PRIVATE_REPLY, False, True),  # Meta refuses a second one per comment
        (ActionKind.REPLY, False, False),
        (ActionKind.REPLY, True, True),
        (ActionKind.DIRECT, False, False),
        (ActionKind.DIRECT, True, True),
    ],
)
def test_what_is_resent_when_the_platform_cannot_tell(
    kind: ActionKind, safety: bool, resent: bool
) -> None:
    action = OutboundAction(
        kind=kind, platform="meta", target_id="c1", text="t", account_id="fb:1", safety=safety
    )
    assert resend_unconfirmed(action) is resent


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), ("0.5", 0.5), (None, None), ("Wed, 21 Oct 2026 07:28:00 GMT", None), ("-1", None)],
)
def test_retry_after_reads_seconds_only(header: str | None, seconds: float | None) -> None:
    assert retry_after(header) == seconds
