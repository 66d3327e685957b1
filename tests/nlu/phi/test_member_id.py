"""MemberIdRecognizer: insurance member/policy/group IDs and account numbers, in context."""

from __future__ import annotations

import pytest

from nlu.phi.recognizers.member_id import MemberIdRecognizer

RECOGNIZER = MemberIdRecognizer()
ENTITY = "MEMBER_ID"

MUST_MATCH = [
    ("member id XGH123456789", "XGH123456789"),
    ("my policy number is 44-55120-9", "44-55120-9"),
    ("subscriber ID W123456789", "W123456789"),
    ("account # 100234987", "100234987"),
    ("acct no. 5512-0098", "5512-0098"),
    ("group number 0098123", "0098123"),
    ("member id: xgh123456789 pls help", "xgh123456789"),
    ("my insurance id is ZGP8812344", "ZGP8812344"),
    ("medicaid # 123456789012", "123456789012"),
    ("policy# ABC-1234567", "ABC-1234567"),
    ("claim number 2023-0098812", "2023-0098812"),
    ("grp 0098123", "0098123"),
]
MUST_NOT_MATCH = [
    "XGH123456789",
    "my account got hacked",
    "our policy is great",
    "group #3",
    "member services 1-800-555-0100",
    "member number 1-800-555-0100",
    "the group of 12345 people",
    "what is my member id?",
    "account number please",
    "I have been a member for 12 years",
]


@pytest.mark.parametrize(("text", "expected"), MUST_MATCH)
def test_member_id_after_a_cue_is_found_without_the_cue(text: str, expected: str) -> None:
    results = RECOGNIZER.analyze(text, [ENTITY])
    assert [text[r.start : r.end] for r in results] == [expected]
    assert all(r.entity_type == ENTITY for r in results)


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_member_id_requires_a_context_word_and_a_plausible_value(text: str) -> None:
    assert RECOGNIZER.analyze(text, [ENTITY]) == []


def test_member_id_is_scored_as_context_confirmed() -> None:
    (result,) = RECOGNIZER.analyze("member id XGH123456789", [ENTITY])
    assert 0.85 <= result.score <= 0.95
    assert RECOGNIZER.name == "MemberIdRecognizer"


@pytest.mark.parametrize("unit", ["1", "member id ", "acct ", "policy # ", "A1-", "grp"])
def test_member_id_finishes_on_100kb_hostile_input(unit: str) -> None:
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    RECOGNIZER.analyze(text, [ENTITY])
