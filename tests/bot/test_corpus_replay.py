"""Every fixture delivery, replayed end to end: unsigned, badly signed, signed, and twice.

The corpus is bot/connectors/fixtures/ (sources in the README beside each folder). One app
serves both platforms, against local servers that play the Graph API and X's API. Measured:
no delivery refused for one bad item, every item either recorded or counted (ignored by
kind, or skipped by reason), no call about the accounts' own content, no second call.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import create_app
from bot.appkeys import METRICS
from bot.settings import Settings
from escalation import keys
from nlu.faq import DEMO_CONTENT_DIR, load_faq
from tests.hangs import close_within

FIXTURES = Path(__file__).resolve().parents[2] / "bot" / "connectors" / "fixtures"
META_SECRET = "meta-app-secret-for-corpus"
X_SECRET = "x-consumer-secret-for-corpus"
PAGE_ID = "104857362918273"
IG_ID = "17841405822304914"
X_ACCOUNT = "1500000000000000001"
# What the local Graph API says the mentioned comments and captions are.
MENTIONED = {
    "17890455612398765": {"text": "@riverside where do visitors park?", "username": "rosa.m"},
    "17890455612391111": {
        "text": "@riverside my mom Ana Ruiz DOB 3/14/1950 was just told she has cancer, why?",
        "username": "leo.r",
    },
}
CAPTIONED = {"18027766554433221": {"caption": "Thank you @riverside nurses!", "username": "k.j"}}
CORPUS = sorted(
    [*FIXTURES.glob("meta/*.json"), *FIXTURES.glob("x/*.json"), *FIXTURES.glob("x/xaa/*.json")]
)


class Platforms:
    """A local Graph API and X API that record every call and answer mention fetches."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fetches: list[str] = []
        self.flaky: dict[str, int] = {}  # comment id -> how many more reads get a 503
        self.app = web.Application()
        self.app.router.add_route("*", "/{api}/{path:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        if request.method == "GET" and request.match_info["api"] == "graph":
            return self.mentioned(request.query.get("fields", ""))
        payload = await request.json() if request.can_read_body else None
        self.calls.append(
            {"api": request.match_info["api"], "path": request.match_info["path"], "json": payload}
        )
        return web.json_response({"data": {"id": "1897000000000009999"}, "id": "out"})

    def mentioned(self, fields: str) -> web.Response:
        self.fetches.append(fields)
        for comment_id, found in MENTIONED.items():
            if f"comment_id({comment_id})" in fields:
                if self.flaky.get(comment_id, 0) > 0:
                    self.flaky[comment_id] -= 1
                    return web.json_response(
                        {"error": {"code": 2, "is_transient": True}}, status=503
                    )
                return web.json_response({"mentioned_comment": {"id": comment_id, **found}})
        for media_id, found in CAPTIONED.items():
            if f"media_id({media_id})" in fields:
                return web.json_response({"mentioned_media": {"id": media_id, **found}})
        return web.json_response({"error": {"code": 100, "message": "gone"}}, status=400)

    def about(self, needle: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if needle in json.dumps(c)]


@pytest.fixture(scope="module")
async def platforms() -> AsyncIterator[tuple[Platforms, str]]:
    api = Platforms()
    server = TestServer(api.app)
    await server.start_server()
    try:
        yield api, str(server.make_url(""))
    finally:
        await close_within(server, "the local platform APIs")


@pytest.fixture(scope="module")
async def client(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, platforms: tuple[Platforms, str]
) -> AsyncIterator[TestClient]:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    base = platforms[1].rstrip("/")
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("var"),
        redis_url=SecretStr(redis_url),
        meta_app_secret=SecretStr(META_SECRET),
        meta_page_token=SecretStr("page-token"),
        meta_graph_url=f"{base}/graph",
        meta_page_id=PAGE_ID,
        x_consumer_secret=SecretStr(X_SECRET),
        x_bearer_token=SecretStr("bearer"),
        x_api_url=f"{base}/x",
        x_account_id=X_ACCOUNT,
        workers=1,
        # A mention Graph cannot read now is tried again after the lease.
        worker_lease_s=1.0,
        outbound_attempts=2,
        shutdown_grace_s=4,
    )
    test_client = TestClient(TestServer(create_app(settings)))
    await test_client.start_server()
    try:
        yield test_client
    finally:
        await close_within(test_client, "the app under its test client")


