"""Custom actions for an existing Rasa assistant: triagebot's PHI gate and human handoff.

Served by rasa-sdk's action server (`create_action_server`); Rasa calls
`action_triage_screen` before answering and `action_triage_handoff` to pass the person to
the staff queue. Cases land in the same Redis queue, through the same `Handover`, as the
webhooks' cases. Slots and utterances carry decisions and reason types, never user text.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from rasa_sdk import Action, Tracker  # type: ignore[import-untyped]
from rasa_sdk.endpoint import create_app  # type: ignore[import-untyped]
from rasa_sdk.events import SlotSet  # type: ignore[import-untyped]
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher  # type: ignore[import-untyped]
from sanic import Sanic

from escalation.cases import Source
from escalation.handover import Handover
from nlu import templates
from nlu.engine import TriageEngine
from nlu.models import Decision

CHANNEL = "rasa"
SLOT_ACTION = "triage_action"
SLOT_SAFE = "triage_safe_to_answer"
SLOT_REASONS = "triage_reasons"
SLOT_CASE = "triage_case_id"


def _latest(tracker: Tracker) -> tuple[str, str]:
    """(message id, text) of the latest user message; Rasa sends a message_id with each."""
    message = tracker.latest_message or {}
    text = message.get("text") or ""
    message_id = message.get("message_id") or uuid.uuid4().hex
    return str(message_id), str(text)


async def _screen(engine: TriageEngine, message_id: str, text: str) -> Decision:
    # CPU-bound NLP: off the action server's event loop.
    return await asyncio.to_thread(engine.triage, message_id, text)


def _safety(decision: Decision) -> str:
    """The safety text for the decision's kind of emergency, in its language."""
    return templates.safety_text(decision.language, templates.kinds_of(decision.reasons))


class ActionTriageScreen(Action):  # type: ignore[misc]  # rasa-sdk is untyped
    """Screen the latest user message; slots say whether the assistant may answer it."""

    def __init__(self, engine: TriageEngine) -> None:
        self.engine = engine

    def name(self) -> str:
        """The action's name in the assistant's domain."""
        return "action_triage_screen"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Set the triage slots; an emergency also gets the safety reply at once."""
        decision = await _screen(self.engine, *_latest(tracker))
        if decision.action == "emergency":
            dispatcher.utter_message(text=_safety(decision))
        return [
            SlotSet(SLOT_ACTION, decision.action),
            SlotSet(SLOT_SAFE, decision.action == "reply"),
            SlotSet(SLOT_REASONS, list(decision.reasons)),
        ]


class ActionTriageHandoff(Action):  # type: ignore[misc]
    """Open a case in the human queue and send the neutral acknowledgement and private link."""

    def __init__(self, engine: TriageEngine, handover: Handover) -> None:
        self.engine, self.handover = engine, handover

    def name(self) -> str:
        """The action's name in the assistant's domain."""
        return "action_triage_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Open (or join) the person's case; the case id goes into a slot."""
        message_id, text = _latest(tracker)
        decision = await _screen(self.engine, message_id, text)
        source = Source(
            channel=CHANNEL,
            message_id=message_id,
            author_id=tracker.sender_id,
            thread_id=tracker.sender_id,
            kind="direct",
            text=text,
            entities=[(e.type, e.start, e.end) for e in decision.entities],
        )
        reasons = decision.reasons or ["human_requested"]
        case_id, _, url = await self.handover.open_case(
            source, decision.priority or "normal", reasons
        )
        url = url or await self.handover.private_url(case_id)
        texts = templates.for_language(decision.language)
        if decision.action == "emergency":
            dispatcher.utter_message(text=_safety(decision))
        else:
            dispatcher.utter_message(text=texts.escalation_ack)
        dispatcher.utter_message(text=texts.private_link.format(url=url))
        return [SlotSet(SLOT_CASE, case_id), SlotSet(SLOT_SAFE, False)]


def create_action_server(engine: TriageEngine, handover: Handover) -> Sanic[Any, Any]:
    """rasa-sdk's action server app with the two triage actions registered."""
    executor = ActionExecutor()
    executor.register_action(ActionTriageScreen(engine))
    executor.register_action(ActionTriageHandoff(engine, handover))
    app: Sanic[Any, Any] = create_app(executor, cors_origins=[])
    return app
