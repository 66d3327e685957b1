"""Meta end to end: signed webhooks into the real app, a local server playing the Graph API."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import create_app
from bot.appkeys import CIPHER, REDIS
from bot.settings import Settings
from escalation import keys
from escalation.cases import CaseStore
from tests.hangs import close_within

APP_SECRET = "meta-app-secret-for-tests"
VERIFY_TOKEN = "verify-me"
PAGE_ID = "104857362918273"


class GraphApi:
    """A local stand-in for graph.facebook.com that records every call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.failing: set[str] = set()  # comment ids whose calls get a 503
        self.app = web.Application()
        self.app.router.add_post("/v21.0/{path:.*}", self.handle)
        # Read-backs of an unanswered call (the outbox confirms before resending).
        self.app.router.add_get("/v21.0/{path:.*}", self.read)

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append(
            {
                "path": request.match_info["path"],
                "auth": request.headers.get("Authorization"),
                "json": await request.json(),
            }
        )
        if any(c in json.dumps(self.calls[-1]) for c in self.failing):
            return web.json_response({"error": {"message": "try later"}}, status=503)
        return web.json_response({"success": True, "id": f"out_{len(self.calls)}"})

    async def read(self, request: web.Request) -> web.Response:
        """What Graph would show of the calls recorded: replies, the hidden flag."""
        path = request.match_info["path"]
        if path.endswith("/comments"):
            posted = [c for c in self.calls if c["path"] == path]
            data = [{"from": {"id": PAGE_ID}, "message": c["json"].get("message")} for c in posted]
            return web.json_response({"data": data})
        hidden = any(c["path"] == path and c["json"].get("is_hidden") for c in self.calls)
        replied = any(
            (c["json"].get("recipient") or {}).get("comment_id") == path for c in self.calls
        )
        return web.json_response(
            {"id": path, "is_hidden": hidden, "can_reply_privately": not replied}
        )

    def to(self, comment_id: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if comment_id in c["path"] or comment_id in json.dumps(c)]


@pytest.fixture(scope="module")
async def graph() -> AsyncIterator[tuple[GraphApi, str]]:
    api = GraphApi()
    server = TestServer(api.app)
    await server.start_server()
    try:
        yield api, str(server.make_url("/v21.0"))
    finally:
        await close_within(server, "the local Graph API")


@pytest.fixture(scope="module")
async def client(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, graph: tuple[GraphApi, str]
) -> AsyncIterator[TestClient]:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("var"),
        redis_url=SecretStr(redis_url),
        meta_app_secret=SecretStr(APP_SECRET),
        meta_page_token=SecretStr("page-token"),
        meta_verify_token=SecretStr(VERIFY_TOKEN),
        meta_graph_url=graph[1],
        meta_page_id=PAGE_ID,
        workers=1,
        outbound_attempts=2,
        shutdown_grace_s=4,
    )
    # Closed before the local platform server (pytest tears fixtures down in reverse).
    test_client = TestClient(TestServer(create_app(settings)))
    await test_client.start_server()
    try:
        yield test_client
    finally:
        await close_within(test_client, "the app under its test client")


def comment(
    comment_id: str, text: str, author: str = "5532019987431276", verb: str = "add"
) -> bytes:
    body = {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": 1733413001,
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "item": "comment",
                            "verb": verb,
                            "comment_id": comment_id,
                            "post_id": f"{PAGE_ID}_42",
                            "parent_id": f"{PAGE_ID}_42",
                            "from": {"id": author, "name": "A Person"},
                            "message": text,
                            "created_time": 1733413000,
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(body).encode()


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


async def settled(graph: GraphApi, comment_id: str, count: int) -> list[dict[str, Any]]:
    """Wait (bounded) until `count` calls about a comment reached the Graph API."""
    for _ in range(200):
        calls = graph.to(comment_id)
        if len(calls) >= count:
            await asyncio.sleep(0.2)  # and give a wrongly duplicated call the chance to show
            return graph.to(comment_id)
        await asyncio.sleep(0.05)
    return graph.to(comment_id)


async def test_subscription_handshake(client: TestClient) -> None:
    ok = await client.get(
        "/webhooks/meta",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"},
    )
    assert (ok.status, await ok.text()) == (200, "42")
    wrong = await client.get(
        "/webhooks/meta",
        params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "42"},
    )
    assert wrong.status == 403


