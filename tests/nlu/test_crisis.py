"""Crisis cues in a person's own words, and the frames that set them apart (English, Spanish)."""

from __future__ import annotations

import pytest

from nlu.crisis import assess, frame, seconded
from nlu.languages import LanguagePack, load_pack

EN = load_pack("en")
ES = load_pack("es")


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("tonight is the night, i've made my choice", {"self_harm"}),
        ("bought the rope today. it's almost over", {"self_harm"}),
        ("tell my sister i'm sorry, this is my last message", {"self_harm"}),
        ("swallowed everything in the cabinet an hour ago", {"overdose"}),
        ("i don't want to be here anymore", {"self_harm"}),
        ("i took a whole bottle of pills and said goodbye to my mom", {"overdose", "self_harm"}),
        ("esta noche me voy a quitar la vida", {"self_harm"}),
        ("ya no quiero vivir", {"self_harm"}),
        ("me tomé todas las pastillas hace una hora", {"overdose"}),
    ],
)
def test_a_crisis_in_own_words_is_found(text: str, kinds: set[str]) -> None:
    pack = ES if any(w in text for w in ("noche", "quiero", "tomé")) else EN
    crisis = assess(text, pack)
    assert crisis.found
    assert crisis.kinds == kinds
    assert crisis.set_apart is None


@pytest.mark.parametrize(
    ("text", "frame"),
    [
        ("i'm not suicidal, just asking about parking", "neutral"),
        ("this traffic is killing me", "neutral"),
        ("the news said suicide rates went up this year", "news"),
        ("my book club is reading a novel about suicide and grief", "fiction"),
        ("what should someone do if a friend talks about suicide", "hypothetical"),
        (
            "five years ago i tried to kill myself and your staff saved my life, thank you",
            "past",
        ),
        ("this line is so long i want to die lol", "laughter"),
    ],
)
def test_what_is_not_a_crisis_now_is_set_apart(text: str, frame: str | None) -> None:
    crisis = assess(text, EN)
    assert not crisis.found
    assert crisis.set_apart == frame


def test_a_plan_is_never_taken_as_a_joke() -> None:
    # Laughter sets apart hyperbole, never means or a plan stated plainly.
    crisis = assess("bought the rope today, it's almost over lol", EN)
    assert crisis.found
    assert crisis.kinds == {"self_harm"}


def test_the_past_is_not_resolved_when_it_is_happening_again() -> None:
    text = "five years ago i tried to kill myself, thank you all, and tonight i want to die again"
    assert assess(text, EN).found


def test_spanish_read_with_the_english_pack_skips_topic_cognates() -> None:
    # "suicidio" in Spanish news is a topic word in both languages: the English pack must not
    # raise an alarm on a Spanish text its own frames set apart.
    text = "las noticias dicen que el suicidio aumentó este año"
    assert not assess(text, EN, native=ES).found
    assert not assess(text, ES).found


def test_groups_name_the_signals_found() -> None:
    crisis = assess("i have the pills ready and i wrote my goodbye letters", EN)
    assert crisis.found
    assert len(crisis.groups) >= 2
    assert crisis.mentioned


@pytest.mark.parametrize(
    ("text", "pack", "care", "red_flag"),
    [
        ("my skin itches all over, is there any cream that helps", EN, True, False),
        ("what are the early symptoms of this syndrome", EN, True, False),
        ("my arm went numb and my chest hurts, is there any medicine for this", EN, True, True),
        ("my ankle is swollen, please help", EN, False, False),
        ("me pica todo el cuerpo, hay alguna crema que ayude", ES, True, False),
        ("me duele el pecho, que puedo tomar", ES, True, True),
    ],
)
def test_a_care_question_and_its_red_flags_are_read(
    text: str, pack: LanguagePack, care: bool, red_flag: bool
) -> None:
    # The engine sets a classifier-only emergency vote apart for a care question, never
    # when a red flag (chest, breathing, numbness…) is named with it.
    assert frame(text, pack, "care_question") is care
    assert frame(text, pack, "red_flag") is red_flag


def test_one_warning_sign_seconded_by_the_classifier_is_a_crisis() -> None:
    alone = assess("i keep staring at the bottle of my moms sleeping pills", EN)
    assert not alone.found
    assert alone.groups == ("means",)
    assert seconded(alone).kinds == {"self_harm"}
    # A sign set apart (news, a joke) is never seconded into a crisis.
    news = assess("new study on suicide rates in teens", EN)
    assert news.set_apart == "news"
    assert not seconded(news).found
    joke = assess("this exam is killing me lol", EN)
    assert not seconded(joke).found
