"""Intents from a Rasa server: a local aiohttp server answers `/model/parse` as Rasa 3.x does."""

from __future__ import annotations

import asyncio
import copy
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from nlu.engine import TriageEngine
from nlu.faq import DEMO_CONTENT_DIR, load_faq
from nlu.intents import FALLBACK
from nlu.rasa import RasaIntents

THRESHOLD = 0.45
PHI_TEXT = "Maria Gonzalez, SSN 123-45-6789, where do I park for her chemo?"


def parse_answer(text: str, intent: str, confidence: float, key: str | None = None) -> Any:
    """A `/model/parse` body in Rasa 3.x's shape (retrieval intents via the response selector)."""
    ranking = [
        {"id": 1, "name": intent, "confidence": confidence},
        {"id": 2, "name": "medical_advice", "confidence": round((1 - confidence) * 0.7, 4)},
        {"id": 3, "name": "greet", "confidence": round((1 - confidence) * 0.3, 4)},
    ]
    selector: dict[str, Any] = {"all_retrieval_intents": ["faq"]}
    if key is not None:
        selector["faq"] = {
            "response": {
                "id": 7,
                "responses": [{"text": "Park in the River Road garage."}],
                "response_templates": [{"text": "Park in the River Road garage."}],
                "confidence": 0.96,
                "intent_response_key": f"faq/{key}",
                "utter_action": f"utter_faq/{key}",
                "template_name": f"utter_faq/{key}",
            },
            "ranking": [
                {"id": 7, "confidence": 0.96, "intent_response_key": f"faq/{key}"},
                {"id": 8, "confidence": 0.04, "intent_response_key": "faq/directions"},
            ],
        }
    return {
        "text": text,
        "intent": {"id": 1, "name": intent, "confidence": confidence},
        "entities": [],
        "text_tokens": [[0, 5]],
        "intent_ranking": ranking,
        "response_selector": selector,
    }


@dataclass
class FakeRasa:
    """What the local Rasa answers, and the bodies it was sent."""

    answers: dict[str, Any] = field(default_factory=dict)
    received: list[Any] = field(default_factory=list)
    status: int = 200
    raw: bytes | None = None
    url: str = ""


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    state = FakeRasa()

    async def parse(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        state.received.append(body)
        if state.raw is not None:
            return web.Response(body=state.raw, content_type="application/json")
        if state.status != 200:
            # Rasa's error shape; it echoes nothing of ours we would log anyway.
            return web.json_response(
                {"version": "3.6.20", "status": "failure", "reason": "ParsingError"},
                status=state.status,
            )
        return web.json_response(
            state.answers.get(body["text"]) or parse_answer(body["text"], "nlu_fallback", 0.3)
        )

    app = web.Application()
    app.router.add_post("/model/parse", parse)
    server = TestServer(app)
    await server.start_server()
    state.url = str(server.make_url("/"))
    yield state
    await server.close()


def intents(url: str, timeout_s: float = 5.0) -> RasaIntents:
    return RasaIntents(load_faq(DEMO_CONTENT_DIR), url, THRESHOLD, timeout_s)


async def test_retrieval_intent_becomes_the_faq_key(rasa: FakeRasa) -> None:
    rasa.answers["where to park"] = parse_answer("where to park", "faq", 0.9, "parking")
    guess = (await asyncio.to_thread(intents(rasa.url).predict_many, ["where to park"]))[0]
    assert rasa.received == [{"text": "where to park"}]
    assert guess.name == "parking"
    assert guess.confidence == pytest.approx(0.9 * 0.96, abs=1e-4)
    assert guess.probability("directions") == pytest.approx(0.9 * 0.04, abs=1e-4)
    assert guess.probability("medical_advice") == pytest.approx(0.07, abs=1e-4)
    assert guess.probability("greet") == 0.0  # not one of ours


@pytest.mark.parametrize(
    ("intent", "confidence", "expected"),
    [
        ("medical_advice", 0.8, "medical_advice"),
        ("emergency", 0.99, "emergency"),
        ("faq/careers", 0.7, "careers"),  # a model trained on full retrieval names
        ("parking", 0.7, "parking"),  # or on plain intents named like our keys
        ("greet", 0.95, FALLBACK),  # an intent of the assistant's, not ours
        ("nlu_fallback", 0.3, FALLBACK),  # Rasa's own FallbackClassifier
        ("complaint", 0.3, FALLBACK),  # below our threshold
    ],
)
async def test_rasa_intents_map_to_ours(
    rasa: FakeRasa, intent: str, confidence: float, expected: str
) -> None:
    rasa.answers["msg"] = parse_answer("msg", intent, confidence)
    guess = (await asyncio.to_thread(intents(rasa.url).predict_many, ["msg"]))[0]
    assert guess.name == expected


@pytest.mark.parametrize("failure", ["status", "garbage", "wrong_shape"])
async def test_failing_rasa_gives_fallback_and_logs_no_text(
    rasa: FakeRasa, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    if failure == "status":
        rasa.status = 500
    elif failure == "garbage":
        rasa.raw = b"<html>502 Bad Gateway"
    else:
        rasa.raw = b'{"intent": {"name": "faq", "confidence": 7}}'
    caplog.set_level(logging.DEBUG)
    guesses = await asyncio.to_thread(intents(rasa.url).predict_many, [PHI_TEXT, "parking?"])
    assert [g.name for g in guesses] == [FALLBACK, FALLBACK]
    assert len(rasa.received) == 1  # the rest of the batch does not wait on a broken server
    failures = [r for r in caplog.records if r.name == "triagebot.nlu.rasa"]
    assert len(failures) == 1
    record = failures[0]
    assert record.error in {"HTTPError", "ValidationError"}  # type: ignore[attr-defined]
    dumped = repr(record.__dict__) + record.getMessage()
    assert "Gonzalez" not in dumped
    assert "123-45-6789" not in dumped


def test_unreachable_rasa_gives_fallback() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now: the connection is refused at once.
    guesses = intents(f"http://127.0.0.1:{port}", timeout_s=2.0).predict_many(["hi", "parking"])
    assert [(g.name, g.confidence) for g in guesses] == [(FALLBACK, 0.0), (FALLBACK, 0.0)]


async def test_engine_with_rasa_keeps_our_phi_gate(rasa: FakeRasa, engine: TriageEngine) -> None:
    # Rasa says "parking" with confidence for both; only the harmless one may be answered.
    for text in (PHI_TEXT, "where do i park"):
        rasa.answers[text] = parse_answer(text, "faq", 0.95, "parking")
    with_rasa = copy.copy(engine)  # shares the loaded models; only the intent source differs
    with_rasa.config = replace(engine.config, rasa_url=rasa.url)
    with_rasa.use_content(engine.content)
    assert isinstance(with_rasa.classifier, RasaIntents)

    phi, routine = await asyncio.to_thread(
        with_rasa.triage_many, [("a", PHI_TEXT), ("b", "where do i park")]
    )
    assert phi.action == "escalate"
    assert phi.reply is not None
    assert "Gonzalez" not in phi.reply
    assert any(reason.startswith("phi:") for reason in phi.reasons)
    assert routine.action == "reply"
    assert routine.intent == "parking"
    assert routine.reply == engine.content.intents["parking"].answer
    assert not isinstance(engine.classifier, RasaIntents)  # the shared engine is untouched
