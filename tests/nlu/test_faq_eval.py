"""Draft FAQ content checks: held-out and dev accuracy, regressions, PHI in answers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from nlu.faq import DEMO_CONTENT_DIR, FaqContent, load_faq
from nlu.faq_eval import ContentScore, compare, evaluate_content, phi_flags, stratified_folds

if TYPE_CHECKING:
    from nlu.engine import TriageEngine

DEV = Path(__file__).resolve().parents[3] / "shared" / "eval" / "dev.jsonl"
THRESHOLD = 0.45
FOLDS = 3  # fewer trainings than the default five: the figures are compared, not reported


@pytest.fixture(scope="module")
def demo() -> FaqContent:
    return load_faq(DEMO_CONTENT_DIR)


@pytest.fixture(scope="module")
def live_score(demo: FaqContent) -> ContentScore:
    return evaluate_content(demo, THRESHOLD, dev_path=DEV, folds=FOLDS)


def test_demo_content_scores_in_a_sane_range(live_score: ContentScore, demo: FaqContent) -> None:
    assert live_score.held_out_accuracy > 0.7
    assert live_score.examples == sum(1 for _ in demo.training_data())
    assert live_score.intents == len(demo.intents)
    if DEV.exists():
        assert live_score.dev_faq_accuracy is not None
        assert live_score.dev_faq_accuracy > 0.8


def test_same_seed_same_folds_and_figures(demo: FaqContent, live_score: ContentScore) -> None:
    pairs = list(demo.training_data())
    assert stratified_folds(pairs, 5, seed=3) == stratified_folds(pairs, 5, seed=3)
    assert stratified_folds(pairs, 5, seed=3) != stratified_folds(pairs, 5, seed=4)
    again = evaluate_content(demo, THRESHOLD, dev_path=DEV, folds=FOLDS)
    assert again.model_dump(exclude={"seconds"}) == live_score.model_dump(exclude={"seconds"})


def test_every_example_is_held_out_exactly_once(demo: FaqContent) -> None:
    pairs = list(demo.training_data())
    folds = stratified_folds(pairs, 5, seed=0)
    held_out = [pair for _, test in folds for pair in test]
    assert sorted(held_out) == sorted(pairs)
    for train, test in folds:
        assert len(train) + len(test) == len(pairs)


def test_draft_with_two_intents_swapped_is_flagged(
    demo: FaqContent, live_score: ContentScore
) -> None:
    parking, visiting = demo.intents["parking"], demo.intents["visiting_hours"]
    # Half of each intent's examples moved to the other: the two can no longer be told apart.
    half_p, half_v = len(parking.examples) // 2, len(visiting.examples) // 2
    intents = dict(demo.intents)
    intents["parking"] = replace(
        parking, examples=parking.examples[:half_p] + visiting.examples[half_v:]
    )
    intents["visiting_hours"] = replace(
        visiting, examples=visiting.examples[:half_v] + parking.examples[half_p:]
    )
    draft = replace(demo, intents=intents, version="draft")
    flags = compare(live_score, evaluate_content(draft, THRESHOLD, dev_path=DEV, folds=FOLDS))
    assert any(flag.startswith("held-out accuracy drops from") for flag in flags)


def test_compare_flags_only_drops_beyond_the_tolerance() -> None:
    live = ContentScore(
        held_out_accuracy=0.93, dev_faq_accuracy=0.95, examples=900, intents=11, seconds=1.0
    )
    same = live.model_copy(update={"held_out_accuracy": 0.925, "dev_faq_accuracy": 0.96})
    worse = live.model_copy(update={"held_out_accuracy": 0.88, "dev_faq_accuracy": 0.90})
    assert compare(live, same) == []
    assert compare(live, worse) == [
        "held-out accuracy drops from 0.930 to 0.880",
        "dev FAQ accuracy drops from 0.950 to 0.900",
    ]
    assert compare(live, worse.model_copy(update={"dev_faq_accuracy": None})) == [
        "held-out accuracy drops from 0.930 to 0.880"
    ]


def test_progress_fractions_increase_and_end_at_one(demo: FaqContent) -> None:
    seen: list[tuple[str, float]] = []
    small = replace(
        demo,
        intents={k: replace(i, examples=i.examples[:12]) for k, i in demo.intents.items()},
        guards={k: v[:12] for k, v in demo.guards.items()},
    )
    evaluate_content(
        small, THRESHOLD, dev_path=DEV, folds=FOLDS, progress=lambda s, f: seen.append((s, f))
    )
    fractions = [fraction for _, fraction in seen]
    assert fractions == sorted(set(fractions))
    assert seen[-1] == ("done", 1.0)
    assert {stage for stage, _ in seen} >= {"training", "held-out", "done"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Visiting hours are 8am-8pm. Call (555) 010-2000.", set()),
        ("Dr. Lopez runs the clinic", set()),
        ("Write to records@riversidehealth.example for copies.", set()),
        (
            "Patient Harold Finch (MRN 4481234) was moved to room 12",
            {"PERSON", "MEDICAL_RECORD_NUMBER", "ROOM_NUMBER"},
        ),
        ("Questions? Email harold.finch@gmail.com", {"EMAIL_ADDRESS"}),
        ("The patient was admitted on 3/14/2023.", {"DATE_NEAR_PATIENT"}),
    ],
)
def test_phi_flags_name_types_in_draft_answers(
    engine: TriageEngine, text: str, expected: set[str]
) -> None:
    flags = phi_flags(text, engine)
    assert expected <= set(flags)
    if not expected:
        assert flags == []


def test_phi_flags_never_contain_the_matched_text(engine: TriageEngine) -> None:
    flags = phi_flags("Patient Harold Finch (MRN 4481234) was moved to room 12", engine)
    assert not any("Harold" in f or "4481234" in f or "12" in f for f in flags)


def test_live_demo_answers_raise_no_phi_flags(engine: TriageEngine, demo: FaqContent) -> None:
    assert {key: phi_flags(i.answer, engine) for key, i in demo.intents.items()} == {
        key: [] for key in demo.intents
    }
