"""The person's private page through real HTTP on create_app(settings), with a real Redis."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

from bot.appkeys import CASES, PRIVATE_LINKS, REDIS, STAFF
from escalation import keys
from escalation.cases import Source
from escalation.private import PrivateLinks
from tests.bot.web.staff_app import PASSWORD, app_client

GUESSES_PER_MIN = 5


@pytest.fixture(scope="module")
async def client(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[TestClient]:
    async with app_client(
        tmp_path_factory, redis_url, private_link_guesses_per_min=GUESSES_PER_MIN
    ) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
async def fresh_guess_counters(client: TestClient) -> None:
    """Every test here comes from one address: each starts with no failed guesses."""
    redis = client.app[REDIS]
    async for key in redis.scan_iter(match=keys.private_link_guesses("*", 0)[:-2] + "*"):
        await redis.delete(key)


async def open_case(client: TestClient, text: str = "my chart number is 99887766") -> str:
    source = Source(
        channel="api", message_id=secrets.token_hex(6), author_id=secrets.token_hex(6), text=text
    )
    case_id, _ = await client.app[CASES].open(source, "normal", ["phi:MRN"])
    return case_id


async def link(client: TestClient, case_id: str) -> str:
    return f"/p/{await client.app[PRIVATE_LINKS].issue(case_id)}"


async def test_page_shows_the_thread_with_strict_headers(client: TestClient) -> None:
    url = await link(client, await open_case(client, "<script>alert(1)</script> 99887766"))
    response = await client.get(url)
    assert response.status == 200
    page = await response.text()
    assert "99887766" in page
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;" in page
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp


async def test_wrong_expired_and_foreign_tokens_get_the_same_404(client: TestClient) -> None:
    short = PrivateLinks(client.app[REDIS], ttl_s=1, guesses_per_min=GUESSES_PER_MIN)
    expired = await short.issue(await open_case(client))
    gone_case = await open_case(client)
    gone = await link(client, gone_case)
    await client.app[REDIS].delete(keys.case(gone_case))
    await asyncio.sleep(1.2)
    bodies = set()
    for path in ["/p/x", f"/p/{secrets.token_urlsafe(24)}", f"/p/{expired}", gone]:
        response = await client.get(path)
        assert response.status == 404, path
        assert response.headers["Cache-Control"] == "no-store"
        bodies.add(await response.text())
    assert len(bodies) == 1


async def test_a_guessing_client_gets_429(client: TestClient) -> None:
    real = await link(client, await open_case(client))
    for _ in range(GUESSES_PER_MIN):
        assert (await client.get(f"/p/{secrets.token_urlsafe(24)}")).status == 404
    assert (await client.get(f"/p/{secrets.token_urlsafe(24)}")).status == 429
    # Refused even with a good token until the minute ends: guessing must not pay.
    assert (await client.get(real)).status == 429


async def test_a_burst_of_guesses_gets_at_most_the_limit_of_lookups(client: TestClient) -> None:
    real = await link(client, await open_case(client))
    # The limit is per clock minute: start where the burst cannot run into the next one.
    if time.time() % 60 > 50:
        await asyncio.sleep(60.5 - time.time() % 60)
    guesses = [
        asyncio.ensure_future(client.get(f"/p/{secrets.token_urlsafe(24)}")) for _ in range(100)
    ]
    statuses = [r.status for r in await asyncio.gather(*guesses)]
    assert statuses.count(404) == GUESSES_PER_MIN
    assert statuses.count(429) == 100 - GUESSES_PER_MIN
    assert (await client.get(real)).status == 429


async def test_a_message_reopens_a_resolved_case(client: TestClient) -> None:
    case_id = await open_case(client)
    url = await link(client, case_id)
    await client.app[CASES].resolve(case_id, "someone")
    sent = await client.post(f"{url}/messages", json={"text": "it hurts again"})
    assert sent.status == 201
    case = await client.app[CASES].get(case_id)
    assert (case.status, case.reopened) == ("new", 1)
    form = await client.post(
        f"{url}/messages", data={"text": "still there?"}, allow_redirects=False
    )
    assert form.status == 303
    assert form.headers["Location"] == url
    texts = [m.text for m in await client.app[CASES].thread(case_id)]
    assert texts[-2:] == ["it hurts again", "still there?"]


async def test_follow_ups_are_masked_for_staff_and_staff_texts_are_not(
    client: TestClient,
) -> None:
    name = f"agent{secrets.token_hex(3)}"
    await client.app[STAFF].add(name, "agent", PASSWORD)
    login = await client.post("/v1/auth/token", json={"username": name, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {(await login.json())['token']}"}
    case_id = await open_case(client)
    url = await link(client, case_id)
    follow_up = "I'm scared. I'm at 12 Elm St, my name is Jo Smith"
    assert (await client.post(f"{url}/messages", json={"text": follow_up})).status == 201
    await client.post(f"/v1/cases/{case_id}/claim", headers=headers)
    reply = {"text": "Please call 911 or 988 now"}
    assert (await client.post(f"/v1/cases/{case_id}/reply", json=reply, headers=headers)).ok
    view = await (await client.get(f"/v1/cases/{case_id}", headers=headers)).json()
    texts = [m["text"] for m in view["thread"]]
    assert texts[1] == "I'm scared. I'm at [STREET_ADDRESS], my name is [PERSON]"
    assert texts[2] == "Please call 911 or 988 now"
    assert not any("Elm" in t or "Smith" in t or "99887766" in t for t in texts)
    revealed = await (await client.get(f"/v1/cases/{case_id}?reveal=1", headers=headers)).json()
    assert revealed["thread"][1]["text"] == follow_up


async def test_bad_messages_are_refused_without_echo(client: TestClient) -> None:
    url = await link(client, await open_case(client))
    too_long = "Harold " * 400
    for body in ({"text": ""}, {"text": too_long}, {"text": "Harold", "x": 1}):
        response = await client.post(f"{url}/messages", json=body)
        assert response.status == 422
        assert "Harold" not in await response.text()
    form = await client.post(f"{url}/messages", data={"text": too_long})
    assert form.status == 422


async def test_staff_reply_through_the_api_shows_on_the_page(client: TestClient) -> None:
    name = f"agent{secrets.token_hex(3)}"
    await client.app[STAFF].add(name, "agent", PASSWORD)
    login = await client.post("/v1/auth/token", json={"username": name, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {(await login.json())['token']}"}
    case_id = await open_case(client)
    url = await link(client, case_id)
    await client.post(f"/v1/cases/{case_id}/claim", headers=headers)
    reply = await client.post(
        f"/v1/cases/{case_id}/reply", json={"text": "Please call 555-0100"}, headers=headers
    )
    assert reply.status == 200
    assert "Please call 555-0100" in await (await client.get(url)).text()
    polled = await (await client.get(f"{url}/messages")).json()
    assert polled["messages"][-1] == {
        "sender": "staff",
        "text": "Please call 555-0100",
        "at": polled["messages"][-1]["at"],
    }
    assert name not in str(polled)


async def test_an_emergency_written_on_the_page_raises_the_case_and_answers_with_safety(
    client: TestClient,
) -> None:
    case_id = await open_case(client)
    url = await link(client, case_id)
    sent = await client.post(f"{url}/messages", json={"text": "my chest hurts and I can't breathe"})
    assert sent.status == 201
    case = await client.app[CASES].get(case_id)
    assert case.priority == "urgent"
    thread = await client.app[CASES].thread(case_id)
    assert thread[-1].sender == "bot"
    assert "911" in thread[-1].text
    assert "988" not in thread[-1].text  # a medical emergency: 911, not the crisis line


async def test_self_harm_written_on_the_page_gets_the_crisis_line_first(
    client: TestClient,
) -> None:
    case_id = await open_case(client)
    url = await link(client, case_id)
    sent = await client.post(f"{url}/messages", json={"text": "i have the pills ready, goodbye"})
    assert sent.status == 201
    thread = await client.app[CASES].thread(case_id)
    safety = thread[-1].text
    assert thread[-1].sender == "bot"
    assert safety.index("988") < safety.index("911")


async def test_the_page_speaks_the_language_of_the_case(client: TestClient) -> None:
    source = Source(
        channel="api",
        message_id=secrets.token_hex(6),
        author_id=secrets.token_hex(6),
        text="mi numero de paciente es 99887766",
    )
    case_id, _ = await client.app[CASES].open(source, "normal", ["phi:MRN", "lang:es"])
    page = await (await client.get(await link(client, case_id))).text()
    assert '<html lang="es">' in page
    assert "Conversación segura" in page
    # The notice names both lines on every page: 911 and 988.
    assert "911" in page
    assert "988" in page
    english = await (await client.get(await link(client, await open_case(client)))).text()
    assert "988" in english
    assert '<html lang="en">' in english