def platform_of(path: Path) -> str:
    return "meta" if path.parent.name == "meta" else "x"


def signed(platform: str, body: bytes, secret: str | None = None) -> dict[str, str]:
    if platform == "meta":
        digest = hmac.new((secret or META_SECRET).encode(), body, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}
    raw = hmac.new((secret or X_SECRET).encode(), body, hashlib.sha256).digest()
    signature = f"sha256={base64.b64encode(raw).decode()}"
    return {"x-twitter-webhooks-signature": signature, "Content-Type": "application/json"}


def items_in(platform: str, body: dict[str, Any]) -> int:
    """How many items a delivery holds, each of which must be recorded or counted."""
    if platform == "meta":
        return sum(len(e.get("changes", [])) + len(e.get("messaging", [])) for e in body["entry"])
    if "data" in body or "event_type" in body:
        return 1  # one XAA event (a DM event may hold several DMs, each counted)
    lists = sum(len(v) for k, v in body.items() if k.endswith("_events") and isinstance(v, list))
    return lists + ("user_event" in body)


def own_ids(platform: str, body: dict[str, Any]) -> set[str]:
    """Ids of what the accounts wrote themselves in a delivery: never to be answered."""
    found: set[str] = set()
    if platform == "meta":
        for entry in body["entry"]:
            for change in entry.get("changes", []):
                value = change.get("value", {})
                if value.get("from", {}).get("id") == entry["id"]:
                    found.update(str(value[k]) for k in ("comment_id", "post_id") if k in value)
            for event in entry.get("messaging", []):
                message = event.get("message", {})
                if message.get("is_echo") or event.get("sender", {}).get("id") == entry["id"]:
                    found.add(message.get("mid", ""))
        return found - {""}
    for tweet in body.get("tweet_create_events", []):
        if tweet.get("user", {}).get("id_str") == body.get("for_user_id"):
            found.add(tweet["id_str"])
    for dm in body.get("direct_message_events", []):
        if dm.get("message_create", {}).get("sender_id") == body.get("for_user_id"):
            found.add(dm["id"])
    event = body.get("data", body)
    if event.get("event_type") in ("post.create", "dm.sent"):
        payload = event.get("payload", {})
        found.update(str(payload[k]) for k in ("id", "dm_event_id") if k in payload)
    return found


def ignored_total(client: TestClient) -> float:
    registry = client.server.app[METRICS].registry
    return sum(
        sample.value
        for family in registry.collect()
        if family.name == "triage_webhook_items_ignored"
        for sample in family.samples
        if sample.name.endswith("_total")
    )


async def quiet(platforms: Platforms, redis: Redis) -> list[dict[str, Any]]:
    """The calls made once the inbox is drained and no call came for a while (bounded)."""
    seen = -1
    for _ in range(300):
        pending = await redis.xlen(keys.INBOX)
        if pending == 0 and len(platforms.calls) == seen:
            return list(platforms.calls)
        seen = len(platforms.calls)
        await asyncio.sleep(0.2)
    return list(platforms.calls)


