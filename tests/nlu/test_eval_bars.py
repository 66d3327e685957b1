"""The safety bars on labelled messages: our own cases, and the shared dev set when present.

`tests/data/triage_cases.jsonl` was written for this project, independently of the
training examples; `../shared/eval/dev.jsonl` sits beside the checkout in CI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlu.engine import TriageEngine
from nlu.evaluation import score

ROOT = Path(__file__).resolve().parents[2]
SETS = [
    ROOT / "tests" / "data" / "triage_cases.jsonl",
    ROOT.parent / "shared" / "eval" / "dev.jsonl",
]


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_labelled_messages_meet_the_safety_bars(engine: TriageEngine, path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is not present in this checkout")
    cases = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    decisions = {
        d.id: d.model_dump()
        for d in engine.triage_many([(str(c["id"]), str(c["text"])) for c in cases])
    }
    figures = score(cases, decisions).figures
    assert figures["missing"] == 0
    assert figures["leaks"] == 0
    assert figures["echoes"] == 0
    assert figures["emergency_recall"] == 1.0
    assert figures["faq_accuracy"] >= 0.95
    assert figures["over_escalation"] <= 0.03
