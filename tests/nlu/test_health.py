"""Tests for nlu.health: what HealthTermFinder finds, what it leaves alone, and its offsets."""

from __future__ import annotations

import itertools
import random
import string
import threading
from pathlib import Path

import pytest

from nlu.health import HealthKind, HealthTerm, HealthTermFinder

SENSITIVE = {HealthKind.CONDITION, HealthKind.SYMPTOM, HealthKind.MEDICATION}
# The engine treats lab values as sensitive too, so routine questions must not produce them.
ROUTINE_FORBIDDEN = SENSITIVE | {HealthKind.LAB_VALUE}


@pytest.fixture(scope="module")
def finder() -> HealthTermFinder:
    return HealthTermFinder()


def found(finder: HealthTermFinder, text: str) -> list[tuple[HealthKind, str]]:
    return [(term.kind, text[term.start : term.end]) for term in finder.find(text)]


# --- MUST tables: (text, expected matched substring) per kind ---

CONDITIONS = [
    ("my dad has diabetes", "diabetes"),
    ("she is diabetic and worried", "diabetic"),
    ("I have type 2 and need help", "type 2"),
    ("i was told i have high blood pressure", "high blood pressure"),
    ("my mom has stage 4 breast cancer", "breast cancer"),
    ("they found a tumor on his liver", "tumor"),
    ("my son has strep throat again", "strep throat"),
    ("I've had the flu all week", "flu"),
    ("I tested positive for covid yesterday", "covid"),
    ("my daughter has a uti", "uti"),
    ("he has COPD and asthma", "COPD"),
    ("my anxiety is getting worse", "anxiety"),
    ("I'm 20 weeks pregnant", "weeks pregnant"),
    ("I had a miscarriage last month", "miscarriage"),
    ("he got a concussion at football", "concussion"),
    ("I broke my arm skating", "broke my arm"),
    ("she has a sprained ankle", "sprained ankle"),
    ("my grandpa has Parkinson's", "Parkinson's"),
    ("grandma has alzheimers", "alzheimers"),
    ("my wife has MS and is tired", "MS"),
    ("my son has ADD", "ADD"),
    ("my father had a stroke last year", "had a stroke"),
    ("do you treat lyme disease", "lyme disease"),
    ("I have diabeties", "diabeties"),
    ("bad case of pnuemonia", "pnuemonia"),
    ("my kidney problems are back", "kidney problems"),
    ("I have an eye infection", "eye infection"),
    ("I was diagnosed with costochondritis", "costochondritis"),
    ("he has sarcoidosis", "sarcoidosis"),
    ("my celiac disease flared", "celiac disease"),
    ("i think my wrist is broken", "wrist is broken"),
    ("she has a bad case of poison ivy", "poison ivy"),
    ("my acid reflux keeps me up", "acid reflux"),
    ("she has c. diff again", "c. diff"),
    ("I have hiv", "hiv"),
    ("my son is autistic", "autistic"),
    ("postpartum depression is hard", "postpartum depression"),
]

SYMPTOMS = [
    ("my knee is in so much pain", "pain"),
    ("my tooth aches", "tooth aches"),
    ("my back hurts", "back hurts"),
    ("I have a sore throat", "sore throat"),
    ("her ankle is swollen", "ankle is swollen"),
    ("there's a rash on my arm", "rash"),
    ("he has a bad cough", "cough"),
    ("I can't stop vomiting", "vomiting"),
    ("she keeps throwing up", "throwing up"),
    ("nausea all morning", "nausea"),
    ("I have diarhea", "diarhea"),
    ("I feel dizzy when I stand", "dizzy"),
    ("my son fainted at school", "fainted"),
    ("I found a lump in my breast", "lump in my"),
    ("my skin is so itchy", "skin is so itchy"),
    ("my hand feels numb", "hand feels numb"),
    ("tingling in my fingers", "tingling"),
    ("shortness of breath since yesterday", "shortness of breath"),
    ("I get bad headaches", "headaches"),
    ("I'm tired all the time", "tired all the time"),
    ("I can't sleep at night", "can't sleep"),
    ("I cant sleep", "cant sleep"),
    ("I have blurry vision", "blurry vision"),
    ("white spots on my tonsils", "white spots"),
    ("there is blood in my stool", "blood in my stool"),
    ("chest tightness when I walk", "chest tightness"),
    ("I get palpitations at night", "palpitations"),
    ("my knee pain is worse", "knee pain"),
    ("I have a sore knee", "sore knee"),
    ("yellow discharge from my eye", "discharge"),
    ("the itching is worse", "itching"),
    ("my stomach has been killing me", "stomach has been killing"),
    ("my eyes are red and crusty", "eyes are red"),
    ("I got swollen glands", "swollen glands"),
]

