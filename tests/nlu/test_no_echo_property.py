"""Property: no public reply ever contains a span of its input that the templates lack."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from nlu import templates
from nlu.engine import TriageEngine
from nlu.faq import DEMO_CONTENT_DIR, load_faq
from nlu.languages import available

_INTENTS = load_faq(DEMO_CONTENT_DIR).intents.values()
PUBLIC_TEXTS = [
    *(text for code in available() for text in templates.all_public(code)),
    *(i.answer for i in _INTENTS),
    *(text for i in _INTENTS for text in i.translations.values()),
]
PUBLIC_FOLDED = " ".join(PUBLIC_TEXTS).casefold()

# Things people put in public comments that must never come back out.
secret = st.one_of(
    st.text(alphabet=string.ascii_letters, min_size=4, max_size=12),  # names, words
    st.from_regex(r"[0-9]{3}-[0-9]{2}-[0-9]{4}", fullmatch=True),  # SSN shape
    st.from_regex(r"[0-9]{6,10}", fullmatch=True),  # MRN, member number
    st.from_regex(r"[A-Z][a-z]{2,8} [A-Z][a-z]{2,10}", fullmatch=True),  # First Last
    st.from_regex(r"[a-z]{3,8}@[a-z]{3,8}\.(com|org)", fullmatch=True),  # email
)
frame = st.sampled_from(
    [
        "{}",
        "my name is {} and when are visiting hours?",
        "hi, {} here, where do I park?",
        "is {} your phone number",
        "Do you take {} insurance?",
        "my mrn is {} can you check my bill",
        "{} {} {} {} {} {} {}",
        "thanks {}!!",
        "what are your opening hours for {} clinic",
    ]
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(secret=secret, frame=frame, noise=st.text(max_size=40))
def test_public_reply_never_contains_a_secret_from_the_message(
    engine: TriageEngine, secret: str, frame: str, noise: str
) -> None:
    assume(secret.casefold() not in PUBLIC_FOLDED)
    text = frame.format(*([secret] * frame.count("{}"))) + " " + noise
    decision = engine.triage("p", text)
    if decision.reply is not None:
        assert decision.reply in PUBLIC_TEXTS  # only approved texts ever go out
        assert secret.casefold() not in decision.reply.casefold()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.text(max_size=300))
def test_any_text_gets_a_decision_with_an_approved_reply_or_none(
    engine: TriageEngine, text: str
) -> None:
    decision = engine.triage("p", text)
    assert decision.action in {"reply", "escalate", "emergency", "ignore"}
    assert decision.reply is None or decision.reply in PUBLIC_TEXTS
    for entity in decision.entities:
        assert 0 <= entity.start <= entity.end <= len(text)
