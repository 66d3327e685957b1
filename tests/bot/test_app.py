"""The HTTP service through real HTTP: create_app(settings) with its real cleanup contexts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.app import create_app
from bot.appkeys import BATCHER
from bot.settings import Settings
from nlu.templates import FALLBACK_REPLY

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
async def client(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[TestClient]:
    data_dir: Path = tmp_path_factory.mktemp("var")
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        api_token=SecretStr(TOKEN),
        redis_url=SecretStr(redis_url),
    )
    async with TestClient(TestServer(create_app(settings))) as test_client:
        yield test_client


def body(message_id: str, text: str) -> dict[str, str]:
    return {"message_id": message_id, "author_id": "u1", "text": text}


async def test_health_and_readiness(client: TestClient) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["status"] == "ready"


async def test_routine_message_gets_a_reply_decision(client: TestClient) -> None:
    response = await client.post("/v1/messages", json=body("r1", "where do I park?"), headers=AUTH)
    assert response.status == 200
    decision = await response.json()
    assert (decision["action"], decision["intent"], decision["duplicate"]) == (
        "reply",
        "parking",
        False,
    )


async def test_repeated_message_id_returns_the_first_decision(client: TestClient) -> None:
    first = await (await client.post("/v1/messages", json=body("d1", "hi!"), headers=AUTH)).json()
    again = await client.post(
        "/v1/messages", json=body("d1", "my ssn is 123-45-6789"), headers=AUTH
    )
    repeat = await again.json()
    assert repeat["duplicate"] is True
    assert {k: v for k, v in repeat.items() if k != "duplicate"} == {
        k: v for k, v in first.items() if k != "duplicate"
    }


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer nope"}, 401), ({"Authorization": TOKEN}, 401)],
)
async def test_missing_or_wrong_token_is_refused(
    client: TestClient, headers: dict[str, str], status: int
) -> None:
    response = await client.post("/v1/messages", json=body("a1", "hi"), headers=headers)
    assert response.status == status


async def test_bad_bodies_get_clear_4xx_without_echo(client: TestClient) -> None:
    secret = "Harold Finch 123-45-6789"
    cases = [
        (b"{not json " + secret.encode(), "application/json", 400),
        (json.dumps({"message_id": "x", "text": secret}).encode(), "application/json", 422),
        (json.dumps(body("x", secret)).encode(), "text/plain", 415),
        (b"x" * (300 * 1024), "application/json", 413),
    ]
    for raw, content_type, status in cases:
        response = await client.post(
            "/v1/messages", data=raw, headers={**AUTH, "Content-Type": content_type}
        )
        text = await response.text()
        assert response.status == status, text
        assert "Harold" not in text
        assert "123-45" not in text


async def test_metrics_count_decisions_without_content(client: TestClient) -> None:
    await client.post("/v1/messages", json=body("m1", "Harold Finch needs parking"), headers=AUTH)
    text = await (await client.get("/metrics")).text()
    assert "triage_decisions_total" in text
    assert "Harold" not in text


async def test_overload_is_refused_at_once_with_503_and_retry_after(client: TestClient) -> None:
    batcher = client.app[BATCHER]
    batcher.max_waiting, limit = 0, batcher.max_waiting
    try:
        response = await client.post(
            "/v1/messages",
            json={"message_id": "busy-1", "author_id": "u", "text": "my mrn is 4455667"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    finally:
        batcher.max_waiting = limit
    assert response.status == 503
    assert response.headers["Retry-After"] == "1"
    assert "4455667" not in await response.text()
    # Nothing was recorded: the same message is triaged normally once there is room.
    again = await client.post(
        "/v1/messages",
        json={"message_id": "busy-1", "author_id": "u", "text": "where do I park?"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert again.status == 200
    assert (await again.json())["duplicate"] is False


@pytest.mark.parametrize(
    "text", ["donde me estaciono?", "hola, a q hora es la visita y donde estaciono el carro"]
)
async def test_a_spanish_routine_question_is_answered_in_spanish(
    client: TestClient, text: str
) -> None:
    response = await client.post("/v1/messages", json=body(f"es-{len(text)}", text), headers=AUTH)
    decision = await response.json()
    assert decision["action"] == "reply", decision["reasons"]
    assert decision["language"] == "es"
    assert "lang:es" in decision["reasons"]
    # The Spanish variant of the approved answer, never the English one.
    assert "estacionamiento" in decision["reply"].casefold() or "visita" in decision["reply"]
    assert "parking is" not in decision["reply"]


async def test_spanish_phi_gets_the_spanish_acknowledgement(client: TestClient) -> None:
    text = "hola soy Maria Lopez, mi numero de paciente es 4455667, cuando es mi cita?"
    decision = await (
        await client.post("/v1/messages", json=body("es-phi", text), headers=AUTH)
    ).json()
    assert decision["action"] == "escalate"
    assert decision["reply"].startswith("Gracias por escribirnos")
    assert "Maria" not in decision["reply"]
    assert "4455667" not in decision["reply"]
    assert decision["case_id"]


async def test_a_spanish_crisis_gets_the_spanish_safety_reply(client: TestClient) -> None:
    text = "ya no aguanto mas, esta noche me voy a quitar la vida"
    decision = await (
        await client.post("/v1/messages", json=body("es-crisis", text), headers=AUTH)
    ).json()
    assert decision["action"] == "emergency"
    assert decision["priority"] == "urgent"
    assert "emergency:self_harm" in decision["reasons"]
    reply = decision["reply"]
    # 988 first, with its Spanish option, then 911.
    assert "988" in reply
    assert "marque 2" in reply
    assert reply.index("988") < reply.index("911")
    assert decision["case_id"]


async def test_an_unsupported_language_is_never_answered_in_public(client: TestClient) -> None:
    text = "Bonjour, quelles sont les heures de visite de l'hôpital aujourd'hui ?"
    decision = await (
        await client.post("/v1/messages", json=body("fr-1", text), headers=AUTH)
    ).json()
    assert decision["action"] == "escalate"
    assert "lang_unsupported:fr" in decision["reasons"]
    assert decision["reply"] != FALLBACK_REPLY


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("GET", "/v1/messages", "POST"), ("DELETE", "/v1/cases", "GET"), ("PUT", "/healthz", "GET")],
)
async def test_a_wrong_method_gets_405_with_allow(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = await client.request(method, path)
    assert response.status == 405
    assert allowed in response.headers["Allow"].split(",")
    assert "error" in await response.json()
