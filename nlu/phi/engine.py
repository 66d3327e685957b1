"""The presidio analyzer, configured for triage: explicit recognizers on a shared spaCy pass.

Only the NER component of the spaCy model runs (tagger, parser and lemmatizer are
excluded: the lower-cased form stands in for the lemma, which is all presidio's context
enhancer needs). That one pass is shared with every other component.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import spacy
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    IbanRecognizer,
    IpRecognizer,
    SpacyRecognizer,
    UsLicenseRecognizer,
    UsSsnRecognizer,
)
from spacy.language import Language
from spacy.tokens import Doc

from nlu.phi.recognizers.address_in_context import AddressInContextRecognizer
from nlu.phi.recognizers.date_of_birth import DateOfBirthRecognizer
from nlu.phi.recognizers.email import OfflineEmailRecognizer
from nlu.phi.recognizers.identifier_fragment import IdentifierFragmentRecognizer
from nlu.phi.recognizers.long_number import LongNumberRecognizer
from nlu.phi.recognizers.medicare_mbi import MedicareMbiRecognizer
from nlu.phi.recognizers.member_id import MemberIdRecognizer
from nlu.phi.recognizers.mrn import MrnRecognizer
from nlu.phi.recognizers.person_in_context import PersonInContextRecognizer
from nlu.phi.recognizers.phone import GatedPhoneRecognizer
from nlu.phi.recognizers.room_bed import RoomBedRecognizer
from nlu.phi.recognizers.spelled_email import SpelledEmailRecognizer
from nlu.phi.recognizers.street_address import StreetAddressRecognizer
from nlu.phi.recognizers.us_zip_code import ZipCodeRecognizer

LANGUAGE = "en"
# Everything spaCy's English models label, except people: places, dates and organisations
# in a public message are not PHI on their own (a clinic's town, an opening date).
_IGNORED_NER_LABELS = (
    "CARDINAL", "DATE", "EVENT", "FAC", "GPE", "LANGUAGE", "LAW", "LOC", "MONEY", "NORP",
    "ORDINAL", "ORG", "PERCENT", "PRODUCT", "QUANTITY", "TIME", "WORK_OF_ART", "MISC",
)  # fmt: skip
# A bare name guessed by the NER model: kept out of replies, escalates only with context.
NER_PERSON_SCORE = 0.5


def load_spacy(model: str) -> Language:
    """Load a spaCy model keeping only NER (and the embedding layer NER listens to, if any)."""
    nlp = spacy.load(model)
    keep = {"ner"}
    for name in nlp.pipe_names:
        # Models whose NER shares an embedding layer (tok2vec, transformer) need that layer.
        if "ner" in getattr(nlp.get_pipe(name), "listening_components", ()):
            keep.add(name)
    for name in list(nlp.pipe_names):
        if name not in keep:
            nlp.remove_pipe(name)
    return nlp


class SharedSpacyNlpEngine(SpacyNlpEngine):
    """A presidio NLP engine over an already loaded spaCy pipeline."""

    def __init__(self, nlp: Language) -> None:
        super().__init__(
            models=[{"lang_code": LANGUAGE, "model_name": nlp.meta.get("name", "shared")}],
            ner_model_configuration=NerModelConfiguration(
                model_to_presidio_entity_mapping={"PERSON": "PERSON", "PER": "PERSON"},
                labels_to_ignore=_IGNORED_NER_LABELS,
                default_score=NER_PERSON_SCORE,
            ),
        )
        # presidio declares `nlp` as None until load(); here it is ready at once.
        self.nlp = {LANGUAGE: nlp}  # type: ignore[assignment]

    def load(self) -> None:
        """Nothing to load: the pipeline was handed in."""

    def artifacts(self, doc: Doc) -> NlpArtifacts:
        """presidio's view of a document the shared pass already produced.

        The same fields presidio's own conversion fills, in one walk over the tokens: it
        walks them several times and looks every lemma up in the vocabulary again, which
        cost more than all our recognizers together.
        """
        lemmas: list[str] = []
        indices: list[int] = []
        keywords: list[str] = []
        for token in doc:
            lower = token.lower_
            lemmas.append(lower)
            indices.append(token.idx)
            if not (token.is_stop or token.is_punct) and lower != "be":
                keywords.extend(lower.split(":"))
        ents = doc.ents
        entities, scores = self._get_updated_entities(list(ents), [NER_PERSON_SCORE] * len(ents))
        # Built without an engine so presidio does not derive the keywords a second time.
        artifacts = NlpArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=indices,
            lemmas=lemmas,
            nlp_engine=None,
            language=LANGUAGE,
            scores=scores,
        )
        artifacts.nlp_engine, artifacts.keywords = self, keywords
        return artifacts


# Recognizers every one of whose patterns holds a digit (IPv6 may instead be all hex
# letters and colons, "cafe::"). A text with neither cannot match them, so it skips them.
_NEED_A_DIGIT_OR_COLON: tuple[type[EntityRecognizer], ...] = (
    CreditCardRecognizer,
    IbanRecognizer,
    IpRecognizer,
    GatedPhoneRecognizer,
    UsSsnRecognizer,
    UsLicenseRecognizer,
    MedicareMbiRecognizer,
    AddressInContextRecognizer,
    ZipCodeRecognizer,
    LongNumberRecognizer,
    IdentifierFragmentRecognizer,
)
_DIGIT_OR_COLON = re.compile(r"[\d:]")


def recognizers() -> list[EntityRecognizer]:
    """Every recognizer triage uses, registered explicitly (no auto-discovery)."""
    return [
        # presidio's own, for formats it already knows well
        CreditCardRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        GatedPhoneRecognizer(),
        UsSsnRecognizer(),
        UsLicenseRecognizer(),
        SpacyRecognizer(supported_entities=["PERSON"]),
        OfflineEmailRecognizer(),
        SpelledEmailRecognizer(),
        # healthcare and contact details, one module each
        MrnRecognizer(),
        MemberIdRecognizer(),
        IdentifierFragmentRecognizer(),
        MedicareMbiRecognizer(),
        DateOfBirthRecognizer(),
        RoomBedRecognizer(),
        StreetAddressRecognizer(),
        AddressInContextRecognizer(),
        PersonInContextRecognizer(),
        ZipCodeRecognizer(),
        LongNumberRecognizer(),
    ]


@dataclass(frozen=True, slots=True)
class PhiAnalyzer:
    """presidio over the shared spaCy pass, with exactly our recognizers.

    Most public messages hold no digit: they go to an analyzer without the recognizers
    that need one, which gives the same results for a tenth less of the NLP time.
    """

    engine: SharedSpacyNlpEngine
    full: AnalyzerEngine
    no_digits: AnalyzerEngine

    def analyze(self, doc: Doc) -> Sequence[Any]:
        """presidio results (RecognizerResult) for one document of the shared pass."""
        text = doc.text
        analyzer = self.full if _DIGIT_OR_COLON.search(text) else self.no_digits
        return analyzer.analyze(
            text=text, language=LANGUAGE, nlp_artifacts=self.engine.artifacts(doc)
        )


def build_analyzer(nlp: Language) -> PhiAnalyzer:
    """The analyzers over the shared pipeline."""
    # presidio logs matched values and context words at debug level: PHI must never reach
    # a log, whatever level the host application configures.
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    engine = SharedSpacyNlpEngine(nlp)

    def analyzer(chosen: list[EntityRecognizer]) -> AnalyzerEngine:
        registry = RecognizerRegistry(recognizers=chosen, supported_languages=[LANGUAGE])
        return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=[LANGUAGE])

    every = recognizers()
    wordy = [r for r in every if not isinstance(r, _NEED_A_DIGIT_OR_COLON)]
    return PhiAnalyzer(engine, analyzer(every), analyzer(wordy))
