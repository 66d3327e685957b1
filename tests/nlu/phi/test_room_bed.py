"""RoomBedRecognizer: patient room, bed and bay numbers, with an optional unit prefix."""

from __future__ import annotations

import pytest

from nlu.phi.recognizers.room_bed import RoomBedRecognizer

RECOGNIZER = RoomBedRecognizer()
ENTITY = "ROOM_NUMBER"

MUST_MATCH = [
    ("my dad is in room 220", "room 220"),
    ("rm 4B", "rm 4B"),
    ("she's in bed 12 by the window", "bed 12"),
    ("room 512 bed 2", "room 512 bed 2"),
    ("mom is in 4 west room 12", "4 west room 12"),
    ("ICU bed 7", "ICU bed 7"),
    ("they moved him to bay 3", "bay 3"),
    ("visiting rm. 4b tonite", "rm. 4b"),
    ("Room #220", "Room #220"),
    ("room 512, bed 2", "room 512, bed 2"),
    ("NICU pod 3", "NICU pod 3"),
    ("L&D room 5", "L&D room 5"),
    ("hospital room 412", "room 412"),
]
MUST_NOT_MATCH = [
    "room for improvement",
    "the waiting room is full",
    "went to the emergency room",
    "ER was packed",
    "room 1 of the conference center",
    "conference room 3",
    "Tampa Bay 3 Dallas 0",
    "room 2 people at a time",
    "bed rest for 2 weeks",
    "the bedroom 2",
    "classroom 5",
    "in the room 2 hours",
    "bed 3 days ago",
]


@pytest.mark.parametrize(("text", "expected"), MUST_MATCH)
def test_room_or_bed_with_a_number_is_found(text: str, expected: str) -> None:
    results = RECOGNIZER.analyze(text, [ENTITY])
    assert [text[r.start : r.end] for r in results] == [expected]
    assert all(r.entity_type == ENTITY for r in results)


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_rooms_without_number_or_of_non_clinical_spaces_do_not_match(text: str) -> None:
    assert RECOGNIZER.analyze(text, [ENTITY]) == []


def test_unit_prefix_raises_the_score() -> None:
    (plain,) = RECOGNIZER.analyze("bed 7", [ENTITY])
    (unit,) = RECOGNIZER.analyze("ICU bed 7", [ENTITY])
    assert 0.85 <= plain.score < unit.score <= 0.95
    assert RECOGNIZER.name == "RoomBedRecognizer"


@pytest.mark.parametrize("unit", ["1", "room ", "rm 1", "4 west ", "icu ", "bed 1 ", "room 1 of "])
def test_room_bed_finishes_on_100kb_hostile_input(unit: str) -> None:
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    RECOGNIZER.analyze(text, [ENTITY])