MEDICATIONS = [
    ("can I take advil now", "advil"),
    ("is ibuprofen ok", "ibuprofen"),
    ("I took tylenol", "tylenol"),
    ("she takes metformin", "metformin"),
    ("I'm on lisinopril", "lisinopril"),
    ("he takes Lipitor daily", "Lipitor"),
    ("they gave me amoxicillin", "amoxicillin"),
    ("they gave me amoxicilin", "amoxicilin"),
    ("my prednisone ran out", "prednisone"),
    ("I take zoloft", "zoloft"),
    ("need more xanax", "xanax"),
    ("his adderall prescription", "adderall"),
    ("is ozempic covered", "ozempic"),
    ("I'm on birth control", "birth control"),
    ("I'm on the pill", "the pill"),
    ("I forgot my pills", "pills"),
    ("do I need antibiotics", "antibiotics"),
    ("side effects from my meds", "side effects"),
    ("what dosage should I take", "dosage"),
    ("taking blood thinners", "blood thinners"),
    ("my doctor started me on xyzolol", "xyzolol"),
    ("they switched me to foobarstatin", "foobarstatin"),
    ("they gave him a z-pack", "z-pack"),
    ("I was prescribed an inhaler", "inhaler"),
    ("insulin is so expensive", "insulin"),
    ("I had a reaction to the covid vaccine", "reaction to the covid vaccine"),
    ("my dad's blood pressure meds make him dizzy", "blood pressure meds"),
]

PROCEDURES = [
    ("I'm having surgery next week", "surgery"),
    ("my biopsy results", "biopsy"),
    ("she starts chemotherapy monday", "chemotherapy"),
    ("he is on dialysis", "dialysis"),
    ("waiting for a kidney transplant", "kidney transplant"),
    ("my colonoscopy is friday", "colonoscopy"),
    ("I need a mammogram", "mammogram"),
    ("I had a c-section", "c-section"),
    ("I had a c section", "c section"),
    ("should I get an epidural", "epidural"),
    ("we are doing ivf", "ivf"),
    ("after my knee replacement", "knee replacement"),
    ("I got stitches", "stitches"),
    ("the ct scan showed", "ct scan"),
    ("my x-ray was fine", "x-ray"),
    ("my xray was fine", "xray"),
    ("the ultrasound showed a cyst", "ultrasound"),
    ("I need a blood test", "blood test"),
    ("I had an ekg", "ekg"),
    ("my appendectomy scar", "appendectomy"),
    ("she had a rhinoplasty", "rhinoplasty"),
    ("my wife had her gallbladder removed", "gallbladder removed"),
]

LAB_VALUES = [
    ("my a1c of 7.2 is worrying", "a1c of 7.2"),
    ("A1C 9 last week", "A1C 9"),
    ("blood pressure 150/95 this morning", "blood pressure 150/95"),
    ("bp 140/90 today", "bp 140/90"),
    ("my sugar is 300", "sugar is 300"),
    ("glucose 250 after lunch", "glucose 250"),
    ("temp of 101.5 tonight", "temp of 101.5"),
    ("a fever of 102 since yesterday", "fever of 102"),
    ("it was 100.4 F last night", "100.4 F"),
    ("psa 6.1 at my checkup", "psa 6.1"),
    ("cholesterol 240 they said", "cholesterol 240"),
    ("heart rate 130 resting", "heart rate 130"),
    ("o2 sat 88% now", "o2 sat 88%"),
    ("wbc 15 on the labs", "wbc 15"),
    ("tsh 5.2 again", "tsh 5.2"),
    ("I take 5 mg at night", "5 mg"),
    ("500mg twice a day", "500mg"),
    ("I take 20 units of insulin", "20 units"),
    ("my a1c came back at 9.4", "a1c came back at 9.4"),
    ("blood pressure was 160 over 100", "blood pressure was 160 over 100"),
    ("temperature 38.5 c", "temperature 38.5 c"),
]

