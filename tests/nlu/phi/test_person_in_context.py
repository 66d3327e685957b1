"""PersonInContextRecognizer: names the text itself marks as a person; never clinicians."""

from __future__ import annotations

import pytest

from nlu.phi.recognizers.person_in_context import PersonInContextRecognizer

RECOGNIZER = PersonInContextRecognizer()
ENTITY = "PERSON"

MUST_MATCH = [
    ("my son Tyler is in the ER", "Tyler"),
    ("im the daughter of robert chen, he's on the 5th floor", "robert chen"),
    ("this is maria gonzalez, can someone call me back", "maria gonzalez"),
    ("hi its kevin ramos from room 12", "kevin ramos"),
    ("my daughter Chloe Adams has a fever", "Chloe Adams"),
    ("my husband Mark", "Mark"),
    ("Grandpa Walter Burns fell last night", "Walter Burns"),
    ("my mom, Linda Reyes, is upstairs", "Linda Reyes"),
    ("patient Harold Finch", "Harold Finch"),
    ("pt john smith needs a call back", "john smith"),
    ("Hi, I'm Priya Nair.", "Priya Nair"),
    ("I am Priya Nair", "Priya Nair"),
    ("this is Daniel Price calling about my bill", "Daniel Price"),
    ("my name is daniel price and i need help", "daniel price"),
    ("name: Ana Silva", "Ana Silva"),
    ("Please call me back. - Maria G.", "Maria G."),
    ("my son tyler is in the er", "tyler"),
    ("MY SON TYLER IS IN THE ER", "TYLER"),
    ("my 5 year old son tyler broke his arm", "tyler"),
    ("my daughter chloe adams has a fever", "chloe adams"),
    ("Harold Finch DOB 01/02/1950", "Harold Finch"),
    ("Ana Silva, born March 3, 1988", "Ana Silva"),
    ("john smith dob 1/2/90", "john smith"),
    ("my son's name is tyler", "tyler"),
    ("my mom Mrs. Linda Reyes", "Linda Reyes"),
    ("our son Max O'Brien", "Max O'Brien"),
    ("my son Will", "Will"),
    ("Thanks, Maria", "Maria"),
    ("Tyler's DOB 1/1/2015", "Tyler"),
    ("this is Tyler's mom", "Tyler"),
]
MUST_NOT_MATCH = [
    "this is so frustrating, nobody answers",
    "this is taking forever, how long is the wait",
    "mother of two here, do you have family parking",
    "the son of a friend works there",
    "my son is sick",
    "my mom has covid",
    "my husband and I waited 3 hours",
    "my daughter's school called",
    "my son just got admitted",
    "my wife really needs help",
    "my son will be fine",
    "Dr. Lopez was great",
    "Doctor Smith saw us",
    "nurse Kelly was so kind",
    "this is Dr Lopez",
    "This is Kelly Smith, RN",
    "my mom Dr. Linda Reyes",
    "patient portal is down",
    "Patient Portal login",
    "I'm sorry",
    "i'm so tired",
    "this is ridiculous",
    "This is Riverside Medical Center",
    "Thanks Tyler for helping",
    "Thanks again!",
    "grandma is sick",
    "I am a nurse",
    "This is Riverside's new urgent care",
    "My Mother's DOB 1/1/50",
    "my mom COVID positive",
    "Our patients come first - Riverside Team",
]


@pytest.mark.parametrize(("text", "expected"), MUST_MATCH)
def test_name_after_a_person_cue_is_found_without_the_cue(text: str, expected: str) -> None:
    results = RECOGNIZER.analyze(text, [ENTITY])
    assert [text[r.start : r.end] for r in results] == [expected]
    assert all(r.entity_type == ENTITY for r in results)


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_common_words_after_cues_and_clinicians_are_not_names(text: str) -> None:
    assert RECOGNIZER.analyze(text, [ENTITY]) == []


def test_person_scores_are_context_confirmed() -> None:
    (capitalised,) = RECOGNIZER.analyze("my son Tyler", [ENTITY])
    (lowercase,) = RECOGNIZER.analyze("my son tyler", [ENTITY])
    assert 0.85 <= lowercase.score <= capitalised.score <= 0.95
    assert RECOGNIZER.name == "PersonInContextRecognizer"


@pytest.mark.parametrize(
    "unit",
    ["a", "my son ", "my son a", "Mr ", "name: ", "- Aa ", "Aa Aa dob ", "I'm Aa ", "Aa'", "x-"],
)
def test_person_finishes_on_100kb_hostile_input(unit: str) -> None:
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    RECOGNIZER.analyze(text, [ENTITY])
