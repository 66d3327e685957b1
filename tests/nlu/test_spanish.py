"""Spanish messages: routine questions answered in Spanish, anyone's health kept private.

Bare "puedo", "esta noche", "a propósito" or "gracias por todo" ask about a service or
thank the staff; they are no advice request or crisis cue on their own.
"""

from __future__ import annotations

import pytest

from nlu.engine import TriageEngine
from nlu.faq import DEMO_CONTENT_DIR, load_faq

ROUTINE = [
    ("puedo pagar en linea", "billing_insurance"),
    ("¿tienen la vacuna contra la gripe?", "vaccines"),
    ("cuanto cuesta la vacuna de la gripe", "vaccines"),
    ("a proposito, a que hora abren?", "opening_hours"),
    ("puedo visitar a mi mama esta noche", "visiting_hours"),
    ("estoy lista para mi cita de mañana", "appointments"),
    ("dónde me puedo vacunar contra la gripe", "vaccines"),
    ("tienen vacunas contra el covid", "vaccines"),
]

PRIVATE = [
    ("mi mama esta internada en el cuarto 412 como esta", "ROOM_NUMBER"),
    ("me siento muy triste todos los dias", None),
    ("tengo una bola en el seno", None),
    ("sali positivo en la prueba del covid puedo ir a trabajar", None),
    ("tengo gripe", None),
    ("me dieron de alta ayer y sigo con mareos", None),
    ("quiero saber los resultados de mis analisis", None),
    ("necesito una carta de mi medico para el trabajo", None),
]


@pytest.mark.parametrize(("text", "intent"), ROUTINE)
def test_a_spanish_routine_question_gets_its_spanish_answer(
    engine: TriageEngine, text: str, intent: str
) -> None:
    decision = engine.triage("es-routine", text)
    assert (decision.action, decision.intent) == ("reply", intent), decision.reasons
    assert "lang:es" in decision.reasons


@pytest.mark.parametrize(("text", "entity"), PRIVATE)
def test_spanish_health_of_a_person_is_never_answered_in_public(
    engine: TriageEngine, text: str, entity: str | None
) -> None:
    decision = engine.triage("es-private", text)
    assert decision.action == "escalate", decision.reasons
    assert "health_info" in decision.reasons
    if entity:
        assert entity in {e.type for e in decision.entities}


def test_every_spanish_faq_example_is_answered(engine: TriageEngine) -> None:
    content = load_faq(DEMO_CONTENT_DIR)
    examples = [
        (f"{key}-{n}", text, key)
        for key, intent in content.intents.items()
        for text in intent.localized_examples.get("es", ())
        for n in [len(text)]
    ]
    assert len(examples) > 100
    decisions = engine.triage_many([(i, t) for i, t, _ in examples])
    unanswered = [
        t for d, (_, t, _) in zip(decisions, examples, strict=True) if d.action != "reply"
    ]
    assert unanswered == []


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("me llamo Rosa Martinez y quiero saber si ya estan mis resultados", "PERSON"),
        ("mi hija Ana Lopez tiene cita el martes", "PERSON"),
        ("naci el 3 de mayo de 1980 y necesito mi historial", "DATE_OF_BIRTH"),
        ("mi fecha de nacimiento es 12/03/1985", "DATE_OF_BIRTH"),
        ("mi numero de miembro es XJH448812", "MEMBER_ID"),
        ("vivo en 1420 calle Olmo, apartamento 5", "STREET_ADDRESS"),
    ],
)
def test_spanish_identifiers_are_found_and_escalate(
    engine: TriageEngine, text: str, entity: str
) -> None:
    decision = engine.triage("es-phi", text)
    assert decision.action == "escalate", decision.reasons
    assert f"phi:{entity}" in decision.reasons


@pytest.mark.parametrize(
    "text",
    [
        "mi hijo tiene cita el martes, donde me estaciono",
        "vivo en Texas hace 5 años, tienen pediatras?",
    ],
)
def test_spanish_words_after_a_cue_are_not_taken_for_identifiers(
    engine: TriageEngine, text: str
) -> None:
    decision = engine.triage("es-plain", text)
    assert not [r for r in decision.reasons if r.startswith("phi:")], decision.reasons


def test_the_intensive_care_unit_named_in_a_visiting_question_is_a_service(
    engine: TriageEngine,
) -> None:
    decision = engine.triage("es-uci", "a que hora es la visita en terapia intensiva")
    assert (decision.action, decision.intent) == ("reply", "visiting_hours")


@pytest.mark.parametrize(
    "text", ["mi mama esta en terapia intensiva desde ayer", "estoy en urgencias con mi hijo"]
)
def test_someone_in_intensive_care_or_the_er_is_health_information(
    engine: TriageEngine, text: str
) -> None:
    decision = engine.triage("es-uci", text)
    assert decision.action == "escalate"
    assert "health_info" in decision.reasons
