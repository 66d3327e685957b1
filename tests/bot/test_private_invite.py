"""The private invitation: in the person's language, an emergency's with its safety text."""

from __future__ import annotations

import pytest

from escalation.handover import private_invite
from nlu import templates
from nlu.models import Decision


def decision(action: str, reasons: list[str], language: str = "en") -> Decision:
    return Decision(id="m1", action=action, reasons=reasons, language=language)  # type: ignore[arg-type]


def test_an_escalation_invite_carries_the_link_and_no_safety_text() -> None:
    invite = private_invite(decision("escalate", ["phi:MRN"]), "https://h.example/p/t")
    assert invite.startswith(templates.PRIVATE_INVITE)
    assert invite.endswith("https://h.example/p/t")
    assert "988" not in invite


@pytest.mark.parametrize(
    ("kind", "first", "absent"),
    [
        ("self_harm", "988", None),
        ("overdose", "1-800-222-1222", None),
        ("cardiac", "911", "988"),
        ("violence", "1-800-799-7233", "988"),
    ],
)
def test_an_emergency_invite_begins_with_its_kind_of_help(
    kind: str, first: str, absent: str | None
) -> None:
    invite = private_invite(decision("emergency", ["emergency", f"emergency:{kind}"]), None)
    safety = invite.removesuffix(templates.PRIVATE_INVITE).strip()
    assert first in safety
    assert safety == templates.safety_text("en", {kind})
    if absent:
        assert absent not in safety


def test_a_spanish_invite_is_spanish() -> None:
    invite = private_invite(
        decision("emergency", ["emergency:self_harm", "lang:es"], "es"), "https://h.example/p/t"
    )
    assert "marque 2" in invite
    assert templates.for_language("es").private_invite in invite
    assert templates.PRIVATE_INVITE not in invite


def test_an_overdose_with_a_goodbye_gets_the_overdose_text() -> None:
    # Poison Control comes first; that text also names 988 for thoughts of self-harm.
    text = templates.safety_text("en", {"overdose", "self_harm"})
    assert "1-800-222-1222" in text
    assert "988" in text
    assert templates.safety_kind({"stroke", "bleeding"}) == "medical"
    assert templates.safety_kind(set()) == "general"
    assert templates.kinds_of(["emergency", "emergency:stroke", "lang:en"]) == {"stroke"}
