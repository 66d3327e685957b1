"""One decide-and-route path: an API message and a webhook message take the same step.

Both go through `bot.triage.Triage.run`, so both leave the same record: the first Decision
under `keys.message_decision(channel, message id)`, and a case for an escalation. A
message that reaches the API after its webhook gets the webhook's Decision and case.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from redis.asyncio import Redis
from yarl import URL

from bot.app import create_app
from bot.appkeys import CASES, REDIS
from bot.settings import Settings
from escalation import keys
from nlu.models import Decision
from tests.bot.test_meta_webhook import APP_SECRET, PAGE_ID, GraphApi, comment, signed
from tests.hangs import close_within

TOKEN = "test-token-for-one-path"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TEXT = "I'm Harold Finch, DOB 04/02/1960, my chemo on 4 west got cancelled again"


@pytest.fixture(scope="module")
async def client(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[TestClient]:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    graph = TestServer(GraphApi().app)
    await graph.start_server()
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("var"),
        redis_url=SecretStr(redis_url),
        api_token=SecretStr(TOKEN),
        meta_app_secret=SecretStr(APP_SECRET),
        meta_page_token=SecretStr("page-token"),
        meta_graph_url=str(graph.make_url("/v21.0")),
        meta_page_id=PAGE_ID,
        workers=1,
        shutdown_grace_s=4,
    )
    test_client = TestClient(TestServer(create_app(settings)))
    await test_client.start_server()
    try:
        yield test_client
    finally:
        await close_within(test_client, "the app under its test client")
        await close_within(graph, "the local Graph API")


async def stored_decision(client: TestClient, channel: str, message_id: str) -> Decision:
    """The Decision stored for a message, once its worker has stored it (bounded wait)."""
    redis = client.app[REDIS]
    for _ in range(200):
        raw = await redis.get(keys.message_decision(channel, message_id))
        if raw is not None:
            return Decision.model_validate_json(raw)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no Decision stored for {channel}:{message_id}")


async def test_api_and_webhook_messages_leave_the_same_decision_record_and_case(
    client: TestClient,
) -> None:
    body = comment("c_one_path", TEXT, author="88001")
    assert (await client.post("/webhooks/meta", data=body, headers=signed(body))).status == 200
    from_webhook = await stored_decision(client, "meta", "c_one_path")

    message = {"message_id": "a_one_path", "author_id": "88002", "text": TEXT}
    response = await client.post("/v1/messages", json=message, headers=AUTH)
    assert response.status == 200
    answer = await response.json()
    from_api = await stored_decision(client, "api", "a_one_path")

    # The same record under the same kind of key: the Decision as triage made it, no case
    # id and no private link in it (those belong to the case, not to the Decision).
    assert from_api.model_dump(exclude={"id"}) == from_webhook.model_dump(exclude={"id"})
    assert (from_api.action, from_api.case_id) == ("escalate", None)
    cases = client.app[CASES]
    webhook_case = await cases.case_of_message("meta", "c_one_path")
    api_case = await cases.case_of_message("api", "a_one_path")
    assert webhook_case is not None
    assert api_case is not None
    assert answer["case_id"] == api_case
    assert answer["private_url"]
    assert answer["duplicate"] is False


async def test_an_api_call_after_the_webhook_gets_its_decision_and_case(
    client: TestClient,
) -> None:
    body = comment("c_then_api", TEXT, author="88003")
    assert (await client.post("/webhooks/meta", data=body, headers=signed(body))).status == 200
    from_webhook = await stored_decision(client, "meta", "c_then_api")
    for _ in range(200):  # the worker routes right after it stores the Decision
        case_id = await client.app[CASES].case_of_message("meta", "c_then_api")
        if case_id is not None:
            break
        await asyncio.sleep(0.05)
    assert case_id is not None

    # The same message through the API, on the same channel: one dedupe key, so the
    # Decision and case the webhook's triage made are the answer, and nothing new opens.
    message = {
        "channel": "meta",
        "message_id": "c_then_api",
        "author_id": "88003",
        "text": "where do I park?",
    }
    before = len(await client.app[CASES].by_status("new"))
    response = await client.post("/v1/messages", json=message, headers=AUTH)
    answer = await response.json()
    assert answer["duplicate"] is True
    assert answer["case_id"] == case_id
    assert answer["private_url"] is None
    expected = from_webhook.model_dump(mode="json", exclude={"case_id"})
    assert {k: answer[k] for k in expected} == expected
    assert len(await client.app[CASES].by_status("new")) == before


async def test_an_api_retry_gets_a_fresh_private_link_and_the_first_one_is_revoked(
    client: TestClient,
) -> None:
    message = {"message_id": "a_retried", "author_id": "88010", "text": TEXT}
    first = await (await client.post("/v1/messages", json=message, headers=AUTH)).json()
    assert first["private_url"]
    cases = len(await client.app[CASES].by_status("new"))
    # The client lost that answer, and the link in it, and asks again.
    retry = await (await client.post("/v1/messages", json=message, headers=AUTH)).json()
    assert retry["duplicate"] is True
    assert retry["case_id"] == first["case_id"]
    assert retry["private_url"]
    assert retry["private_url"] != first["private_url"]
    fresh, old = URL(retry["private_url"]).path, URL(first["private_url"]).path
    assert (await client.get(fresh)).status == 200
    assert (await client.get(old)).status == 404  # only the latest answer's link works
    assert len(await client.app[CASES].by_status("new")) == cases  # and no second case
