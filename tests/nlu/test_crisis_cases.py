"""Our own crisis cases (English and Spanish): every one is an emergency of its kind.

`tests/data/crisis_cases.jsonl` was written for this project in the kinds a person in
crisis writes (intent, plan, means, timing, farewells, overdoses), with non-crisis texts
that share their words (negation, idioms, news, fiction, resolved past, jokes).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlu.engine import TriageEngine
from nlu.models import Decision

CASES = [
    json.loads(line)
    for line in (Path(__file__).resolve().parents[1] / "data" / "crisis_cases.jsonl")
    .read_text("utf-8")
    .splitlines()
    if line.strip()
]


@pytest.fixture(scope="module")
def decisions(engine: TriageEngine) -> dict[str, Decision]:
    return {d.id: d for d in engine.triage_many([(c["id"], c["text"]) for c in CASES])}


# Kinds with a safety text of their own; the medical kinds share one.
_OWN_TEXT = ("self_harm", "overdose", "violence")


def _cases(category: str) -> list[dict[str, str]]:
    return [c for c in CASES if (c["category"] == "emergency") == (category == "emergency")]


@pytest.mark.parametrize("case", _cases("emergency"), ids=lambda c: c["id"])
def test_every_crisis_is_an_emergency_of_its_kind(
    decisions: dict[str, Decision], case: dict[str, str]
) -> None:
    decision = decisions[case["id"]]
    assert decision.action == "emergency", decision.reasons
    kinds = {r.removeprefix("emergency:") for r in decision.reasons if r.startswith("emergency:")}
    if case["kind"] in _OWN_TEXT:
        assert case["kind"] in kinds
    else:
        # A medical emergency: its own kind (or a close one: a racing heart with fainting
        # may read as "unconscious"), and never the suicide line first.
        assert kinds - set(_OWN_TEXT), kinds
    assert decision.language == case["lang"]
    assert decision.reply is not None
    # Self-harm gets 988 first, an overdose Poison Control.
    if case["kind"] == "self_harm":
        assert decision.reply.index("988") < decision.reply.find("911") or "911" not in (
            decision.reply
        )
    if case["kind"] == "overdose":
        assert "1-800-222-1222" in decision.reply


@pytest.mark.parametrize("case", _cases("other"), ids=lambda c: c["id"])
def test_words_of_crisis_out_of_a_crisis_are_no_emergency(
    decisions: dict[str, Decision], case: dict[str, str]
) -> None:
    decision = decisions[case["id"]]
    assert decision.action != "emergency", decision.reasons
    assert decision.action in case["accept"], decision.reasons