@pytest.fixture(scope="module")
async def replayed(
    client: TestClient, platforms: tuple[Platforms, str], redis_url: str
) -> dict[str, Any]:
    """Replay the whole corpus (each file unsigned, badly signed, signed, then signed again)."""
    api = platforms[0]
    outcome: dict[str, Any] = {"statuses": {}, "unaccounted": {}, "own": set(), "new_again": {}}
    for path in CORPUS:
        platform, body = platform_of(path), path.read_bytes()
        url = f"/webhooks/{platform}"
        unsigned = await client.post(url, data=body, headers={"Content-Type": "application/json"})
        forged = await client.post(url, data=body, headers=signed(platform, body, "not-the-secret"))
        before = ignored_total(client)
        answer = await client.post(url, data=body, headers=signed(platform, body))
        got = await answer.json()
        counted = got["received"] + len(got.get("skipped", [])) + ignored_total(client) - before
        parsed = json.loads(body)
        if counted < items_in(platform, parsed):
            outcome["unaccounted"][path.name] = (counted, items_in(platform, parsed))
        outcome["own"] |= own_ids(platform, parsed)
        outcome["statuses"][path.name] = (unsigned.status, forged.status, answer.status)
    redis = Redis.from_url(redis_url)
    try:
        outcome["first"] = await quiet(api, redis)
        for path in CORPUS:
            platform, body = platform_of(path), path.read_bytes()
            headers = signed(platform, body)
            again = await client.post(f"/webhooks/{platform}", data=body, headers=headers)
            outcome["new_again"][path.name] = (again.status, (await again.json())["new"])
        outcome["second"] = await quiet(api, redis)
    finally:
        await redis.aclose()
    return outcome


def test_the_corpus_covers_every_kind() -> None:
    names = {p.name for p in CORPUS}
    for expected in (
        "feed_comment.json",
        "messenger_message_edit.json",
        "messenger_postback_get_started.json",
        "messenger_quick_reply.json",
        "messenger_referral.json",
        "instagram_mention_comment.json",
        "messenger_receipts_reactions.json",
        "feed_removals_reactions.json",
        "post_mention_create.json",
        "dm_received.json",
        "post_delete.json",
    ):
        assert expected in names


async def test_unsigned_is_401_badly_signed_403_and_signed_200_for_every_delivery(
    replayed: dict[str, Any],
) -> None:
    assert {name: s for name, s in replayed["statuses"].items() if s != (401, 403, 200)} == {}


async def test_every_item_is_recorded_or_counted(replayed: dict[str, Any]) -> None:
    assert replayed["unaccounted"] == {}


async def test_a_second_replay_records_nothing_and_sends_nothing(replayed: dict[str, Any]) -> None:
    assert {n: a for n, a in replayed["new_again"].items() if a != (200, 0)} == {}
    assert replayed["second"] == replayed["first"]


async def test_nothing_is_sent_about_the_accounts_own_content(replayed: dict[str, Any]) -> None:
    assert replayed["own"]  # the corpus has echoes and posts of ours
    sent = json.dumps(replayed["first"])
    assert [own for own in replayed["own"] if own in sent] == []


def dms_to(calls: list[dict[str, Any]], recipient: str) -> list[str]:
    return [
        c["json"]["message"]["text"]
        for c in calls
        if c["path"] == f"{PAGE_ID}/messages" and c["json"]["recipient"] == {"id": recipient}
    ]


async def test_get_started_and_a_plain_link_get_the_welcome(replayed: dict[str, Any]) -> None:
    welcome = load_faq(DEMO_CONTENT_DIR).welcome["en"]
    assert dms_to(replayed["first"], "7301842265190011") == [welcome]
    assert dms_to(replayed["first"], "2290417765503318") == [welcome]


async def test_buttons_naming_an_faq_get_its_answer_in_the_language_they_name(
    replayed: dict[str, Any],
) -> None:
    content = load_faq(DEMO_CONTENT_DIR)
    calls = replayed["first"]
    assert dms_to(calls, "7301842265190012") == [content.intents["parking"].answer]
    spanish = content.intents["visiting_hours"].translations["es"]
    assert dms_to(calls, "7301842265190014") == [spanish]
    assert dms_to(calls, "7301842265190015") == [content.intents["directions"].answer]


async def test_an_unknown_payload_is_triaged_by_its_title(replayed: dict[str, Any]) -> None:
    # "Talk to a nurse" is not an FAQ: the person gets an answer all the same.
    assert len(dms_to(replayed["first"], "7301842265190013")) == 1


