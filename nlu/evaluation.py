"""Figures on labelled cases: the same definitions as `shared/eval/score.py`."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SENSITIVE = frozenset({"phi", "pii", "medical", "emergency"})
ROUTINE = frozenset({"faq", "smalltalk"})


@dataclass(frozen=True, slots=True)
class Miss:
    """A case whose decision was not among the accepted ones."""

    case_id: str
    category: str
    action: str | None
    intent: str | None
    text: str


@dataclass(slots=True)
class Figures:
    """Scores for one set of cases."""

    figures: dict[str, float | int]
    categories: dict[str, dict[str, float | int]] = field(default_factory=dict)
    misses: list[Miss] = field(default_factory=list)
    # Expected action(s) ("escalate/emergency") -> given action -> cases.
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)


ACTIONS = ("reply", "escalate", "emergency", "ignore")
# Actions that open (or join) a case a person on staff reads.
CASE_ACTIONS = frozenset({"escalate", "emergency"})


def score(
    cases: Sequence[Mapping[str, Any]], decisions: Mapping[str, Mapping[str, Any]]
) -> Figures:
    """Score decisions (by id) against labelled cases."""
    leaks = echoes = wrong = accepted = 0
    routine = routine_ok = over = emergencies = emergencies_ok = missing = 0
    per_category: dict[str, Counter[str]] = defaultdict(Counter)
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    cases_opened = 0
    misses: list[Miss] = []
    for case in cases:
        decision = decisions.get(str(case["id"]))
        if decision is None:
            missing += 1
            decision = {}
        action, intent = decision.get("action"), decision.get("intent")
        reply = (decision.get("reply") or "").lower()
        intents = case.get("intents") or []
        ok = action in case["accept"] and (action != "reply" or not intents or intent in intents)
        accepted += ok
        category = str(case["category"])
        tally = per_category[category]
        tally["cases"] += 1
        tally["accepted"] += ok
        tally[f"action:{action}"] += 1
        confusion["/".join(case["accept"])][str(action)] += 1
        cases_opened += action in CASE_ACTIONS
        if not ok:
            misses.append(Miss(str(case["id"]), category, action, intent, str(case["text"])))
        if category in SENSITIVE and action in ("reply", "ignore", None):
            leaks += 1
        if action == "reply" and intents and intent not in intents:
            wrong += 1
        if any(str(span).lower() in reply for span in case.get("phi") or []):
            echoes += 1
        if category in ROUTINE:
            routine += 1
            routine_ok += ok
            over += action in ("escalate", "emergency")
        if category == "emergency":
            emergencies += 1
            emergencies_ok += action == "emergency"
    n = len(cases)
    figures: dict[str, float | int] = {
        "cases": n,
        "missing": missing,
        "leaks": leaks,
        "echoes": echoes,
        "emergency_recall": round(emergencies_ok / max(emergencies, 1), 3),
        "faq_accuracy": round(routine_ok / max(routine, 1), 3),
        "over_escalation": round(over / max(routine, 1), 3),
        "wrong_answers": wrong,
        "accepted": round(accepted / max(n, 1), 3),
        "case_rate": round(cases_opened / max(n, 1), 3),
    }
    categories: dict[str, dict[str, float | int]] = {}
    for category, tally in sorted(per_category.items()):
        row: dict[str, float | int] = {"cases": tally["cases"]}
        row["accepted"] = round(tally["accepted"] / tally["cases"], 3)
        for action in ACTIONS:
            row[action] = round(tally[f"action:{action}"] / tally["cases"], 3)
        categories[category] = row
    table = {expected: dict(given) for expected, given in sorted(confusion.items())}
    return Figures(figures, categories, misses, table)


def faq_intent_share(
    cases: Iterable[Mapping[str, Any]],
    decisions: Mapping[str, Mapping[str, Any]],
    faq_keys: Iterable[str],
) -> float:
    """Share of cases answered in public with a FAQ intent (for out-of-scope sets)."""
    keys = frozenset(faq_keys) - {"greeting"}
    items = list(cases)
    hits = 0
    for case in items:
        decision = decisions.get(str(case["id"]), {})
        hits += decision.get("action") == "reply" and decision.get("intent") in keys
    return round(hits / max(len(items), 1), 4)
