"""The shapes that leave `nlu/`: entities, analysis results and the Decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Action = Literal["reply", "escalate", "emergency", "ignore"]
Priority = Literal["urgent", "high", "normal", "low"]


class Signal(StrEnum):
    """Safety signals found in a message, strongest first."""

    EMERGENCY = "emergency"
    SELF_HARM = "self_harm"
    MEDICAL_ADVICE = "medical_advice"
    HEALTH_INFO = "health_info"
    COMPLAINT = "complaint"
    OTHER_LANGUAGE = "other_language"
    HUMAN_REQUESTED = "human_requested"
    SPAM = "spam"


class Entity(BaseModel):
    """A detected span: type and offsets only, never the matched text."""

    model_config = ConfigDict(frozen=True)

    type: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    score: float = Field(ge=0.0, le=1.0)


@dataclass(frozen=True, slots=True)
class IntentGuess:
    """The FAQ classifier's best guess for a message."""

    name: str
    confidence: float
    ranking: tuple[tuple[str, float], ...] = ()

    def probability(self, label: str) -> float:
        """The probability the classifier gave to `label` (0 if it was not ranked)."""
        return next((p for name, p in self.ranking if name == label), 0.0)


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything the policy needs to decide, computed once per message."""

    text: str
    entities: tuple[Entity, ...]
    health: tuple[Entity, ...]
    signals: frozenset[Signal]
    intent: IntentGuess
    personal: bool = False
    reasons: tuple[str, ...] = field(default=())
    language: str = "en"
    # Kinds of emergency found (self_harm, overdose, cardiac, stroke, violence…).
    emergency_kinds: frozenset[str] = frozenset()
    # Crisis cue groups that matched, and the frame that set them apart (news, past…).
    crisis_cues: tuple[str, ...] = ()
    set_apart: str | None = None


class Decision(BaseModel):
    """The one output shape shared by the CLI, the HTTP API and the tests."""

    id: str
    action: Action
    intent: str | None = None
    confidence: float | None = None
    priority: Priority | None = None
    reasons: list[str] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    reply: str | None = None
    case_id: str | None = None
    faq_version: str | None = None
    language: str | None = None  # ISO 639-1 code of the message, and of every text we send


class ErrorLine(BaseModel):
    """What `triagebot triage` writes for an input line it cannot triage."""

    id: str | None
    line: int | None = None
    error: str