async def test_mentions_are_answered_through_the_mentions_edge(replayed: dict[str, Any]) -> None:
    content = load_faq(DEMO_CONTENT_DIR)
    mentions = [c for c in replayed["first"] if c["path"] == f"{IG_ID}/mentions"]
    routine = [c["json"] for c in mentions if c["json"].get("comment_id") == "17890455612398765"]
    assert routine == [
        {
            "media_id": "18011257736543210",
            "comment_id": "17890455612398765",
            "message": content.intents["parking"].answer,
        }
    ]


async def test_a_mention_carrying_phi_gets_no_public_answer_and_a_case(
    replayed: dict[str, Any], redis_url: str
) -> None:
    assert [c for c in replayed["first"] if "17890455612391111" in json.dumps(c)] == []
    sent = json.dumps(replayed["first"]).lower()
    assert "ana ruiz" not in sent
    assert "cancer" not in sent
    redis = Redis.from_url(redis_url)
    try:
        assert await redis.get(keys.case_for_message("meta", "17890455612391111")) is not None
    finally:
        await redis.aclose()


async def test_every_public_message_gets_at_most_one_reply(replayed: dict[str, Any]) -> None:
    # The corpus holds a comment's edit (batch.json) before its original (feed_comment.json):
    # the original, coming late, says nothing new.
    replies = [
        c["path"].rsplit("/", 1)[0]
        for c in replayed["first"]
        if c["path"].endswith(("/comments", "/replies"))
    ]
    replies += [
        c["json"].get("comment_id", c["json"]["media_id"])
        for c in replayed["first"]
        if c["path"].endswith("/mentions")
    ]
    replies += [
        c["json"]["reply"]["in_reply_to_tweet_id"]
        for c in replayed["first"]
        if c["api"] == "x" and c["path"] == "tweets"
    ]
    assert sorted(replies) == sorted(set(replies))


def mention(comment_id: str) -> bytes:
    body = json.loads((FIXTURES / "meta" / "instagram_mention_comment.json").read_text())
    body["entry"][0]["changes"][0]["value"]["comment_id"] = comment_id
    return json.dumps(body).encode()


async def until(check: Any, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)


async def test_a_mention_graph_cannot_read_now_is_read_again_after_the_lease(
    client: TestClient, platforms: tuple[Platforms, str], replayed: dict[str, Any]
) -> None:
    api, comment_id = platforms[0], "17890455612392222"
    MENTIONED[comment_id] = {"text": "@riverside what are the visiting hours?", "username": "t.o"}
    api.flaky[comment_id] = 2
    body = mention(comment_id)
    answer = await client.post("/webhooks/meta", data=body, headers=signed("meta", body))
    assert (await answer.json())["new"] == 1
    await until(lambda: api.about(comment_id))
    await asyncio.sleep(0.5)  # room for a wrong second answer
    assert len(api.about(comment_id)) == 1
    assert len([f for f in api.fetches if comment_id in f]) == 3


async def test_a_mention_that_is_gone_is_counted_and_not_answered(
    client: TestClient, platforms: tuple[Platforms, str], replayed: dict[str, Any]
) -> None:
    api, comment_id = platforms[0], "17890455612393333"  # Graph answers 400 for it
    registry = client.server.app[METRICS].registry
    labels = {"platform": "meta", "kind": "fetch_empty"}
    before = registry.get_sample_value("triage_webhook_items_ignored_total", labels) or 0
    body = mention(comment_id)
    assert (await client.post("/webhooks/meta", data=body, headers=signed("meta", body))).ok

    def counted() -> bool:
        now = registry.get_sample_value("triage_webhook_items_ignored_total", labels) or 0
        return now > before

    await until(counted)
    assert counted()
    assert api.about(comment_id) == []


async def test_one_bad_item_costs_only_itself(client: TestClient, replayed: dict[str, Any]) -> None:
    for name, platform in (
        ("meta/instagram_comments_one_without_from.json", "meta"),
        ("x/batch_one_bad.json", "x"),
    ):
        body = (FIXTURES / name).read_bytes()
        answer = await client.post(
            f"/webhooks/{platform}", data=body, headers=signed(platform, body)
        )
        got = await answer.json()
        assert answer.status == 200
        assert got["received"] == 1
        assert len(got["skipped"]) == 1
