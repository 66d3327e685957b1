"""The plain reading of disguised identifiers, and the engine catching every disguise."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlu.engine import TriageEngine
from nlu.phi.disguise import may_hide_identifier, merge, reveal
from nlu.policy import IDENTIFIER_MIN_SCORE, IDENTIFIER_TYPES

READS_AS = [
    ("my ssn is one two three four five six seven eight nine", "my ssn is 123456789"),
    ("five five five, two three four, one two one two", "555-234-1212"),
    ("ssn 123 . 45 . 6789", "ssn 123-45-6789"),
    ("1-2-3-4-5-6-7-8-9", "123456789"),
    ("call 5 5 5 2 3 4 1 2 1 2 pls", "call 5552341212 pls"),
    ("5 5 5, 2 3 4, 1 2 1 2", "555-234-1212"),
    ("d o b 0 3 / 1 4 / 1 9 8 5", "dob 03-14-1985"),
    ("my m.r.n is 4421987", "my mrn is 4421987"),
    ("m r n 44219", "mrn 44219"),
    ("S.S.N. 078-05-1120", "SSN. 078-05-1120"),
    ("s s n", "ssn"),
    ("d.o.b", "dob"),
    ("my name is j0hn sm1th", "my name is john smith"),
    ("ph0ne 2025550143", "phone 2025550143"),
    ("my ce11 is", "my cell is"),
    ("$$n 078051120", "ssn 078051120"),
    ("five5five 1234567", "555 1234567"),
    ("555 two three four 1212", "555 234 1212"),
    ("five oh five", "505"),
    ("open 9 - 5", "open 9-5"),  # rewritten, yet no identifier: see the engine tests
    ("Rs 1,00,000 - 1,50,000", "Rs 1,00,000-1,50,000"),  # thousands stay apart
    ("cinco cinco cinco dos tres cuatro uno dos uno dos", "5552341212"),
    ("CERO siete, Ocho", "07-8"),
]

# Ordinary wording that must read as it is written.
UNCHANGED = [
    "one or two questions",
    "I have two kids and three dogs",
    "are you open 9 to 5",
    "call 1 800 555 0199 for the main line",
    "my appointment is at 10:30 on 3/14",
    "rooms 2, 3, 4 are closed",
    "oh, one more thing",
    "one oh",
    "tengo dos hijos y una hija",
    "cinco o seis personas",
    "covid19 shots at 7am, 4pm or 1st floor",
    "is 2.5 mg a lot",
    "my email is jo@example.com",
    "u.s.a",
    "",
]


@pytest.mark.parametrize(("text", "expected"), READS_AS)
def test_disguised_identifiers_read_plainly(text: str, expected: str) -> None:
    assert may_hide_identifier(text)
    reading = reveal(text)
    assert reading is not None
    assert reading.text == expected


@pytest.mark.parametrize("text", UNCHANGED)
def test_ordinary_wording_is_not_rewritten(text: str) -> None:
    assert reveal(text) is None


@pytest.mark.parametrize(
    "text", ["one or two questions", "I have two kids and three dogs", "are you open 9 to 5"]
)
def test_common_wording_skips_even_the_rewriting(text: str) -> None:
    assert not may_hide_identifier(text)


def test_a_span_of_the_reading_maps_to_the_words_it_came_from() -> None:
    text = "mrn: four four, two one nine eight seven thanks"
    reading = reveal(text)
    assert reading is not None
    start = reading.text.index("44-21987")
    original = reading.original_span(start, start + len("44-21987"))
    assert text[slice(*original)] == "four four, two one nine eight seven"
    assert reading.touches_change(start, start + 2)
    kept = reading.text.index("thanks")
    assert text[slice(*reading.original_span(kept, kept + 6))] == "thanks"
    assert not reading.touches_change(kept, kept + 6)


@dataclass
class _Result:
    entity_type: str
    start: int
    end: int


def test_merge_adds_only_what_the_plain_reading_alone_found() -> None:
    text = "John here, my mrn is four four two one"
    reading = reveal(text)
    assert reading is not None
    assert reading.text == "John here, my mrn is 4421"
    first = [_Result("PERSON", 0, 4)]
    second = [
        _Result("PERSON", 0, 4),  # found in the original already
        _Result("MEDICAL_RECORD_NUMBER", 21, 25),
        _Result("PERSON", 11, 13),  # a name guessed where nothing was rewritten
    ]
    added = merge(reading, first, second)
    assert [(r.entity_type, r.start, r.end) for r in added] == [
        ("MEDICAL_RECORD_NUMBER", 21, len(text))
    ]


_PIECES = st.lists(
    st.sampled_from(
        ["one", "two", "five", "oh", "nine", "cero", "dos", "siete", "5", "12", "7", "j0hn",
         "s", "s.", "n", "ph0ne", "m", "r", "d", "o", "b", "mrn", "visiting", "hours", "$$n"]
    ),
    max_size=12,
)  # fmt: skip
_SEPARATORS = st.sampled_from([" ", "  ", "-", " - ", ".", " . ", ",", ", ", "/", "\n", ": "])


@settings(max_examples=400, deadline=None)
@given(pieces=_PIECES, separators=st.lists(_SEPARATORS, min_size=12, max_size=12))
def test_the_pre_check_never_hides_a_rewrite(pieces: list[str], separators: list[str]) -> None:
    text = "".join(p + s for p, s in zip(pieces, separators, strict=False))
    reading = reveal(text)
    if not may_hide_identifier(text):
        assert reading is None
    if reading is not None:
        assert len(reading.sources) == len(reading.changed) == len(reading.text)
        starts = [a for a, _ in reading.sources]
        assert starts == sorted(starts)
        assert all(0 <= a < b <= len(text) for a, b in reading.sources)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_reads_without_error_and_maps_inside_itself(text: str) -> None:
    reading = reveal(text)
    if reading is not None:
        assert reading.text != text
        assert all(0 <= a < b <= len(text) for a, b in reading.sources)


# --- every disguise of a valid identifier is caught by the full engine --------------------

_WORDS = {
    "en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
    "es": ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"],
}


@st.composite
def _spelled(draw: st.DrawFn, groups: list[str]) -> str:
    """The digit groups written as words of either language, spaced digits, or both."""
    language = draw(st.sampled_from(["en", "es"]))
    style = draw(st.sampled_from(["words", "spaced", "mixed"]))
    written: list[str] = []
    for group in groups:
        out, prev_word = "", False
        for i, digit in enumerate(group):
            word = style == "words" or (style == "mixed" and draw(st.booleans()))
            token = _WORDS[language][int(digit)] if word else digit
            if i:
                # a word and a digit may touch ("five5five"); two digits never do
                fused = (word != prev_word) and draw(st.booleans())
                out += "" if fused else " "
            out += token
            prev_word = word
        written.append(out)
    mark = draw(st.sampled_from([" ", ", ", " - ", " . ", "-", "."]))
    return mark.join(written)


@st.composite
def _ssn(draw: st.DrawFn) -> tuple[str, list[str]]:
    area = draw(st.integers(1, 899).filter(lambda a: a != 666))
    group, serial = draw(st.integers(1, 99)), draw(st.integers(1, 9999))
    label = draw(st.sampled_from(["ssn", "s.s.n", "s s n", "$$n", "social security number"]))
    return label, [f"{area:03d}", f"{group:02d}", f"{serial:04d}"]


@st.composite
def _phone(draw: st.DrawFn) -> tuple[str, list[str]]:
    # NANP: area and exchange codes start 2-9; N11 codes are services, not lines
    area = draw(st.from_regex(r"[2-9][0-8][0-9]", fullmatch=True).filter(lambda a: a[1:] != "11"))
    exchange = draw(st.from_regex(r"[2-9][0-9]{2}", fullmatch=True))
    line = draw(st.from_regex(r"[0-9]{4}", fullmatch=True))
    label = draw(st.sampled_from(["phone", "ph0ne", "cell", "ce11", "number"]))
    return label, [area, exchange, line]


@st.composite
def _mrn(draw: st.DrawFn) -> tuple[str, list[str]]:
    digits = draw(st.from_regex(r"[0-9]{4,10}", fullmatch=True))
    cut = draw(st.integers(0, len(digits) - 1))
    groups = [digits[:cut], digits[cut:]] if cut >= 2 else [digits]
    label = draw(st.sampled_from(["mrn", "m.r.n", "m r n", "medical record number"]))
    return label, groups


@st.composite
def _dob(draw: st.DrawFn) -> tuple[str, list[str]]:
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    year = draw(st.integers(1920, 2024))
    label = draw(st.sampled_from(["dob", "d.o.b", "d o b", "date of birth"]))
    return label, [f"{month:02d}", f"{day:02d}", str(year)]


_QUESTIONS = ["what are visiting hours?", "where do I park?", "cual es el horario de visitas?"]
_PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _assert_caught(engine: TriageEngine, text: str) -> None:
    decision = engine.triage("d", text)
    kinds = {
        e.type
        for e in decision.entities
        if e.type in IDENTIFIER_TYPES and e.score >= IDENTIFIER_MIN_SCORE
    }
    assert kinds, text
    assert decision.action != "reply", text
    for entity in decision.entities:
        assert 0 <= entity.start <= entity.end <= len(text)


@pytest.mark.parametrize("identifier", [_ssn(), _phone(), _mrn(), _dob()], ids=repr)
def test_every_disguise_of_a_valid_identifier_is_caught(
    engine: TriageEngine, identifier: st.SearchStrategy[tuple[str, list[str]]]
) -> None:
    @_PROPERTY
    @given(data=st.data(), question=st.sampled_from(_QUESTIONS))
    def check(data: st.DataObject, question: str) -> None:
        label, groups = data.draw(identifier)
        number = data.draw(_spelled(groups))
        _assert_caught(engine, f"{question} my {label} is {number}")

    check()
