"""Texts without a digit or a colon skip the recognizers that need one, losing nothing."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlu.engine import TriageEngine
from nlu.phi.engine import _NEED_A_DIGIT_OR_COLON

# Letters of several scripts, punctuation and spaces; no digit of any script, no colon.
_NO_DIGITS = st.text(
    alphabet=st.characters(
        blacklist_categories=("Nd", "Cs"), blacklist_characters=":", max_codepoint=0x3000
    ),
    max_size=200,
)
# Texts shaped like the formats the gated recognizers look for, with the digits gone.
_NEAR_MISSES = [
    "my ssn is abc-de-fghi and my card is four two four two",
    "IBAN GB XX NWBK six zero one six one three",
    "Medicare MBI EG TE MK, address is Elm Street, zip code ABCDE",
    "license D ABCDEF, ip address is cafe.face, call me at five five five",
    "hex ff ab cd ef and DE AD BE EF, policy ZZZZZZZZ",
]


def _results(engine: TriageEngine, text: str) -> list[tuple[str, int, int, float]]:
    found = engine.phi.analyze(engine.nlp(text))
    return sorted((r.entity_type, r.start, r.end, r.score) for r in found)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_NO_DIGITS)
def test_recognizers_that_need_a_digit_find_nothing_without_one(
    engine: TriageEngine, text: str
) -> None:
    artifacts = engine.phi.engine.artifacts(engine.nlp.make_doc(text))
    gated = [
        r for r in engine.phi.full.registry.recognizers if isinstance(r, _NEED_A_DIGIT_OR_COLON)
    ]
    assert len(gated) == len(_NEED_A_DIGIT_OR_COLON)
    for recognizer in gated:
        assert recognizer.analyze(text=text, entities=[], nlp_artifacts=artifacts) == []


def test_the_lean_analyzer_finds_what_the_full_one_finds(engine: TriageEngine) -> None:
    for text in [*_NEAR_MISSES, "My name is Ana Lopez, my mom is Rosa", "hello there"]:
        doc = engine.nlp(text)
        artifacts = engine.phi.engine.artifacts(doc)
        full = engine.phi.full.analyze(text=text, language="en", nlp_artifacts=artifacts)
        assert _results(engine, text) == sorted(
            (r.entity_type, r.start, r.end, r.score) for r in full
        )


def test_a_digit_or_a_colon_brings_every_recognizer_back(engine: TriageEngine) -> None:
    assert ("US_SSN", 10, 21) in [t[:3] for t in _results(engine, "my ssn is 536-22-8726")]
    assert "CREDIT_CARD" in {t[0] for t in _results(engine, "my card 4111 1111 1111 1111")}
    assert "IP_ADDRESS" in {t[0] for t in _results(engine, "server at cafe:beef::face")}
