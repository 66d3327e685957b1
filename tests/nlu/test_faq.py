"""Loading FAQ content from Rasa YAML: the demo loads, broken files say file:line:what."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from nlu.faq import DEMO_CONTENT_DIR, GUARD_CLASSES, FaqError, load_faq, parse_examples

DESIGN_INTENTS = {
    "visiting_hours", "parking", "directions", "appointments", "billing_insurance", "contact",
    "opening_hours", "medical_records", "careers", "vaccines", "greeting",
}  # fmt: skip


def test_demo_content_has_every_design_intent_with_an_answer() -> None:
    content = load_faq(DEMO_CONTENT_DIR)
    assert set(content.intents) == DESIGN_INTENTS
    for intent in content.intents.values():
        assert len(intent.examples) >= 30
        assert intent.answer.strip()
    assert set(content.guards) == set(GUARD_CLASSES)


def test_demo_content_is_rasa_shaped() -> None:
    nlu = yaml.safe_load((DEMO_CONTENT_DIR / "nlu.yml").read_text())
    domain = yaml.safe_load((DEMO_CONTENT_DIR / "domain.yml").read_text())
    assert str(nlu["version"]).startswith("3")
    assert all(item["intent"].startswith("faq/") or item["intent"] in GUARD_CLASSES
               for item in nlu["nlu"])  # fmt: skip
    assert "faq" in domain["intents"]
    assert all(
        key.startswith("utter_faq/") or key == "utter_welcome" for key in domain["responses"]
    )


def test_version_changes_with_content(tmp_path: Path) -> None:
    shutil.copytree(DEMO_CONTENT_DIR, tmp_path, dirs_exist_ok=True)
    before = load_faq(tmp_path).version
    domain = tmp_path / "domain.yml"
    domain.write_text(domain.read_text().replace("Riverside", "Riverbend", 1))
    assert load_faq(tmp_path).version != before


def test_parse_examples_strips_entity_annotations() -> None:
    block = "- where do I park at [Main Campus](location)\n- hi\n\n"
    assert parse_examples(block) == ("where do I park at Main Campus", "hi")


def _write(tmp_path: Path, nlu: str, domain: str | None = None) -> Path:
    (tmp_path / "nlu.yml").write_text(nlu)
    (tmp_path / "domain.yml").write_text(
        domain
        if domain is not None
        else 'version: "3.1"\nresponses:\n  utter_faq/parking:\n  - text: "Park in garage A."\n'
    )
    return tmp_path


@pytest.mark.parametrize(
    ("nlu", "expected"),
    [
        (
            'version: "3.1"\nnlu:\n- intent: faq/parking\n  examples: |\n    - where to park\n'
            "  - bad: [\n",
            "nlu.yml:6",
        ),
        (
            'version: "3.1"\nnlu:\n- intent: faq/parking\n  examples: |\n    - where to park\n'
            "- intent: Faq Parking!\n  examples: |\n    - x\n",
            "nlu.yml:6: nlu.1.intent",
        ),
        (
            'version: "3.1"\nnlu:\n- intent: faq/parking\n  examples: |\n    where to park\n',
            "nlu.yml:4: nlu.0.examples: example line",
        ),
        (
            'version: "3.1"\nnlu:\n- intent: faq/parking\n  examples: |\n    - where to park\n'
            "- intent: chitchat\n  examples: |\n    - hello\n",
            "nlu.yml:6: intent 'chitchat'",
        ),
        ("- just a list\n", "nlu.yml:1: expected a mapping"),
    ],
)
def test_invalid_nlu_file_names_file_line_and_problem(
    tmp_path: Path, nlu: str, expected: str
) -> None:
    with pytest.raises(FaqError) as caught:
        load_faq(_write(tmp_path, nlu))
    assert expected in str(caught.value)


def test_faq_intent_without_answer_is_refused(tmp_path: Path) -> None:
    nlu = 'version: "3.1"\nnlu:\n- intent: faq/careers\n  examples: |\n    - jobs?\n'
    with pytest.raises(FaqError, match="no utter_faq/<key> response for: careers"):
        load_faq(_write(tmp_path, nlu))


def test_same_example_under_two_intents_is_refused(tmp_path: Path) -> None:
    nlu = (
        'version: "3.1"\nnlu:\n- intent: faq/parking\n  examples: |\n    - Where to park\n'
        "- intent: out_of_scope\n  examples: |\n    - where to park\n"
    )
    with pytest.raises(FaqError, match="listed under both"):
        load_faq(_write(tmp_path, nlu))


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FaqError, match=r"nlu\.yml: file not found"):
        load_faq(tmp_path)