async def test_routine_comment_gets_a_public_reply(
    client: TestClient, graph: tuple[GraphApi, str]
) -> None:
    body = comment("c_routine", "where do I park for the outpatient clinic?")
    response = await client.post("/webhooks/meta", data=body, headers=signed(body))
    assert response.status == 200
    calls = await settled(graph[0], "c_routine", 1)
    assert [c["path"] for c in calls] == ["c_routine/comments"]
    assert "parking" in calls[0]["json"]["message"].lower()
    assert calls[0]["auth"] == "Bearer page-token"


async def test_phi_comment_is_hidden_acknowledged_and_invited_privately(
    client: TestClient, graph: tuple[GraphApi, str]
) -> None:
    text = "I'm Harold Finch, DOB 04/02/1960, my chemo on 4 west got cancelled again"
    # Its own author: run after the emergency test, the default one already has a case,
    # which this comment would join without a new private invite.
    body = comment("c_phi", text, author="77002")
    assert (await client.post("/webhooks/meta", data=body, headers=signed(body))).status == 200
    calls = await settled(graph[0], "c_phi", 3)
    assert [c["path"] for c in calls] == ["c_phi", "c_phi/comments", f"{PAGE_ID}/messages"]
    assert calls[0]["json"] == {"is_hidden": True}
    assert calls[2]["json"]["recipient"] == {"comment_id": "c_phi"}
    sent = json.dumps([c["json"] for c in calls]).lower()
    for part in ("harold", "finch", "04/02/1960", "chemo", "4 west"):
        assert part not in sent


async def test_emergency_comment_gets_the_safety_reply(
    client: TestClient, graph: tuple[GraphApi, str]
) -> None:
    body = comment("c_911", "my husband is having a heart attack right now")
    assert (await client.post("/webhooks/meta", data=body, headers=signed(body))).status == 200
    calls = await settled(graph[0], "c_911", 2)
    replies = [c for c in calls if c["path"] == "c_911/comments"]
    assert len(replies) == 1
    # A heart attack gets the medical text (911, nearest ER), not the crisis line.
    assert "911" in replies[0]["json"]["message"]
    assert "988" not in replies[0]["json"]["message"]


async def test_the_same_delivery_ten_times_gives_one_reply(
    client: TestClient, graph: tuple[GraphApi, str]
) -> None:
    body = comment("c_dup", "what are visiting hours?")
    answers = [
        await client.post("/webhooks/meta", data=body, headers=signed(body)) for _ in range(10)
    ]
    assert [a.status for a in answers] == [200] * 10
    assert [(await a.json())["new"] for a in answers] == [1] + [0] * 9
    calls = await settled(graph[0], "c_dup", 1)
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "application/json"}, 401),
        ({"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00"}, 403),
        ({**signed(b"{}", secret="another-secret")}, 403),
    ],
)
async def test_unsigned_or_wrongly_signed_is_refused_and_not_recorded(
    client: TestClient, redis_url: str, headers: dict[str, str], status: int
) -> None:
    body = comment("c_unsigned", "I'm Harold Finch")
    response = await client.post("/webhooks/meta", data=body, headers=headers)
    assert response.status == status
    assert "Harold" not in await response.text()
    redis = Redis.from_url(redis_url)
    assert await redis.exists(keys.seen("meta", "c_unsigned")) == 0
    await redis.aclose()


async def test_malformed_oversized_and_wrong_type_bodies_get_4xx(client: TestClient) -> None:
    bad_json = b'{"object": "page", "entry": [ Harold'
    assert (
        await client.post("/webhooks/meta", data=bad_json, headers=signed(bad_json))
    ).status == 400
    huge = b'{"object": "page", "entry": [], "pad": "' + b"x" * (300 * 1024) + b'"}'
    assert (await client.post("/webhooks/meta", data=huge, headers=signed(huge))).status == 413
    body = comment("c_type", "hello")
    headers = {**signed(body), "Content-Type": "text/plain"}
    assert (await client.post("/webhooks/meta", data=body, headers=headers)).status == 415


async def seen(redis_url: str, *message_ids: str) -> list[int]:
    redis = Redis.from_url(redis_url)
    try:
        return [await redis.exists(keys.seen("meta", m)) for m in message_ids]
    finally:
        await redis.aclose()