BODY_PARTS = [
    ("something on my chest", "chest"),
    ("my arm is weird", "arm"),
    ("my leg looks odd", "leg"),
    ("my knee clicks", "knee"),
    ("it started in my back", "back"),
    ("my stomach is upset", "stomach"),
    ("my throat is scratchy", "throat"),
    ("something in my eye", "eye"),
    ("my ear is blocked", "ear"),
    ("my skin looks different", "skin"),
    ("my heart skips", "heart"),
    ("an x-ray of my lungs", "lungs"),
    ("my kidney is fine", "kidney"),
    ("my liver enzymes", "liver"),
    ("I hit my head", "head"),
    ("my lower back", "lower back"),
    ("my wrist clicks", "wrist"),
]

TABLES = [
    (HealthKind.CONDITION, CONDITIONS),
    (HealthKind.SYMPTOM, SYMPTOMS),
    (HealthKind.MEDICATION, MEDICATIONS),
    (HealthKind.PROCEDURE, PROCEDURES),
    (HealthKind.LAB_VALUE, LAB_VALUES),
    (HealthKind.BODY_PART, BODY_PARTS),
]
ALL_CASES = [(kind, text, expected) for kind, table in TABLES for text, expected in table]


@pytest.mark.parametrize(("kind", "text", "expected"), ALL_CASES)
def test_finds_expected_term_of_kind(
    finder: HealthTermFinder, kind: HealthKind, text: str, expected: str
) -> None:
    assert (kind, expected) in found(finder, text)


@pytest.mark.parametrize(("kind", "text", "expected"), ALL_CASES)
def test_offsets_point_at_matched_text_sorted_and_non_overlapping(
    finder: HealthTermFinder, kind: HealthKind, text: str, expected: str
) -> None:
    terms = finder.find(text)
    assert any(text[t.start : t.end] == expected and t.kind is kind for t in terms)
    assert all(0 <= t.start < t.end <= len(text) for t in terms)
    assert terms == sorted(terms, key=lambda t: t.start)
    assert all(a.end <= b.start for a, b in itertools.pairwise(terms))


# --- MUST-NOT tables ---

ROUTINE_QUESTIONS = [
    "where do I park for my MRI appointment",
    "is the covid booster available at the pharmacy",
    "do you offer flu shots for kids",
    "where do I get a tetanus shot",
    "how do I find the cardiology clinic",
    "do i need a referral for physical therapy",
    "can I view my lab results in the portal",
    "are visitors allowed in the emergency department",
    "is urgent care open late",
    "when does the imaging center close",
    "visiting hours on the maternity floor",
    "is the pharmacy open on sunday",
    "are there openings for respiratory therapists",
    "do you have a cancer center?",
    "when does the diabetes education class start",
    "where is the stroke unit",
    "what are the burn unit visiting hours",
    "flu clinic hours this week?",
    "where is the covid testing site",
    "do you have a pain management clinic",
    "can we book birth center tours",
    "where is labor and delivery",
    "is the flu vaccine free for employees",
    "do you do covid tests for travel",
    "what is your covid visitor policy",
    "is there a diabetes support group",
    "when is the breast cancer awareness walk",
    "does the heart institute have parking",
    "is the internal medicine clinic accepting new patients",
    "is there a family medicine doctor available on weekends",
    "do you sell hearing aids",
    "when will my dad be discharged",
    "who can explain the discharge instructions",
    "can I get an hpv vaccine at the clinic",
    "is there a shingles vaccine for seniors",
    "do you have an allergy specialist",
    "where is the sleep apnea center",
    "what time does the cafeteria close",
    "how do I pay my bill online",
    "do you accept medicare",
    "can I bring flowers to a patient",
    "how do I request my medical records",
    "do you validate parking for the mri center",
    "where is the covid-19 vaccine clinic",
    "is the hospital chapel open, what time is mass",
    "what is the phone number for the asthma and allergy center",
    "is the trauma center a level 1",
    "I need a lump sum payment plan for my bill",
    "are there any jobs at the cancer institute",
    "how late is the flu and covid shot clinic open",
    "is flu season over yet",
    "do you run a weight loss program",
    "PSA: the 2024 parking changes start monday",
    "I left 2 tablets in the waiting room, did anyone find them",
    "when can I get my covid booster dose",
    "when can I get my second dose of the covid vaccine",
    "is suite 101 on the first floor",
    "what is the covid visitor policy for the nicu",
    "where does the autism parent support group meet",
]

