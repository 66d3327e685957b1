"""The FAQ staff API through real HTTP on create_app(settings), with a real Redis."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from redis.asyncio import Redis

from bot import faq_evaluator
from bot.appkeys import AUDIT, STAFF
from escalation import keys
from tests.bot.web.staff_app import API_TOKEN, PASSWORD, app_client

API = {"Authorization": f"Bearer {API_TOKEN}"}
NEW_PARKING = "Parking is free in Garage C from today. Enter from Elm Street."
PARKING_QUESTION = "where can i park my car?"
PHI_ANSWER = "Patient Harold Finch (MRN 4481234) asked us to say: parking is in Garage B."
# The live version is followed by polling (bot.faq_live.POLL_S) plus a retrain.
SWITCH_DEADLINE_S = 30.0
EVALUATION_DEADLINE_S = 180.0


async def clear_faq(redis_url: str) -> None:
    """Drop every FAQ key, so the app seeds the demo content afresh."""
    client: Redis = Redis.from_url(redis_url)
    try:
        prefix = keys.FAQ_LIVE.rsplit(":", 1)[0]
        found = [k async for k in client.scan_iter(match=f"{prefix}:*")]
        if found:
            await client.delete(*found)
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
async def client(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[TestClient]:
    settings = {"api_token": SecretStr(API_TOKEN), "cookie_secure": False}
    await clear_faq(redis_url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(faq_evaluator, "EVAL_FOLDS", 2)  # the full five folds take ~20 s a version
        async with app_client(tmp_path_factory, redis_url, **settings) as test_client:
            yield test_client
    await clear_faq(redis_url)


async def headers_for(client: TestClient, role: str) -> tuple[str, dict[str, str]]:
    name = f"{role.replace('_', '')}{secrets.token_hex(3)}"
    await client.app[STAFF].add(name, role, PASSWORD)
    response = await client.post("/v1/auth/token", json={"username": name, "password": PASSWORD})
    assert response.status == 200, await response.text()
    return name, {"Authorization": f"Bearer {(await response.json())['token']}"}


async def live_answer(client: TestClient, key: str = "parking") -> str:
    _, compliance = await headers_for(client, "compliance")
    response = await client.get("/v1/faq", headers=compliance)
    assert response.status == 200
    return str((await response.json())["intents"][key]["answer"])


async def ask(client: TestClient, text: str = PARKING_QUESTION) -> dict[str, Any]:
    body = {"message_id": secrets.token_hex(6), "author_id": "u1", "text": text}
    response = await client.post("/v1/messages", json=body, headers=API)
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def answered(client: TestClient, reply: str, version: str) -> dict[str, Any]:
    """The first decision with this reply and version, polled until a deadline."""
    deadline = time.monotonic() + SWITCH_DEADLINE_S
    while True:
        decision = await ask(client)
        if decision["reply"] == reply and decision["faq_version"] == version:
            return decision
        assert time.monotonic() < deadline, decision
        await asyncio.sleep(0.2)


async def evaluated(client: TestClient, headers: dict[str, str], draft_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + EVALUATION_DEADLINE_S
    while True:
        response = await client.get(f"/v1/faq/drafts/{draft_id}", headers=headers)
        assert response.status == 200
        evaluation = (await response.json())["draft"]["evaluation"]
        assert evaluation is not None
        assert evaluation["stage"] != "failed", evaluation
        if evaluation["stage"] == "done":
            return dict(evaluation)
        assert time.monotonic() < deadline, evaluation
        await asyncio.sleep(0.5)


async def propose(client: TestClient, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/faq/drafts", json={"reason": "test", **changes}, headers=headers
    )
    assert response.status == 201, await response.text()
    return dict((await response.json())["draft"])


async def test_agents_and_strangers_get_nothing(client: TestClient) -> None:
    _, agent = await headers_for(client, "agent")
    calls = [
        ("GET", "/v1/faq", None),
        ("GET", "/v1/faq/drafts", None),
        ("POST", "/v1/faq/drafts", {"reason": "x", "answers": {"parking": "x"}}),
        ("GET", "/v1/faq/drafts/abc123", None),
        ("POST", "/v1/faq/drafts/abc123/approve", None),
        ("POST", "/v1/faq/drafts/abc123/reject", None),
        ("POST", "/v1/faq/rollback", None),
        ("PUT", "/v1/faq/notice", {"text": "x", "ttl_s": 60}),
        ("DELETE", "/v1/faq/notice", None),
    ]
    for method, path, body in calls:
        response = await client.request(method, path, json=body, headers=agent)
        assert response.status == 403, (method, path)
        assert (await client.request(method, path, json=body)).status == 401, (method, path)


async def test_editors_propose_and_compliance_decides(client: TestClient) -> None:
    _, editor = await headers_for(client, "faq_editor")
    _, compliance = await headers_for(client, "compliance")
    forbidden = await client.post("/v1/faq/rollback", headers=editor)
    assert forbidden.status == 403
    refused = await client.post(
        "/v1/faq/drafts", json={"answers": {"parking": "x"}}, headers=compliance
    )
    assert refused.status == 403


async def test_approved_answer_goes_live_and_rollback_restores_it(client: TestClient) -> None:
    editor_name, editor = await headers_for(client, "faq_editor")
    compliance_name, compliance = await headers_for(client, "compliance")
    before = await live_answer(client)
    old_version = (await ask(client))["faq_version"]

    draft = await propose(client, editor, answers={"parking": NEW_PARKING})
    assert draft["status"] == "pending"
    assert draft["changes"]["answers"] == {"parking": NEW_PARKING}
    assert await live_answer(client) == before  # a draft is not live

    own = await client.post(f"/v1/faq/drafts/{draft['id']}/approve", headers=editor)
    assert own.status == 403

    approved = await client.post(f"/v1/faq/drafts/{draft['id']}/approve", headers=compliance)
    assert approved.status == 200, await approved.text()
    version = (await approved.json())["version"]
    assert version == draft["version"] != old_version
    assert await live_answer(client) == NEW_PARKING
    await answered(client, NEW_PARKING, version)

    again = await client.post(f"/v1/faq/drafts/{draft['id']}/approve", headers=compliance)
    assert again.status == 409

    rolled = await client.post("/v1/faq/rollback", headers=compliance)
    assert rolled.status == 200
    assert (await rolled.json())["version"] == old_version
    assert await live_answer(client) == before
    await answered(client, before, old_version)

    history = (await (await client.get("/v1/faq", headers=editor)).json())["history"]
    assert [h["action"] for h in history[:2]] == ["rollback", "approve"]
    changes = [
        (e.actor, e.action, e.detail)
        async for e in client.app[AUDIT].entries()
        if e.action in ("faq_change", "faq_approve")
    ]
    assert (editor_name, "faq_change", f"draft={draft['id']} proposed") in changes
    assert (
        compliance_name,
        "faq_approve",
        f"draft={draft['id']} approved version={version}",
    ) in changes
    assert (compliance_name, "faq_change", f"rollback version={old_version}") in changes


async def test_draft_evaluation_reaches_done_with_both_scores(client: TestClient) -> None:
    _, editor = await headers_for(client, "faq_editor")
    draft = await propose(
        client, editor, add_examples={"parking": ["is there a car park for visitors"]}
    )
    assert draft["evaluation"]["stage"] == "queued"
    evaluation = await evaluated(client, editor, draft["id"])
    assert evaluation["progress"] == 1.0
    for name in ("draft", "live"):
        assert 0.0 <= evaluation[name]["held_out_accuracy"] <= 1.0
        assert evaluation[name]["examples"] > 0
    assert evaluation["draft"]["examples"] == evaluation["live"]["examples"] + 1
    assert not [f for f in evaluation["flags"] if "looks like it contains" in f]


async def test_a_draft_answer_naming_a_patient_is_flagged(client: TestClient) -> None:
    _, editor = await headers_for(client, "faq_editor")
    draft = await propose(client, editor, answers={"parking": PHI_ANSWER})
    evaluation = await evaluated(client, editor, draft["id"])
    flags = [f for f in evaluation["flags"] if f.startswith("answer for parking:")]
    assert "answer for parking: looks like it contains PERSON" in flags
    assert all("Harold" not in f and "4481234" not in f for f in evaluation["flags"])


async def test_invalid_drafts_get_422(client: TestClient) -> None:
    _, editor = await headers_for(client, "faq_editor")
    for body in (
        {"answers": {"parking": "x"}},  # no reason
        {"reason": "x", "answers": {"no_such_intent": "hello"}},
        {"reason": "x", "answers": {"parking": ""}},
        {"reason": "x", "answers": {"Bad Key!": "hello"}},
        {"reason": "x", "new_intents": {"parking": {"answer": "dup", "examples": ["a b"]}}},
        {"reason": "x", "surprise": 1},
        {
            "reason": "x",
            "schedules": [{"intent": "parking", "answer": "a", "starts_at": 2, "ends_at": 1}],
        },
    ):
        response = await client.post("/v1/faq/drafts", json=body, headers=editor)
        assert response.status == 422, (body, await response.text())
        assert "error" in await response.json()


async def test_drafts_list_filters_by_status_and_reject_is_audited(client: TestClient) -> None:
    _, editor = await headers_for(client, "faq_editor")
    compliance_name, compliance = await headers_for(client, "compliance")
    draft = await propose(client, editor, add_examples={"parking": ["garage for my van?"]})
    pending = await (await client.get("/v1/faq/drafts?status=pending", headers=editor)).json()
    assert draft["id"] in [d["id"] for d in pending["drafts"]]
    rejected = await client.post(f"/v1/faq/drafts/{draft['id']}/reject", headers=compliance)
    assert rejected.status == 200
    assert (await rejected.json())["draft"]["status"] == "rejected"
    listed = await (await client.get("/v1/faq/drafts?status=rejected", headers=editor)).json()
    assert draft["id"] in [d["id"] for d in listed["drafts"]]
    bad = await client.get("/v1/faq/drafts?status=maybe", headers=editor)
    assert bad.status == 400
    audited = [e.detail async for e in client.app[AUDIT].entries(actor=compliance_name)]
    assert f"draft={draft['id']} rejected" in audited


async def test_notice_is_published_and_withdrawn(client: TestClient) -> None:
    _, compliance = await headers_for(client, "compliance")
    _, editor = await headers_for(client, "faq_editor")
    text = "Our ER is on diversion today; please go to St. Mary's."
    assert (
        await client.put("/v1/faq/notice", json={"text": text, "ttl_s": 600}, headers=editor)
    ).status == 403
    put = await client.put("/v1/faq/notice", json={"text": text, "ttl_s": 600}, headers=compliance)
    assert put.status == 200
    assert (await (await client.get("/v1/faq", headers=editor)).json())["notice"]["text"] == text
    bad = await client.put("/v1/faq/notice", json={"text": text, "ttl_s": 0}, headers=compliance)
    assert bad.status == 422
    assert (await client.delete("/v1/faq/notice", headers=compliance)).status == 200
    assert (await (await client.get("/v1/faq", headers=editor)).json())["notice"] is None