@pytest.mark.parametrize(
    ("comment_id", "text"),
    [
        ("c_surrogate", "it hurts \ud800 here"),
        ("c_nul", "it hurts \x00 here"),
        ("c_bom", "\ufeffhi"),
    ],
)
async def test_a_lone_surrogate_or_nul_in_the_text_is_recorded_not_a_500(
    client: TestClient, redis_url: str, comment_id: str, text: str
) -> None:
    body = comment(comment_id, text)
    assert b"\\ud800" in body or b"\\u0000" in body or b"\\ufeff" in body
    response = await client.post("/webhooks/meta", data=body, headers=signed(body))
    assert response.status == 200
    assert await response.json() == {"received": 1, "new": 1}
    assert await seen(redis_url, comment_id) == [1]


def messenger(*events: dict[str, object]) -> bytes:
    entry = {"id": PAGE_ID, "time": 1, "messaging": list(events)}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


def direct(mid: str, text: str = "what are your opening hours?") -> dict[str, object]:
    return {"sender": {"id": "5532019987431299"}, "message": {"mid": mid, "text": text}}


async def test_one_bad_entry_never_keeps_the_others_from_being_recorded(
    client: TestClient, redis_url: str
) -> None:
    good = json.loads(comment("c_mixed_good", "what time is visiting?"))
    bad_entry = {"id": "1/../me", "changes": []}
    body = json.dumps(
        {"object": "page", "entry": [bad_entry, good["entry"][0], "Harold Finch"]}
    ).encode()
    response = await client.post("/webhooks/meta", data=body, headers=signed(body))
    assert response.status == 200
    answer = await response.json()
    assert (answer["received"], answer["new"], len(answer["skipped"])) == (1, 1, 2)
    assert "Harold" not in json.dumps(answer)
    assert await seen(redis_url, "c_mixed_good") == [1]
    events = [direct("m_ok_1"), direct("m_bad_\ud800"), direct("m_bad_\x00"), direct("m_ok_2")]
    body = messenger(*events)
    response = await client.post("/webhooks/meta", data=body, headers=signed(body))
    assert response.status == 200
    assert (await response.json())["new"] == 2
    assert await seen(redis_url, "m_ok_1", "m_ok_2") == [1, 1]


@pytest.mark.parametrize("mid", ["m_\ud800", "m_\x00", "\ud800"])
async def test_a_delivery_with_only_a_bad_item_is_acknowledged_with_the_skip_named(
    client: TestClient, mid: str
) -> None:
    # A refused body would come back for hours and can never succeed: 200, nothing
    # recorded, and the item named by place and reason.
    body = messenger(direct(mid))
    response = await client.post("/webhooks/meta", data=body, headers=signed(body))
    assert response.status == 200
    answer = await response.json()
    assert answer["received"] == 0
    assert answer["new"] == 0
    assert len(answer["skipped"]) == 1
    assert "messaging[0]" in answer["skipped"][0]


async def test_failed_platform_calls_are_retried_then_shown_in_the_case(
    client: TestClient, graph: tuple[GraphApi, str]
) -> None:
    graph[0].failing.add("c_down")
    # Another author: the earlier tests' person already has a case, which this would join.
    body = comment("c_down", "my mrn is 99887766 and I need my results", author="77001")
    assert (await client.post("/webhooks/meta", data=body, headers=signed(body))).status == 200
    for _ in range(600):  # hide, reply, private reply: 2 attempts each, with backoff
        if len(graph[0].to("c_down")) >= 6:
            break
        await asyncio.sleep(0.05)
    assert len(graph[0].to("c_down")) == 6
    cases = CaseStore(client.app[REDIS], client.app[CIPHER])
    case_id = await cases.case_of_message("meta", "c_down")
    assert case_id is not None
    for _ in range(100):
        notes = await cases.notes(case_id)
        if len(notes) == 3:
            break
        await asyncio.sleep(0.05)
    assert [n.author for n in notes] == ["triagebot"] * 3
    assert all("status 503, 2 attempts" in n.text for n in notes)


# --- edits -----------------------------------------------------------------------------


async def post_meta(client: TestClient, body: bytes) -> dict[str, Any]:
    response = await client.post("/webhooks/meta", data=body, headers=signed(body))
    assert response.status == 200
    answer: dict[str, Any] = await response.json()
    return answer


async def drained(client: TestClient, graph: GraphApi, marker: str) -> None:
    """Wait until what was posted before is handled: the one worker takes receipts in
    order, so once a later comment is answered, everything before it is done."""
    await post_meta(client, comment(marker, "where do I park?", f"9{len(graph.calls)}"))
    assert len(await settled(graph, marker, 1)) == 1