ORDINARY_SENTENCES = [
    "Thanks for the quick reply!",
    "The parking garage was full again today.",
    "My car got towed from your lot.",
    "Happy holidays from our family to yours.",
    "I lost my wallet in the lobby yesterday.",
    "I'll be right back, need to grab coffee.",
    "We had a great time at the fundraiser last Sunday.",
    "The traffic on route 9 was terrible this morning.",
    "My daughter starts college in the fall.",
    "Looking for volunteer opportunities for teens.",
    "Can someone call me back about my bill?",
    "Head to the lobby and take the elevator to floor 3.",
    "Ms. Smith at the front desk was wonderful.",
    "Please add me to the mailing list.",
    "Our team won 3 to 1 last night.",
    "It was 100 degrees outside today.",
    "I sat 3 hours in the waiting room.",
    "Room 102 is on the second floor.",
    "Congrats on your new diploma!",
    "What a sense of nostalgia walking these halls.",
    "The new wing looks amazing, great job everyone.",
    "In April we moved to Oklahoma.",
    "This whole process is a pain in the neck.",
    "My head nurse said she would help.",
    "I'm so sick of these phone trees.",
]


@pytest.mark.parametrize("text", ROUTINE_QUESTIONS)
def test_routine_question_has_no_condition_symptom_medication_or_lab_value(
    finder: HealthTermFinder, text: str
) -> None:
    assert [kind for kind, _ in found(finder, text) if kind in ROUTINE_FORBIDDEN] == []


@pytest.mark.parametrize("text", ORDINARY_SENTENCES)
def test_ordinary_sentence_has_no_health_term_except_body_part(
    finder: HealthTermFinder, text: str
) -> None:
    assert [kind for kind, _ in found(finder, text) if kind is not HealthKind.BODY_PART] == []


# --- specific behaviours ---


def test_longest_match_wins_over_contained_terms(finder: HealthTermFinder) -> None:
    assert found(finder, "I have high blood pressure") == [
        (HealthKind.CONDITION, "high blood pressure")
    ]
    assert found(finder, "chest pain since noon") == [(HealthKind.SYMPTOM, "chest pain")]


def test_lab_value_absorbs_symptom_word_it_contains(finder: HealthTermFinder) -> None:
    assert found(finder, "fever of 103") == [(HealthKind.LAB_VALUE, "fever of 103")]


def test_dose_and_drug_name_are_separate_terms(finder: HealthTermFinder) -> None:
    assert found(finder, "500mg of ibuprofen") == [
        (HealthKind.LAB_VALUE, "500mg"),
        (HealthKind.MEDICATION, "ibuprofen"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I forgot my pills", "pills"),
        ("he has allergies", "allergies"),
        ("my parkinsons is worse", "parkinsons"),
        ("my Parkinson's disease", "Parkinson's disease"),
        ("two kidney stones", "kidney stones"),
        ("bad rashes", "rashes"),
    ],
)
def test_plural_and_possessive_forms_match_base_lexicon_entry(
    finder: HealthTermFinder, text: str, expected: str
) -> None:
    assert expected in [span for _, span in found(finder, text)]


@pytest.mark.parametrize(
    "text",
    ["DIABETES IS HARD", "Diabetes is hard", "diabetes is hard", "DiAbEtEs is hard"],
)
def test_matching_ignores_case(finder: HealthTermFinder, text: str) -> None:
    assert found(finder, text) == [(HealthKind.CONDITION, text[:8])]


