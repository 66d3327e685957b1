"""Checks on draft FAQ content before it goes live: accuracy figures and PHI in answers.

`evaluate_content` scores content on its own examples (stratified k-fold held-out
accuracy) and, when given, on the routine cases of `dev.jsonl`; `compare` says where a
draft scores worse than the live content; `phi_flags` names the PHI-like entity types in a
draft answer. Everything is synchronous and CPU-bound: run it off the event loop.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from nlu.evaluation import ROUTINE
from nlu.faq import FaqContent, FaqIntent
from nlu.intents import IntentClassifier, accuracy

if TYPE_CHECKING:
    from nlu.engine import TriageEngine

Progress = Callable[[str, float], None]
DEFAULT_FOLDS = 5
# Entity types that should never appear in a public FAQ answer. Phone numbers, street
# addresses and ZIP codes are left out on purpose: an answer publishes the facility's own
# (the demo answers list five phone lines and the campus address), and a draft is
# reviewed by staff, so only what identifies a patient is flagged.
FLAGGED_TYPES = frozenset(
    {
        "PERSON",
        "MEDICAL_RECORD_NUMBER",
        "MEMBER_ID",
        "MEDICARE_MBI",
        "US_SSN",
        "DATE_OF_BIRTH",
        "ROOM_NUMBER",
        "EMAIL_ADDRESS",
        "CREDIT_CARD",
        "IBAN_CODE",
        "IP_ADDRESS",
        "US_PASSPORT",
        "US_BANK_NUMBER",
        "US_ITIN",
    }
)
# ID_NUMBER (any long digit run) and US_DRIVER_LICENSE are not flagged: in answers they
# are the facility's phone lines, hours and dates; the specific identifiers above are.
# presidio's weakest pattern guesses score about 0.01; they are noise here.
MIN_SCORE = 0.3
# The type reported for a date written next to words about a patient ("admitted 3/14").
DATE_NEAR_PATIENT = "DATE_NEAR_PATIENT"
_DATE = (
    r"(?:\b\d{1,2}[/.-]\d{1,2}(?:[/.-]\d{2,4})?\b"
    r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? "
    r"\d{1,2}(?:st|nd|rd|th)?\b)"
)
_PATIENT_WORD = (
    r"\b(?:patient|pt|admitted|discharged|born|died|passed away|deceased|diagnosed"
    r"|surgery|operated|transferred|moved to)\b"
)
# Same sentence, at most 60 characters apart, in either order.
_PATIENT_DATE = re.compile(
    rf"{_PATIENT_WORD}[^.!?\n]{{0,60}}?{_DATE}|{_DATE}[^.!?\n]{{0,60}}?{_PATIENT_WORD}",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")
_DOMAIN = re.compile(r"\b((?:[a-z0-9-]+\.)+[a-z]{2,})\b", re.IGNORECASE)


class ContentScore(BaseModel):
    """Accuracy figures for one version of FAQ content."""

    model_config = ConfigDict(frozen=True)

    held_out_accuracy: float
    dev_faq_accuracy: float | None
    examples: int
    intents: int
    seconds: float


def evaluate_content(
    content: FaqContent,
    threshold: float,
    *,
    dev_path: Path | None,
    progress: Progress | None = None,
    seed: int = 0,
    folds: int = DEFAULT_FOLDS,
) -> ContentScore:
    """Train on the content, then score held-out examples and the dev set's routine cases.

    Held-out accuracy is the top guess on each fold's test examples (k-fold, stratified by
    label, fixed by the seed); dev FAQ accuracy is the full model's guess with the threshold
    (a fallback counts as wrong), as the live bot would answer.
    """
    started = time.perf_counter()
    report = progress or (lambda stage, fraction: None)
    pairs = list(content.training_data())
    report("training", 0.0)
    classifier = IntentClassifier(content, threshold)
    report("held-out", 0.3)
    hits = total = 0
    for fold, (train, test) in enumerate(stratified_folds(pairs, folds, seed)):
        # Top guess without the threshold: a model trained on 80 % of the examples is less
        # confident than the live one, so the live threshold would score mostly fallbacks.
        fold_classifier = IntentClassifier(_subset(content, train), threshold=0.0)
        hits += round(accuracy(fold_classifier, test) * len(test))
        total += len(test)
        report("held-out", round(0.3 + 0.55 * (fold + 1) / folds, 3))
    dev_accuracy = None
    if dev_path is not None and dev_path.exists():
        report("dev", 0.9)
        dev_accuracy = dev_faq_accuracy(classifier, dev_path)
    report("done", 1.0)
    return ContentScore(
        held_out_accuracy=round(hits / max(total, 1), 4),
        dev_faq_accuracy=dev_accuracy,
        examples=len(pairs),
        intents=len(content.intents),
        seconds=round(time.perf_counter() - started, 3),
    )


def stratified_folds(
    pairs: Sequence[tuple[str, str]], folds: int, seed: int
) -> list[tuple[list[tuple[str, str]], list[tuple[str, str]]]]:
    """(train, test) pairs of k folds, each label spread evenly; the same seed, the same folds.

    A label with fewer than two examples is only ever trained on: holding out its one
    example would test a class the fold's model has never seen.
    """
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, (_, label) in enumerate(pairs):
        by_label[label].append(index)
    rng = random.Random(seed)
    fold_of: dict[int, int] = {}
    for label in sorted(by_label):
        indices = by_label[label]
        if len(indices) < 2:
            continue
        rng.shuffle(indices)
        # Each label starts at a different fold so that small labels do not all land in fold 0.
        offset = rng.randrange(folds)
        for position, index in enumerate(indices):
            fold_of[index] = (position + offset) % folds
    return [
        (
            [pair for i, pair in enumerate(pairs) if fold_of.get(i) != fold],
            [pair for i, pair in enumerate(pairs) if fold_of.get(i) == fold],
        )
        for fold in range(folds)
    ]


def dev_faq_accuracy(classifier: IntentClassifier, dev_path: Path) -> float | None:
    """Share of routine dev cases (faq, smalltalk) whose top guess is an accepted intent."""
    cases = [
        case
        for line in dev_path.read_text(encoding="utf-8").splitlines()
        if line.strip()
        for case in [json.loads(line)]
        if case.get("category") in ROUTINE and case.get("intents")
    ]
    if not cases:
        return None
    guesses = classifier.predict_many([str(case["text"]) for case in cases])
    hits = sum(guess.name in case["intents"] for guess, case in zip(guesses, cases, strict=True))
    return round(hits / len(cases), 4)


def compare(live: ContentScore, draft: ContentScore, tolerance: float = 0.01) -> list[str]:
    """What the draft does worse than the live content, by more than the tolerance."""
    flags = []
    if draft.held_out_accuracy < live.held_out_accuracy - tolerance:
        flags.append(
            f"held-out accuracy drops from {live.held_out_accuracy:.3f} "
            f"to {draft.held_out_accuracy:.3f}"
        )
    if (
        live.dev_faq_accuracy is not None
        and draft.dev_faq_accuracy is not None
        and draft.dev_faq_accuracy < live.dev_faq_accuracy - tolerance
    ):
        flags.append(
            f"dev FAQ accuracy drops from {live.dev_faq_accuracy:.3f} "
            f"to {draft.dev_faq_accuracy:.3f}"
        )
    if draft.intents < live.intents:
        flags.append(f"FAQ intents drop from {live.intents} to {draft.intents}")
    return flags


def phi_flags(answer_text: str, engine: TriageEngine) -> list[str]:
    """Entity types (never the matched text) that look like PHI in a draft answer, sorted.

    The engine's own recognizers run on a full NER pass (answers are not gated like
    messages). Not flagged: a name after a clinician title ("Dr. Lopez": staff), a "name"
    made only of words the live answers publish, and an email address on a domain they
    publish (the facility's own).
    """
    results = engine.phi.analyze(engine.nlp(answer_text))
    public_domains = _published_domains(engine.content)
    published_words = _published_words(engine.content)
    from nlu.engine import _CLINICIAN_TITLE  # the engine's own rule, not a copy of it

    types: set[str] = set()
    for r in results:
        if r.entity_type not in FLAGGED_TYPES or r.score < MIN_SCORE:
            continue
        if (
            r.entity_type == "PERSON"
            and (
                _CLINICIAN_TITLE.search(answer_text[: r.start])
                # The NER model reads "Riverside" or "COVID-19" as names; words the live
                # answers already publish name the facility, not a patient.
                or set(_WORD.findall(answer_text[r.start : r.end].casefold())) <= published_words
            )
        ):
            continue
        if r.entity_type == "EMAIL_ADDRESS":
            domain = answer_text[r.start : r.end].rpartition("@")[2].casefold()
            if domain in public_domains:
                continue
        types.add(r.entity_type)
    if _PATIENT_DATE.search(answer_text):
        types.add(DATE_NEAR_PATIENT)
    return sorted(types)


def _published_domains(content: FaqContent) -> frozenset[str]:
    return frozenset(
        domain.casefold()
        for intent in content.intents.values()
        for domain in _DOMAIN.findall(intent.answer)
    )


def _published_words(content: FaqContent) -> frozenset[str]:
    return frozenset(
        word
        for intent in content.intents.values()
        for word in _WORD.findall(intent.answer.casefold())
    )


def _subset(content: FaqContent, pairs: Sequence[tuple[str, str]]) -> FaqContent:
    """The content with only the given (text, label) examples; labels left empty are dropped."""
    kept: dict[str, list[str]] = defaultdict(list)
    for text, label in pairs:
        kept[label].append(text)
    intents = {
        key: FaqIntent(key=key, examples=tuple(kept[key]), answer=intent.answer)
        for key, intent in content.intents.items()
        if kept.get(key)
    }
    guards = {name: tuple(kept[name]) for name in content.guards if kept.get(name)}
    return FaqContent(intents=intents, guards=guards, version=f"{content.version}-subset")
