"""Handover from triage to the human queue, and staff alerts, on a real Redis and real HTTP."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from bot.notify import Notifier
from escalation.cases import CaseStore, Source
from escalation.crypto import Cipher, new_key_spec
from escalation.handover import Handover, Routed
from escalation.private import PrivateLinks, TooManyGuesses
from nlu.models import Decision

CIPHER = Cipher.from_spec(new_key_spec())


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


class ChatHook:
    """A local server playing a Slack/Teams incoming webhook."""

    def __init__(self) -> None:
        self.received: list[dict[str, object]] = []
        app = web.Application()
        app.router.add_post("/hook", self.hook)
        self.server = TestServer(app)

    async def hook(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        return web.Response(text="ok")


def message(n: int, kind: str, text: str, author: str = "p1") -> Source:
    return Source(channel="meta", message_id=f"m{n}", kind=kind, author_id=author, text=text)


def decision(action: str, priority: str | None = None) -> Decision:
    return Decision.model_validate(
        {"id": "x", "action": action, "priority": priority, "reasons": ["health_info"]}
    )


async def test_escalation_opens_a_case_and_invites_with_a_working_link(redis: Redis) -> None:
    links = PrivateLinks(redis, ttl_s=60, guesses_per_min=3)
    handover = Handover(CaseStore(redis, CIPHER), links, "https://care.example.org")
    routed = await handover.route(
        message(1, "comment", "my son Tyler has a fever"), decision("escalate", "high")
    )
    invite = routed.invite
    assert invite is not None
    assert not routed.quiet
    assert "Tyler" not in invite
    assert "fever" not in invite
    token = invite.rsplit("/p/", 1)[1]
    [case] = await handover.cases.by_status("new")
    assert await links.case_for(token, "203.0.113.9") == case.id


async def test_staff_keep_a_private_conversation_until_they_hand_it_back(redis: Redis) -> None:
    cases = CaseStore(redis, CIPHER)
    handover = Handover(cases, PrivateLinks(redis, ttl_s=60, guesses_per_min=3), "https://x")
    await handover.route(
        message(1, "direct", "my MRN is 4455667, results?"), decision("escalate", "high")
    )
    [case] = await cases.by_status("new")
    # A routine question in the same private conversation goes to staff, not the bot.
    routed = await handover.route(message(2, "direct", "also where do I park?"), decision("reply"))
    assert (routed.case_id, routed.invite, routed.quiet) == (case.id, None, True)
    assert len(await cases.thread(case.id)) == 2
    await cases.resolve(case.id, "ana", hand_back=True)
    routed = await handover.route(message(3, "direct", "and visiting hours?"), decision("reply"))
    assert routed == Routed()
    assert len(await cases.thread(case.id)) == 2


async def test_private_link_guessing_is_limited(redis: Redis) -> None:
    links = PrivateLinks(redis, ttl_s=60, guesses_per_min=3)
    token = await links.issue("case1")
    for n in range(3):
        assert await links.case_for(f"wrong-token-guess-number-{n}", "198.51.100.7") is None
    with pytest.raises(TooManyGuesses):
        await links.case_for(token, "198.51.100.7")
    assert await links.case_for(token, "198.51.100.8") == "case1"  # other clients unaffected


async def test_concurrent_guesses_get_no_more_lookups_than_the_limit(redis: Redis) -> None:
    links = PrivateLinks(redis, ttl_s=60, guesses_per_min=3, clock=lambda: 600.0)
    token = await links.issue("case1")
    client = f"198.51.100.{secrets.randbelow(200)}"
    burst = [links.case_for(f"wrong-token-guess-number-{n}", client) for n in range(50)]
    outcomes = await asyncio.gather(*burst, return_exceptions=True)
    assert outcomes.count(None) == 3
    assert all(isinstance(o, TooManyGuesses) for o in outcomes if o is not None)
    with pytest.raises(TooManyGuesses):
        await links.case_for(token, client)


async def test_a_found_link_does_not_count_as_a_guess(redis: Redis) -> None:
    links = PrivateLinks(redis, ttl_s=60, guesses_per_min=3, clock=lambda: 1200.0)
    token = await links.issue("case1")
    client = f"198.51.100.{secrets.randbelow(200)}"
    for _ in range(10):
        assert await links.case_for(token, client) == "case1"


async def test_urgent_case_alert_carries_no_content(redis: Redis) -> None:
    hook = ChatHook()
    async with hook.server, ClientSession() as session:
        notifier = Notifier(session, str(hook.server.make_url("/hook")), "https://x/console")
        cases = CaseStore(redis, CIPHER)
        links = PrivateLinks(redis, ttl_s=60, guesses_per_min=3)
        handover = Handover(cases, links, "https://x", notifier)
        text = "Harold Finch is having chest pain and can't breathe"
        await handover.route(message(1, "comment", text), decision("emergency", "urgent"))
        [case] = await cases.by_status("new")
    assert len(hook.received) == 1
    alert = str(hook.received[0]["text"])
    assert case.id in alert
    assert "urgent" in alert
    assert "Harold" not in alert
    assert "chest" not in alert
