"""The triage engine: one shared spaCy pass, then PHI, health terms, signals and intents.

`TriageEngine.triage_many` is the one code path behind the CLI and the service. It is
synchronous and CPU-bound: the service calls it from a worker thread, never on the
event loop.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from spacy.tokens import Doc

from nlu import crisis
from nlu.buttons import button_decision, split_button
from nlu.faq import FaqContent, load_faq
from nlu.faq_versions import LiveFaq, Notice, ScheduledAnswer, answers_at
from nlu.health import HealthKind, HealthTermFinder
from nlu.intents import IntentClassifier
from nlu.language import LanguageIdentifier
from nlu.languages import LanguagePack, load_pack
from nlu.models import Analysis, Decision, Entity, IntentGuess, Signal
from nlu.phi.disguise import merge, reveal
from nlu.phi.engine import build_analyzer, load_spacy
from nlu.policy import FACILITY_ADDRESS, GUARD_MIN_PROBABILITY, decide
from nlu.signals import asks_for_advice, emergency_kinds, normalize_quotes, wording_signals

MAX_TEXT_CHARS = 20_000
# Health terms that are sensitive on their own; procedures and body parts are weighed
# with other cues because routine questions name them ("parking for my MRI").
_SENSITIVE_HEALTH = frozenset(
    {HealthKind.CONDITION, HealthKind.SYMPTOM, HealthKind.MEDICATION, HealthKind.LAB_VALUE}
)
_PERSONAL = re.compile(
    r"\b(?:i|i'm|im|i've|ive|i'd|me|my|mine|myself|we|our|us|he|she|his|her|him|hes|shes"
    r"|son|daughter|husband|wife|mom|mum|mother|dad|father|baby|babies|kid|kids|child|children"
    r"|grandma|grandpa|grandmother|grandfather|granny|nana|brother|sister|aunt|uncle|niece"
    r"|nephew|partner|boyfriend|girlfriend|fiance|fiancee|friend|neighbor|neighbour|patient|pt)\b"
    # an age pins the message to one person: "a 55yo male", "34-year-old", "age 84"
    r"|\b\d{1,3}\s?(?:yo|y/o|y\.o\.|yrs? old|years? old|-year-old|-yr-old)\b|\bage[d]? \d{1,3}\b",
    re.IGNORECASE,
)
_OWNED_PROCEDURE = re.compile(
    r"\b(?:my|his|her|our|their|mom'?s|dad'?s|son'?s|daughter'?s|wife'?s|husband'?s"
    r"|patient|pt)\b(?:\s+\S+){0,3}?\s+(?:surgery|operation|biopsy|chemo\w*|radiation|dialysis"
    r"|transplant|procedure|scan|mri|ct|x-?ray|results?|test|treatment|therapy|infusion"
    r"|injection|stitches|cast|c-section|delivery|appointment for)\b",
    re.IGNORECASE,
)
# A question or a request about a service: "can I park here for my MRI?", "need to book my scan".
_ASKS = re.compile(
    r"\?|^\s*(?:where|when|what|how|who|which|can|could|do|does|is|are|will|may|should)\b"
    r"|\b(?:need|want|like|trying|have) to"
    r" (?:book|schedule|reschedule|cancel|change|move|get|make|pay|find)\b"
    r"|\b(?:book|schedule|reschedule|cancel)\b",
    re.IGNORECASE,
)
_CLINICIAN_TITLE = re.compile(
    r"(?:\b(?:dr|doctor|nurse|np|pa|prof|professor|pharmacist|midwife|therapist|surgeon)\.?\s*)$",
    re.IGNORECASE,
)
_WORDS = re.compile(r"\w+")
_URGENT = re.compile(r"\b(?:now|right now|asap|hurry|help|please|urgent|quick)\b|!", re.IGNORECASE)


def fold_accents(text: str) -> str:
    """Each character without its accent ("mañana" -> "manana"): offsets stay the same."""
    return "".join(unicodedata.normalize("NFD", ch)[0] if ord(ch) > 127 else ch for ch in text)


# One warning sign of these groups alone, in a routine question that names no health term
# and shows no other signal, is everyday wording ("planning to visit, what are the visiting
# hours"); anywhere else it goes to a person. Hopelessness, means and intent always do.
_EVERYDAY_GROUPS = frozenset({"plan", "farewell"})


def _matches(pack: LanguagePack | None, name: str, text: str) -> bool:
    pattern = pack.signals.get(name) if pack is not None else None
    return pattern is not None and pattern.search(text) is not None


_PACK_SIGNALS = (
    ("medical_advice", Signal.MEDICAL_ADVICE),
    ("complaint", Signal.COMPLAINT),
    ("human", Signal.HUMAN_REQUESTED),
    ("spam", Signal.SPAM),
)


def _pack_signals(pack: LanguagePack | None, text: str) -> set[Signal]:
    """Wording signals of a language read through its pack (languages other than English)."""
    return {signal for name, signal in _PACK_SIGNALS if _matches(pack, name, text)}


def has_inner_capital(text: str) -> bool:
    """A capitalised word that does not start a sentence: where the NER models find names.

    Texts without one skip the NER pass, about a third of the CPU time of triage.
    """
    for match in _WORDS.finditer(text):
        word = match.group()
        if word[0].isupper() and any(ch.islower() for ch in word[1:]):
            before = text[: match.start()].rstrip()
            if before and before[-1] not in ".!?:\"'(-*•>":
                return True
    return False


_LATIN_WORD = re.compile(r"[^\W\d_]{2,}")


_HOUSE_NUMBER_STREET = re.compile(r"\b(\d{1,6})\s+([^\W\d_]+)")
_PERSONAL_ADDRESS = re.compile(
    r"\b(?:my|our|his|her|their) (?:new |home |mailing )?address\b|\bli(?:ve|ves|ving) (?:at|on)\b"
    r"|\b(?:apt|apartment|unit|suite)\b|#\s?\d|\bsen[dt] (?:it |them |this )?to\b",
    re.IGNORECASE,
)


def public_places(content: FaqContent) -> frozenset[tuple[str, str]]:
    """(house number, street word) pairs of the addresses published in the FAQ answers."""
    return frozenset(
        (number, street.casefold())
        for intent in content.intents.values()
        for number, street in _HOUSE_NUMBER_STREET.findall(intent.answer)
    )


def _is_public(address: str, places: frozenset[tuple[str, str]]) -> bool:
    pairs = [(n, w.casefold()) for n, w in _HOUSE_NUMBER_STREET.findall(address)]
    return bool(pairs) and all(pair in places for pair in pairs)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """What the engine needs to start: model, content and the FAQ confidence threshold."""

    spacy_model: str
    faq_dir: Path
    intent_threshold: float
    cache_dir: Path | None = None  # where trained intent models are kept between runs
    rasa_url: str | None = None  # set: intents come from this Rasa server, not ours
    languages: tuple[str, ...] = ("en", "es")  # supported, the first is the default
    general_health_replies: bool = True  # impersonal public-health questions: a template


class IntentSource(Protocol):
    """Where FAQ intents come from: the built-in classifier or a Rasa server."""

    faq_keys: frozenset[str]

    def predict_many(self, texts: Sequence[str]) -> list[IntentGuess]: ...


@dataclass(frozen=True, slots=True)
class _Cues:
    """An analysis before its entities."""

    health: tuple[Entity, ...]
    signals: set[Signal]
    personal: bool
    health_related: bool  # a condition, symptom, medication, lab value or procedure
    language: str = "en"
    kinds: frozenset[str] = frozenset()
    crisis: crisis.Crisis = crisis.NO_CRISIS

    @property
    def settled(self) -> bool:
        """Emergency or someone's health information: no name found later changes the action."""
        return bool(self.signals & {Signal.EMERGENCY, Signal.HEALTH_INFO})