@pytest.mark.parametrize(
    "word", ["diploma", "aroma", "nostalgia", "sympathy", "academia", "diagnosis", "april"]
)
def test_ordinary_words_with_clinical_endings_are_not_guessed(
    finder: HealthTermFinder, word: str
) -> None:
    assert found(finder, f"about the {word} again") == []


@pytest.mark.parametrize(
    ("word", "kind"),
    [
        ("gastroparesitis", HealthKind.CONDITION),
        ("hemochromatosis", HealthKind.CONDITION),
        ("fibroadenoma", HealthKind.CONDITION),
        ("nebivololol", HealthKind.MEDICATION),
        ("dupilumab", HealthKind.MEDICATION),
        ("ertugliflozin", HealthKind.MEDICATION),
        ("splenectomy", HealthKind.PROCEDURE),
    ],
)
def test_unknown_word_with_clinical_ending_is_guessed(
    finder: HealthTermFinder, word: str, kind: HealthKind
) -> None:
    assert found(finder, f"they mentioned {word} today") == [(kind, word)]


def test_title_ms_is_not_multiple_sclerosis(finder: HealthTermFinder) -> None:
    assert found(finder, "Ms. Jones and Ms Smith helped. I have MS.") == [
        (HealthKind.CONDITION, "MS")
    ]


def test_lowercase_aids_and_add_are_ordinary_words(finder: HealthTermFinder) -> None:
    assert found(finder, "this aids recovery, please add notes") == []
    assert found(finder, "he has AIDS") == [(HealthKind.CONDITION, "AIDS")]


def test_back_and_head_count_as_body_parts_only_after_possessive(
    finder: HealthTermFinder,
) -> None:
    assert found(finder, "call me back and head home") == []
    assert found(finder, "my back and his head") == [
        (HealthKind.BODY_PART, "back"),
        (HealthKind.BODY_PART, "head"),
    ]


def test_terms_do_not_join_across_punctuation(finder: HealthTermFinder) -> None:
    assert (HealthKind.SYMPTOM, "chest pain") not in found(finder, "my chest. Pain is gone")


def test_personal_flu_mention_stays_a_condition_next_to_a_flu_shot(
    finder: HealthTermFinder,
) -> None:
    assert found(finder, "I got the flu after my flu shot") == [(HealthKind.CONDITION, "flu")]


def test_custom_lexicon_dir_is_used(tmp_path: Path) -> None:
    for name, term in [
        ("conditions.txt", "# comment\nwidget fever\n"),
        ("symptoms.txt", "wobble\n"),
        ("medications.txt", ""),
        ("procedures.txt", ""),
        ("body_parts.txt", ""),
    ]:
        (tmp_path / name).write_text(term, encoding="utf-8")
    finder = HealthTermFinder(tmp_path)
    text = "got widget fever and a wobble, no diabetes"
    assert found(finder, text) == [
        (HealthKind.CONDITION, "widget fever"),
        (HealthKind.SYMPTOM, "wobble"),
    ]


def test_lexicons_meet_minimum_sizes(finder: HealthTermFinder) -> None:
    sizes = finder.lexicon_sizes
    assert sizes[HealthKind.CONDITION] >= 400
    assert sizes[HealthKind.SYMPTOM] >= 200
    assert sizes[HealthKind.MEDICATION] >= 500
    assert sizes[HealthKind.PROCEDURE] >= 150


def test_empty_and_punctuation_only_text_find_nothing(finder: HealthTermFinder) -> None:
    assert finder.find("") == []
    assert finder.find(" ... !!! ") == []


def test_results_are_deterministic_and_thread_safe(finder: HealthTermFinder) -> None:
    texts = [text for _, text, _ in ALL_CASES] + ROUTINE_QUESTIONS
    expected = [finder.find(text) for text in texts]
    results: list[list[list[HealthTerm]]] = []

    def worker() -> None:
        results.append([finder.find(text) for text in texts])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4


def test_large_input_runs_through(finder: HealthTermFinder) -> None:
    rng = random.Random(1234)
    noise = "".join(rng.choice(string.ascii_letters + " .,'-") for _ in range(50_000))
    text = "pain " * 10_000 + noise
    terms = finder.find(text)
    assert len(text) >= 100_000
    assert sum(1 for t in terms if t.kind is HealthKind.SYMPTOM) >= 10_000