async def test_comment_edited_to_carry_phi_is_hidden_and_escalated_once(
    client: TestClient, graph: tuple[GraphApi, str]
) -> None:
    author = "77010"  # a person of their own: no earlier case to join
    assert (await post_meta(client, comment("c_edit", "Visiting hours?", author)))["new"] == 1
    [faq] = await settled(graph[0], "c_edit", 1)
    assert faq["path"] == "c_edit/comments"
    assert "visiting" in faq["json"]["message"].lower()
    text = "my husband Tom Reyes, DOB 4/2/61, was moved to ICU, visiting hours?"
    edit = comment("c_edit", text, author, verb="edited")
    assert (await post_meta(client, edit))["new"] == 1
    calls = await settled(graph[0], "c_edit", 4)
    assert [c["path"] for c in calls[1:]] == ["c_edit", "c_edit/comments", f"{PAGE_ID}/messages"]
    assert calls[1]["json"] == {"is_hidden": True}
    assert calls[3]["json"]["recipient"] == {"comment_id": "c_edit"}
    sent = json.dumps([c["json"] for c in calls]).lower()
    for part in ("tom", "reyes", "4/2/61", "husband"):
        assert part not in sent
    cases = CaseStore(client.app[REDIS], client.app[CIPHER])
    case_id = await cases.case_of_person("meta", author)
    assert case_id is not None
    [opening] = await cases.thread(case_id)
    assert (opening.text, opening.edited) == (text, True)
    # The same edit redelivered, and an edit back to a text already triaged: nothing new.
    assert (await post_meta(client, edit))["new"] == 0
    assert (await post_meta(client, comment("c_edit", "Visiting hours?", author, "edited"))) == {
        "received": 1,
        "new": 0,
    }
    await drained(client, graph[0], "c_after_edit")
    assert len(graph[0].to("c_edit")) == 4


async def test_an_edit_that_changes_nothing_triaged_gets_no_second_reply(
    client: TestClient, graph: tuple[GraphApi, str]
) -> None:
    author = "77011"
    await post_meta(client, comment("c_typo", "where do I park?", author))
    assert len(await settled(graph[0], "c_typo", 1)) == 1
    edit = comment("c_typo", "where do I park??", author, verb="edited")
    assert (await post_meta(client, edit))["new"] == 1
    await drained(client, graph[0], "c_after_typo")
    assert len(graph[0].to("c_typo")) == 1


async def test_an_original_delivered_after_its_edit_gets_no_second_reply(
    client: TestClient, graph: tuple[GraphApi, str]
) -> None:
    # Deliveries are not ordered: the edit, answered first, is the comment's latest text.
    author = "77012"
    edit = comment("c_late", "what are visiting hours on sunday?", author, verb="edited")
    await post_meta(client, edit)
    assert len(await settled(graph[0], "c_late", 1)) == 1
    assert (await post_meta(client, comment("c_late", "visiting hours?", author)))["new"] == 1
    await drained(client, graph[0], "c_after_late")
    assert len(graph[0].to("c_late")) == 1


async def test_an_edited_message_joins_its_open_case_marked_as_edited(
    client: TestClient, graph: tuple[GraphApi, str]
) -> None:
    sender = "5532019987431311"
    first = {"sender": {"id": sender}, "message": {"mid": "m_edit_1", "text": "my mrn is 99001122"}}
    await post_meta(client, messenger(first))
    invites = [c for c in await settled(graph[0], sender, 1) if c["path"] == f"{PAGE_ID}/messages"]
    assert len(invites) == 1
    text = "my mrn is 99001122 and my biopsy results are late"
    edit = {"sender": {"id": sender}, "message_edit": {"mid": "m_edit_1", "text": text}}
    assert (await post_meta(client, messenger(edit)))["new"] == 1
    cases = CaseStore(client.app[REDIS], client.app[CIPHER])
    case_id = await cases.case_of_message("meta", "m_edit_1")
    assert case_id is not None
    for _ in range(100):
        thread = await cases.thread(case_id)
        if len(thread) == 2:
            break
        await asyncio.sleep(0.05)
    assert [(m.text, m.edited) for m in thread] == [("my mrn is 99001122", False), (text, True)]
    # Staff hold the conversation: the edit is theirs to answer, the bot sends nothing more.
    await drained(client, graph[0], "c_after_dm_edit")
    assert len(graph[0].to(sender)) == 1