def _vocabulary(content: FaqContent) -> dict[str, set[str]]:
    """The words of each language's FAQ examples: what a one-word message may be."""
    words: dict[str, set[str]] = {}
    for intent in content.intents.values():
        for language, examples in intent.localized_examples.items():
            known = words.setdefault(language, set())
            for example in examples:
                known.update(_EXAMPLE_WORD.findall(example.casefold()))
    return words


_EXAMPLE_WORD = re.compile(r"[^\W\d_]{2,}")


class TriageEngine:
    """Loads models once; analyses and decides batches of messages."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.nlp = load_spacy(config.spacy_model)
        self.phi = build_analyzer(self.nlp)
        self.health = HealthTermFinder()
        self.packs: dict[str, LanguagePack] = {code: load_pack(code) for code in config.languages}
        self._lock = threading.Lock()
        self.content: FaqContent = load_faq(config.faq_dir)
        self.languages = LanguageIdentifier(config.languages, _vocabulary(self.content))
        self.classifier = self._intent_source(self.content)
        self._public_places = public_places(self.content)
        # Set by the service from the live FAQ version (scheduled answers, the notice).
        self._schedules: Sequence[ScheduledAnswer] = ()
        self._notice: Notice | None = None
        self.clock: Callable[[], float] = time.time

    def use_content(self, content: FaqContent) -> None:
        """Switch to new FAQ content (retrains the classifier first, then swaps atomically)."""
        classifier = self._intent_source(content)
        places = public_places(content)
        with self._lock:
            self.content, self.classifier, self._public_places = content, classifier, places

    def prepare_content(self, content: FaqContent) -> None:
        """Train content's intent model into the cache, so switching to it later is quick."""
        if self.config.cache_dir is not None and not self.config.rasa_url:
            IntentClassifier(content, self.config.intent_threshold, self.config.cache_dir)

    def use_live(self, live: LiveFaq) -> None:
        """Answer as the live FAQ version says: its content (retrained only when it
        changed), its scheduled answers and the notice in force."""
        if live.version.version != self.content.version:
            self.use_content(live.version.content())
        with self._lock:
            self._schedules, self._notice = tuple(live.version.schedules), live.notice

    def _intent_source(self, content: FaqContent) -> IntentSource:
        if self.config.rasa_url:
            from nlu.rasa import RasaIntents

            return RasaIntents(content, self.config.rasa_url, self.config.intent_threshold)
        return IntentClassifier(content, self.config.intent_threshold, self.config.cache_dir)

    def analyze_many(self, texts: Sequence[str]) -> list[Analysis]:
        """Analyse a batch of message texts (each at most MAX_TEXT_CHARS)."""
        with self._lock:
            classifier = self.classifier
        guesses = classifier.predict_many(texts)
        languages = self.languages.identify_many(texts)
        cues = [
            self._cues(t, g, classifier, lang)
            for t, g, lang in zip(texts, guesses, languages, strict=True)
        ]
        # The NER pass is most of the cost of a long message. It only adds names, so it
        # runs where a name can be and where it could still change the decision.
        named = [has_inner_capital(t) and not c.settled for t, c in zip(texts, cues, strict=True)]
        tagged = iter(self.nlp.pipe([t for t, n in zip(texts, named, strict=True) if n]))
        docs = [next(tagged) if n else self._tokens(t) for t, n in zip(texts, named, strict=True)]
        return [
            self._analyze(text, doc, cue, guess)
            for text, doc, cue, guess in zip(texts, docs, cues, guesses, strict=True)
        ]

    def _answers(self) -> tuple[FaqContent, dict[str, dict[str, str]]]:
        """The content and each language's answers now (scheduled ones, the notice)."""
        with self._lock:
            content, schedules, notice = self.content, self._schedules, self._notice
        now = self.clock()
        by_language = {
            code: answers_at(content, schedules, now, code) for code in self.config.languages
        }
        if notice is not None and now < notice.expires_at:
            by_language = {
                code: {key: f"{answer}\n\n{notice.text}" for key, answer in answers.items()}
                for code, answers in by_language.items()
            }
        return content, by_language

    def answer_button(self, message_id: str, button: str, title: str) -> Decision | None:
        """The reply to a pressed button (nlu/buttons.py): in the language it names, else
        its title's, else the default; None when the content has no such answer."""
        content, by_language = self._answers()
        supported = self.config.languages
        _, named = split_button(button)
        if named is not None:
            language = named
        else:
            language = self.languages.identify(title) if title.strip() else supported[0]
        if language not in supported:
            language = supported[0]  # a menu the page wrote in another language
        return button_decision(
            message_id,
            button,
            language,
            answers=by_language[language],
            welcome=content.welcome,
            version=content.version,
        )

    def triage_many(self, items: Sequence[tuple[str, str]]) -> list[Decision]:
        """Decide a batch of (id, text) messages."""
        content, by_language = self._answers()
        # A photo or sticker comment has no text: nothing to answer, nothing to hide.
        blank = [not text.strip() for _, text in items]
        texts = [text for (_, text), b in zip(items, blank, strict=True) if not b]
        analyses = iter(self.analyze_many(texts))
        return [
            Decision(id=message_id, action="ignore", reasons=["empty"])
            if is_blank
            else self._decide(next(analyses), message_id, by_language, content.version)
            for (message_id, _), is_blank in zip(items, blank, strict=True)
        ]

    def _decide(
        self,
        analysis: Analysis,
        message_id: str,
        by_language: dict[str, dict[str, str]],
        version: str,
    ) -> Decision:
        answers = by_language.get(analysis.language, {})
        return decide(
            analysis,
            message_id,
            answers,
            version,
            general_health=self.config.general_health_replies,
        )

    def triage(self, message_id: str, text: str) -> Decision:
        """Decide one message."""
        return self.triage_many([(message_id, text)])[0]

    def _tokens(self, text: str) -> Doc:
        """Tokens only: the NER model finds no names where no word is capitalised mid-sentence."""
        doc: Doc = self.nlp.make_doc(text)
        return doc

    def _cues(
        self, text: str, guess: IntentGuess, classifier: IntentSource, language: str
    ) -> _Cues:
        """What the wording alone says: health terms, signals, emergencies, whose health."""
        health = tuple(
            Entity(type=f"HEALTH_{term.kind}", start=term.start, end=term.end, score=0.8)
            for term in self.health.find(text)
        )
        kinds = {HealthKind(e.type.removeprefix("HEALTH_")) for e in health}
        folded = normalize_quotes(text)
        bare = fold_accents(folded)
        pack = self.packs.get(language)
        english = language == "en" or pack is None
        signals = set(wording_signals(text)) if english else set(_pack_signals(pack, bare))
        personal = bool(_PERSONAL.search(folded)) or (
            not english and bool(_matches(pack, "personal", bare))
        )
        routine = guess.name in classifier.faq_keys
        sensitive = bool(kinds & _SENSITIVE_HEALTH) or (
            not english and bool(_matches(pack, "health", bare))
        )
        # A procedure is someone's health information when it is theirs ("my biopsy",
        # "her chemo"), not when "I" ask where a service is ("where do I get blood work").
        procedure = HealthKind.PROCEDURE in kinds and not routine
        # Told rather than asked ("my c-section went great, thanks"), one's own procedure is
        # health information even when the classifier reads the thanks as a routine intent.
        told = HealthKind.PROCEDURE in kinds and not _ASKS.search(folded)
        owned = (procedure or told) and bool(_OWNED_PROCEDURE.search(folded))
        if (sensitive and personal) or owned:
            signals.add(Signal.HEALTH_INFO)
        elif sensitive or (
            (procedure or HealthKind.BODY_PART in kinds)
            and asks_for_advice(text, question_counts=False)
        ):
            signals.add(Signal.MEDICAL_ADVICE)
        if pack is None:
            # A language we have no pack for: a human reads it.
            signals.add(Signal.OTHER_LANGUAGE)
        # Emergencies are read in every language we have a pack for, whatever the detector
        # said: a misread language must never cost a safety reply.
        native = pack or self.packs.get("en") or next(iter(self.packs.values()))
        found, guarded = self._emergencies(bare, personal, native)
        assessed = [crisis.assess(bare, p, native=native) for p in self.packs.values()]
        crises = [c for c in assessed if c.found]
        mentioned = next((c for c in assessed if c.mentioned), crisis.NO_CRISIS)
        if not crises and guess.name == "emergency" and guess.confidence >= GUARD_MIN_PROBABILITY:
            voted = crisis.seconded(mentioned)
            crises = [voted] if voted.found else []
        crisis_kinds = frozenset().union(*(c.kinds for c in crises))
        all_kinds = frozenset(found) | crisis_kinds
        chosen = crises[0] if crises else mentioned
        if all_kinds:
            signals.add(Signal.EMERGENCY)
        if "self_harm" in all_kinds:
            signals.add(Signal.SELF_HARM)
        everyday = (
            routine
            and chosen.set_apart is None
            and set(chosen.groups) <= _EVERYDAY_GROUPS
            and not health
            and not signals
        )
        if chosen.groups and not chosen.found and not all_kinds and not everyday:
            # Crisis words told as news, fiction, a resolved past or a joke, or one warning
            # sign alone: not an emergency, but not for public view either.
            signals.add(Signal.HEALTH_INFO if personal else Signal.MEDICAL_ADVICE)
        if chosen.set_apart is None and guarded and not all_kinds:
            chosen = crisis.Crisis(frozenset(), (), guarded)
        elif chosen.set_apart is None and not all_kinds and guess.name == "emergency":
            # The classifier's emergency vote alone is not one when the wording tells a
            # history, or asks about care with no red flag and nothing said to happen now.
            if crisis.history(bare, native):
                chosen = crisis.Crisis(frozenset(), chosen.groups, "history")
            elif crisis.frame(bare, native, "care_question") and not (
                crisis.frame(bare, native, "present") or crisis.frame(bare, native, "red_flag")
            ):
                chosen = crisis.Crisis(frozenset(), chosen.groups, "care_question")
        if guarded and not all_kinds:
            signals.add(Signal.HEALTH_INFO if personal else Signal.MEDICAL_ADVICE)
        return _Cues(
            health,
            signals,
            personal,
            health_related=sensitive or procedure,
            language=language,
            kinds=all_kinds,
            crisis=chosen,
        )

    def _emergencies(
        self, text: str, personal: bool, native: LanguagePack
    ) -> tuple[set[str], str | None]:
        """Medical emergency kinds the wording names, in any language we have a pack for,
        and the frame that set them apart (then no kinds).

        An event told as past and resolved ("had a heart attack last spring … thank you")
        and an impersonal general question or story ("if someone is choking what do you
        do") are not emergencies now. "It's an emergency" counts only when it is someone's.
        """
        # Idioms first: "this trip is gonna kill me" threatens nobody.
        cleared = crisis.blank(text, native)
        found = set(emergency_kinds(cleared)) if "en" in self.packs else set()
        for pack in self.packs.values():
            for name, pattern in pack.signals.items():
                if name.startswith("emergency_") and pattern.search(cleared):
                    found.add(name.removeprefix("emergency_"))
        if not found:
            return found, None
        if crisis.resolved_past(text, native):
            return set(), "past"
        if crisis.history(text, native) and "violence" not in found:
            # Abuse "for years" is danger now; a stroke "two years ago" is history.
            return set(), "history"
        if not personal:
            for name in ("hypothetical", "news", "fiction"):
                if crisis.frame(text, native, name):
                    return set(), name
        if found == {"general"} and not (personal or _URGENT.search(text)):
            return set(), "impersonal"
        return found, None

    def _analyze(self, text: str, doc: Doc, cues: _Cues, guess: IntentGuess) -> Analysis:
        entities = self._entities(text, doc)
        signals = set(cues.signals)
        if entities and cues.health_related:
            # An identifier next to health information is PHI whoever it is about.
            signals.add(Signal.HEALTH_INFO)
        return Analysis(
            text=text,
            entities=entities,
            health=cues.health,
            signals=frozenset(signals),
            intent=guess,
            personal=cues.personal,
            language=cues.language,
            emergency_kinds=cues.kinds,
            crisis_cues=cues.crisis.groups if cues.crisis.found else (),
            set_apart=cues.crisis.set_apart,
        )

    def _entities(self, text: str, doc: Doc) -> tuple[Entity, ...]:
        results = list(self.phi.analyze(doc))
        reading = reveal(text)  # None for nearly every message, after one regex search
        if reading is not None:
            # Identifiers spelled out, spaced apart or in leetspeak, read again in plain form.
            plain = self.nlp(reading.text) if reading.names else self._tokens(reading.text)
            results += merge(reading, results, self.phi.analyze(plain))
        found: list[Entity] = []
        for r in sorted(results, key=lambda r: (r.start, -r.end)):
            if r.entity_type == "PERSON" and _CLINICIAN_TITLE.search(text[: r.start]):
                continue  # "Dr. Lopez" is staff, not a patient
            kind = r.entity_type
            if (
                kind == "STREET_ADDRESS"
                and _is_public(text[r.start : r.end], self._public_places)
                and not _PERSONAL_ADDRESS.search(text)
            ):
                # Our own campus address in a routine question identifies nobody.
                kind = FACILITY_ADDRESS
            found.append(Entity(type=kind, start=r.start, end=r.end, score=round(r.score, 3)))
        return tuple(found)
