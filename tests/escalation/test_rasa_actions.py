"""The rasa-sdk action server on a real port: a PHI message handed off becomes a queued case."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession
from redis.asyncio import Redis

from escalation.cases import CaseStore
from escalation.crypto import Cipher, new_key_spec
from escalation.handover import Handover
from escalation.private import PrivateLinks
from escalation.rasa_actions import create_action_server
from nlu.engine import TriageEngine
from nlu.templates import ESCALATION_ACK

PHI = "My son Daniel Kim, DOB 03/14/2011, has a fever of 104, what should I give him?"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def _call(action: str, text: str) -> dict[str, object]:
    return {
        "next_action": action,
        "sender_id": "rasa-user-1",
        "tracker": {
            "sender_id": "rasa-user-1",
            "slots": {},
            "latest_message": {"text": text, "message_id": "m-42", "intent": {}, "entities": []},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": {},
        "version": "3.21.0",  # same minor as rasa-sdk, or it warns,
    }


async def test_phi_handoff_opens_a_case_in_the_queue(engine: TriageEngine, redis: Redis) -> None:
    cases = CaseStore(redis, Cipher.from_spec(new_key_spec()))
    handover = Handover(
        cases, PrivateLinks(redis, ttl_s=60, guesses_per_min=3), "https://c.example"
    )
    app = create_action_server(engine, handover)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    assert server is not None
    await server.startup()
    try:
        async with ClientSession() as http:
            url = f"http://127.0.0.1:{port}/webhook"
            async with http.post(url, json=_call("action_triage_screen", PHI)) as response:
                assert response.status == 200
                screened = await response.json()
            async with http.post(url, json=_call("action_triage_handoff", PHI)) as response:
                assert response.status == 200
                handed = await response.json()
    finally:
        await server.close()
    slots = {e["name"]: e["value"] for e in screened["events"] if e["event"] == "slot"}
    assert slots["triage_safe_to_answer"] is False
    assert slots["triage_action"] in {"escalate", "emergency"}
    case_id = next(e["value"] for e in handed["events"] if e["name"] == "triage_case_id")
    texts = [r["text"] for r in handed["responses"]]
    assert texts[0] == ESCALATION_ACK
    assert texts[1].startswith("You can also write to us")
    assert "https://c.example/p/" in texts[1]
    assert "Daniel" not in repr(screened) + repr(handed)
    case = await cases.get(case_id)
    assert case.status == "new"
    assert await cases.queue_length() >= 1
    assert (await cases.source(case_id)).text == PHI
