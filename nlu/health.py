"""Health-information detector: finds conditions, symptoms, medications, procedures and labs.

Pure Python and regular expressions, deterministic, built once and then safe to share between
threads. Lexicons are plain text files (one lowercase term per line) loaded into frozensets of
token n-grams; matching walks the tokens once, trying at most `max n-gram length` extensions at
each position, so the cost is O(tokens x max n-gram length).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

__all__ = ["HealthKind", "HealthTerm", "HealthTermFinder"]

_DEFAULT_LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"


class HealthKind(StrEnum):
    """What a health term is about."""

    CONDITION = "CONDITION"
    SYMPTOM = "SYMPTOM"
    MEDICATION = "MEDICATION"
    PROCEDURE = "PROCEDURE"
    LAB_VALUE = "LAB_VALUE"
    BODY_PART = "BODY_PART"


@dataclass(frozen=True, slots=True)
class HealthTerm:
    """One health term: its kind and character offsets into the original text."""

    kind: HealthKind
    start: int
    end: int


# File per kind, in priority order: a term listed in two files takes the first kind.
_LEXICON_FILES: tuple[tuple[HealthKind, str], ...] = (
    (HealthKind.CONDITION, "conditions.txt"),
    (HealthKind.SYMPTOM, "symptoms.txt"),
    (HealthKind.MEDICATION, "medications.txt"),
    (HealthKind.PROCEDURE, "procedures.txt"),
    (HealthKind.BODY_PART, "body_parts.txt"),
)
_PRIORITY: dict[HealthKind | None, int] = {
    kind: rank for rank, (kind, _) in enumerate(_LEXICON_FILES)
}
_PRIORITY[None] = -1  # neutral phrases beat any term of the same length
_PRIORITY[HealthKind.LAB_VALUE] = len(_LEXICON_FILES)

# Kinds that must never fire on routine service questions ("cancer center", "flu shot").
_SENSITIVE = frozenset({HealthKind.CONDITION, HealthKind.SYMPTOM, HealthKind.MEDICATION})

# Words with inner apostrophes ("can't", "parkinson's"). A hyphenated word ("x-ray", "covid-19")
# is matched part by part, so "x-ray", "x ray" and "covid 19" line up with one lexicon entry;
# the run-together spelling ("xray") is added to the lexicon when it is loaded.
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# What may separate the words of one multi-word term: "x-ray", "d&c", "hiv/aids".
_JOINABLE_GAP_RE = re.compile(r"[\s\-&/]*")
_ALPHA_RE = re.compile(r"[a-z]+")

_Key = tuple[str, ...]


def _read_lexicon(path: Path) -> Iterator[str]:
    """Yield the terms of one lexicon file, skipping blank lines and '#' comments."""
    for line in path.read_text(encoding="utf-8").splitlines():
        term = line.split("#", 1)[0].strip().lower()
        if term:
            yield term


def _words(text: str) -> frozenset[str]:
    """A frozenset of the whitespace-separated words in text (keeps word lists compact)."""
    return frozenset(text.split())


# Phrases that look medical but name a service, a season or an idiom: they emit nothing.
_NEUTRAL_PHRASES = tuple(_read_lexicon(_DEFAULT_LEXICON_DIR / "neutral_phrases.txt"))

# Nouns that turn a preceding condition into a service name: "cancer center", "stroke unit".
_SERVICE_HEADS = _words(
    """
    center centre clinic unit department dept institute program programme class course
    ward floor wing team specialist doctor doc physician surgeon nurse educator
    navigator coordinator service office group walk month week day fundraiser foundation
    society association research hotline helpline seminar workshop camp event pavilion
    suite bay hospital icu division network alliance council screening awareness lab
    laboratory site location facility station
    """
)
# Vaccine questions are routine: "flu shot", "hpv vaccine", "covid booster".
_VACCINE_HEADS = _words(
    """
    shot vaccine vaccination vax booster jab immunization immunisation inoculation
    """
)
_VACCINE_TAIL = _VACCINE_HEADS | {"dose", "doses", "appointment", "card", "record"}
# The same heads where Spanish puts them, before the disease: "vacuna contra la gripe",
# "refuerzo del covid", "prueba de covid".
_VACCINE_HEADS_BEFORE = _words(
    """
    vacuna vacunas vacunacion vacunación vacunarme vacunar refuerzo prueba pruebas
    """
)
# Heads that make an outbreak disease a public-health topic: "covid test", "covid visitor policy".
_OUTBREAK_HEADS = _words(
    """
    test testing swab policy policies rule restriction precaution protocol guideline
    guidance mandate requirement safety measure update info information questionnaire
    pandemic season era time situation outbreak case number mask visitor visiting
    visitation
    """
)
_OUTBREAK_TERMS = frozenset(
    {"covid", "covid19", "coronavirus", "corona", "flu", "influenza", "rsv", "strep", "mpox"}
)
# Words allowed between a condition and its service head: "diabetes education class".
_SERVICE_CONNECTORS = _words(
    """
    and or management education educational prevention care treatment recovery support
    awareness research wellness health medicine medical services resource rehabilitation
    rehab survivorship specialty surgery surgical pediatric paediatric child children
    childrens kids womens mens adult vaccination immunization booster walk in drive
    through thru community outpatient inpatient infusion imaging diagnostic clinical
    prenatal nutrition counseling therapy testing screening self comprehensive regional
    free seasonal annual 19 parent parents family families caregiver caregivers patient
    patients survivor survivors youth teen senior seniors
    """
)
# Institutional heads that can also come first: "center for diabetes". Not "unit": "units of
# insulin" is a dose.
_SERVICE_HEADS_BEFORE = _words(
    """
    center centre clinic department dept institute program class ward wing foundation
    society association awareness month walk
    """
)

# Short abbreviations that are also ordinary words: only their upper-case form counts.
_UPPERCASE_ONLY: frozenset[_Key] = frozenset({("aids",), ("add",)})
# "Ms." / "Ms Smith" is a title, "MS" / "ms" is multiple sclerosis.
_TITLE_LIKE: frozenset[_Key] = frozenset({("ms",)})
# Body parts that are everyday words ("call me back", "head to the lobby") count only after
# a possessive ("my back", "his head").
_NEEDS_POSSESSIVE: frozenset[_Key] = frozenset(
    {("back",), ("head",), ("hand",), ("hands",), ("face",), ("side",)}
)
_POSSESSIVES = frozenset(
    {"my", "his", "their", "our", "lower", "upper", "mid", "middle", "whole", "sons", "daughters"}
)

# Injury words that make a following body part a condition: "broke my arm", "sprained ankle".
_INJURY_WORDS = _words(
    """
    broken broke fractured sprained twisted dislocated torn tore pulled strained injured
    cracked jammed stubbed busted infected punctured collapsed
    """
)
# Adjectives that make a following body part a symptom: "sore knee", "itchy skin".
_SYMPTOM_ADJECTIVES = _words(
    """
    sore swollen bruised inflamed numb stiff itchy aching achy bleeding painful tender
    throbbing burning hurting bloody puffy cramping red
    """
)
_DETERMINERS = frozenset(
    {"my", "his", "her", "their", "your", "our", "a", "the", "both", "left", "right", "lower"}
)
# Nouns that make a preceding body part a condition: "kidney problems", "eye infection".
_BODY_CONDITION_HEADS = _words(
    """
    problem issue disease condition disorder infection failure damage injury injuries
    trouble bug stone tumor tumour cancer cyst ulcer bleed defect blockage clot fracture
    tear sprain strain
    """
)
# Words after a body part and a linking verb: "my wrist is broken", "my eyes are red".
_INJURY_STATES = frozenset(
    {"broken", "fractured", "sprained", "dislocated", "infected", "torn", "cracked"}
)
_SYMPTOM_STATES = _words(
    """
    killing hurting aching bleeding swollen bruised inflamed numb tingly tingling stiff
    itchy itching burning throbbing sore tender painful red yellow tight heavy weak
    puffy cramping pounding racing blurry crusty oozing
    """
)
_HEART_STATES = frozenset({"racing", "pounding", "fluttering", "skipping", "beating"})
_LINKING_WORDS = _words(
    """
    is was are were feels feel felt looks look looked got gets getting get has have been
    keeps kept so really very still all super kinda pretty now always starting started
    to be turned turning isnt not
    """
)
# Nouns after a body part that make it a procedure: "gallbladder removed", "knee mri".
_BODY_PROCEDURE_HEADS = _words(
    """
    removed removal surgery transplant replacement repair biopsy scan ultrasound xray
    mri exam reconstruction fusion
    """
)
# Nouns that make a preceding body part a symptom: "knee pain", "chest pressure".
_BODY_SYMPTOM_HEADS = _words(
    """
    pain ache swelling numbness bleeding itching itch cramp cramping spasm tightness
    pressure discomfort stiffness rash weakness tingling soreness burning irritation
    hurts hurt hurting lump bump redness
    """
)

# --- morphology for words the lexicons do not know ---
_CONDITION_SUFFIXES = tuple(
    sorted(
        _words("itis osis aemia emia oma algia pathy plegia trophy penia megaly rrhoea rrhea uria")
    )
)
_MEDICATION_SUFFIXES = tuple(
    sorted(
        _words(
            """
    mab pril sartan olol statin cillin mycin cycline floxacin azole tidine dipine zepam zolam
    oxetine triptan afil gliptin glutide parin setron lukast terol sone olone caine navir tinib
    profen fenac codone morphone barbital vudine vir formin gliflozin xaban apine triptyline
    pramine tadine losin zosin dronate semide thiazide platin rubicin taxel tropium sonide
    fungin zodone peridone
    """
        )
    )
)
_PROCEDURE_SUFFIXES = tuple(sorted(_words("ectomy otomy ostomy oscopy plasty centesis")))
_ANY_SUFFIX = _CONDITION_SUFFIXES + _MEDICATION_SUFFIXES + _PROCEDURE_SUFFIXES


def _suffix_re(suffixes: tuple[str, ...]) -> re.Pattern[str]:
    """A word of at least three letters before one of the endings (so "april" is no drug)."""
    return re.compile(rf"[a-z]{{3,}}(?:{'|'.join(suffixes)})")


_MORPHOLOGY_RULES: tuple[tuple[re.Pattern[str], HealthKind], ...] = (
    (_suffix_re(_CONDITION_SUFFIXES), HealthKind.CONDITION),
    (_suffix_re(_MEDICATION_SUFFIXES), HealthKind.MEDICATION),
    (_suffix_re(_PROCEDURE_SUFFIXES), HealthKind.PROCEDURE),
)
# Ordinary words that share a clinical ending.
_MORPHOLOGY_STOP = _words(
    """
    kuwaitis diagnosis misdiagnosis prognosis hypnosis osmosis symbiosis metamorphosis
    apotheosis mitosis meiosis academia bohemia aroma diploma oklahoma sonoma tacoma
    paloma idioma chroma stroma axioma prosoma nostalgia empathy sympathy apathy
    antipathy telepathy homeopathy osteopathy naturopathy manchuria liguria etruria
    penuria dichotomy trichotomy microscopy horoscopy sterol phytosterol ergosterol
    africaine mccaine lolol misanthropy
    """
)

# --- lab values: a lab name, a few linking words, then a number (and maybe a unit) ---
# A number that is not a year, a time or a count of days: "PSA 2024", "sugar 3 times a day".
_NUMBER = (
    r"(?!(?:19|20)\d\d\b)\d{1,4}(?:\.\d{1,2})?(?!\.?\d)(?!\s*(?:am|pm|a\.m|p\.m|hours?|hrs?|minutes?|mins?|days?"
    r"|weeks?|months?|years?|yrs?|times|o'?clock)\b)"
)
_TEMP_NUMBER = r"(?:9[4-9]|10[0-9]|3[4-9]|4[0-2])(?:\.\d{1,2})?(?!\.?\d)"
_UNIT = (
    r"(?:\s*(?:%|percent\b|mg/dl\b|mg/l\b|mmol/l\b|mmol\b|mm\s*hg\b|ng/ml\b|miu/l\b|iu/l\b|u/l\b"
    r"|mg\b|bpm\b|beats\s+per\s+minute\b|°\s*[fc]?|degrees?(?:\s+(?:f|c|fahrenheit|celsius)\b)?"
    r"|(?:f|c)\b))?"
)
_LINKS = (
    r"levels?|counts?|readings?|numbers?|scores?|values?|results?|was|is|were|are|of|at"
    r"|reads?|came\s+back(?:\s+(?:at|as))?|went\s+(?:up\s+|down\s+)?to|got\s+(?:up\s+)?to"
    r"|up\s+to|down\s+to|dropped\s+to|spiked\s+to|rose\s+to|hit|around|about|approximately"
    r"|over|under|above|below|almost|nearly|like|still|only|just|now|reached|measured|been"
    r"|have|has|had|running|stays?|staying|sitting|hovering|averaging|ranging|in\s+the"
)
_LINK = rf"(?:\s*(?:[:=~<>]|(?:{_LINKS})\b)){{0,4}}\s*"
_LAB_NAMES = tuple(_read_lexicon(_DEFAULT_LEXICON_DIR / "lab_names.txt"))
_BP_NAMES = ("blood pressure", "bp", "systolic", "diastolic")
_TEMP_NAMES = ("fever", "temp", "temperature")
_INSULIN_NAMES = (
    "insulin|lantus|humalog|novolog|levemir|tresiba|basaglar|toujeo|admelog|fiasp|humulin"
    "|novolin|heparin"
)


def _alternation(names: Iterable[str]) -> str:
    """Join regex fragments longest first so the alternation prefers the longer name."""
    return "|".join(sorted((n.replace(" ", r"\s+") for n in names), key=len, reverse=True))


_LAB_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        # "a1c of 7.2", "glucose 250", "o2 sat 88%"
        rf"\b(?:{_alternation(_LAB_NAMES)})\b{_LINK}{_NUMBER}{_UNIT}",
        # "bp 140/90", "blood pressure was 150 over 95"
        rf"\b(?:{_alternation(_BP_NAMES)})\b{_LINK}\d{{2,3}}(?:\s*(?:/|over)\s*\d{{2,3}})?"
        r"(?!\.?\d)(?:\s*mm\s*hg\b)?",
        # "temp of 101.5", "fever of 102"; the range keeps "fever for 3 days" out
        rf"\b(?:{_alternation(_TEMP_NAMES)})\b{_LINK}{_TEMP_NUMBER}{_UNIT}",
        # "a 102 fever"
        r"\b(?:9[6-9]|10[0-7])(?:\.\d)?\s*(?:°\s*f?|degrees?)?\s+(?:fever|temp(?:erature)?)\b",
        # "100.4 F", "38.5 °C": an explicit scale or a decimal, so "100 degrees outside" stays out
        r"\b(?:9[4-9]|10[0-7])(?:\.\d)?\s*(?:°\s*)?(?:f|fahrenheit)\b",
        r"\b(?:9[4-9]|10[0-7])\.\d\s*(?:°|degrees?\b)",
        r"\b(?:3[5-9]|4[0-2])(?:\.\d)?\s*(?:°\s*c\b|degrees?\s+c(?:elsius)?\b|celsius\b)",
        r"\b3[5-9]\.\d\s*c\b",
        # doses: "5 mg", "500mg", "2 puffs" (not "tablets": the iPad kind is as common)
        r"\b\d{1,5}(?:\.\d{1,2})?\s*(?:mg|mgs|milligrams?|mcg|mcgs|micrograms?|µg|ml|mls"
        r"|milliliters?|millilitres?|cc|iu|capsules?|puffs?)\b",
        # insulin units: "20 units of insulin", "lantus 30 units"
        rf"\b\d{{1,3}}\s*units?(?=\s+(?:of\s+)?(?:{_INSULIN_NAMES})\b)",
        rf"\b(?:{_INSULIN_NAMES})\s+\d{{1,3}}\s*units?\b",
        # bare vitals with their own unit
        r"(?<![\d/])\b(?:1\d\d|2[0-4]\d)\s*/\s*(?:[4-9]\d|1[0-4]\d)\b(?!\s*/)(?:\s*mm\s*hg\b)?",
        r"\b\d{2,3}\s*bpm\b",
        r"\b\d{2,4}(?:\.\d)?\s*(?:mg/dl|mmol/l|mmol|mm\s*hg)\b",
    )
)


def _word_key(word: str) -> str:
    """Lowercase a word and drop apostrophes, so "Can't" and "cant" share one key."""
    return word.lower().replace("’", "").replace("'", "")


@lru_cache(maxsize=1 << 16)
def _text_variants(word: str) -> tuple[str, ...]:
    """Keys a text word may match: itself, without possessive, without a plural ending."""
    low = word.lower().replace("’", "'")
    key = low.replace("'", "")
    out = [key]
    if low.endswith("'s"):
        out.append(low[:-2].replace("'", ""))
    # Plural endings are stripped only from the text side; lexicons list base forms.
    if len(key) > 3 and key.endswith("s") and not key.endswith("ss"):
        out.append(key[:-1])
        if key.endswith("ies") and len(key) > 4:
            out.append(key[:-3] + "y")
        elif key.endswith("es") and len(key) > 4:
            out.append(key[:-2])
    return tuple(dict.fromkeys(out))


def _term_keys(term: str) -> Iterator[_Key]:
    """Yield the lookup keys of one lexicon term, with possessive and run-together forms."""
    words = _WORD_RE.findall(term.lower())
    if not words:
        return
    yield tuple(_word_key(w) for w in words)
    if any(w.endswith(("'s", "’s")) for w in words):
        # "parkinson's" also matches "parkinson"
        yield tuple(_word_key(w[:-2] if w.endswith(("'s", "’s")) else w) for w in words)
    if "-" in term:
        # "x-ray" also matches "xray"
        joined = _WORD_RE.findall(term.lower().replace("-", ""))
        yield tuple(_word_key(w) for w in joined)


@dataclass(frozen=True, slots=True)
class _Tokens:
    """A text's words with offsets, lookup keys and whether each joins the previous word."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    raw: tuple[str, ...]
    variants: tuple[tuple[str, ...], ...]
    joins_previous: tuple[bool, ...]


def _tokenize(text: str) -> _Tokens:
    """Split text into words; a word joins the previous one only across spaces or hyphens."""
    starts: list[int] = []
    ends: list[int] = []
    raw: list[str] = []
    variants: list[tuple[str, ...]] = []
    joins: list[bool] = []
    prev_end = -1
    prev_word = ""
    for match in _WORD_RE.finditer(text):
        word = match.group()
        start = match.start()
        if prev_end < 0:
            joined = False
        else:
            gap = text[prev_end:start]
            if len(prev_word) == 1:
                # "c. diff", "e. coli": a period right after a single letter does not break a term
                gap = gap.replace(".", "", 1)
            joined = gap == " " or _JOINABLE_GAP_RE.fullmatch(gap) is not None
        starts.append(start)
        ends.append(match.end())
        raw.append(word)
        variants.append(_text_variants(word))
        joins.append(joined)
        prev_end = match.end()
        prev_word = word
    return _Tokens(text, tuple(starts), tuple(ends), tuple(raw), tuple(variants), tuple(joins))


@dataclass(frozen=True, slots=True)
class _Match:
    """A candidate span in token positions; kind None means a neutral phrase."""

    first: int
    last: int  # exclusive
    kind: HealthKind | None
    key: _Key


class HealthTermFinder:
    """Finds health terms; build once (loads lexicons), then call find() from any thread."""

    def __init__(self, lexicon_dir: Path | None = None) -> None:
        """Load the five lexicons from lexicon_dir (default: the package's nlu/lexicons)."""
        directory = lexicon_dir if lexicon_dir is not None else _DEFAULT_LEXICON_DIR
        lexicons: dict[HealthKind, frozenset[_Key]] = {}
        for kind, filename in _LEXICON_FILES:
            keys: set[_Key] = set()
            for term in _read_lexicon(directory / filename):
                keys.update(_term_keys(term))
            lexicons[kind] = frozenset(keys)
        self._lexicons: dict[HealthKind, frozenset[_Key]] = lexicons
        self._neutral: frozenset[_Key] = frozenset(
            key for phrase in _NEUTRAL_PHRASES for key in _term_keys(phrase)
        )
        kind_of: dict[_Key, HealthKind | None] = {}
        # Reverse priority order so the higher-priority kind overwrites a shared key.
        for kind, _ in reversed(_LEXICON_FILES):
            for key in lexicons[kind]:
                kind_of[key] = kind
        for key in self._neutral:
            kind_of[key] = None
        self._kind_of: dict[_Key, HealthKind | None] = kind_of
        self._prefixes: frozenset[_Key] = frozenset(
            key[:n] for key in kind_of for n in range(1, len(key) + 1)
        )
        self._max_len: int = max((len(key) for key in kind_of), default=1)
        self._body_parts: frozenset[_Key] = lexicons[HealthKind.BODY_PART]

    @property
    def lexicon_sizes(self) -> dict[HealthKind, int]:
        """Number of distinct lookup keys per kind (including generated variants)."""
        return {kind: len(keys) for kind, keys in self._lexicons.items()}

    def find(self, text: str) -> list[HealthTerm]:
        """Return the health terms in text, sorted by start, non-overlapping, longest first."""
        tokens = _tokenize(text)
        matches, body_ends = self._lexicon_matches(tokens)
        matches.extend(_combination_matches(tokens, body_ends))
        matches.extend(self._service_matches(tokens, matches))
        spans: list[tuple[int, int, HealthKind | None]] = [
            (tokens.starts[m.first], tokens.ends[m.last - 1], m.kind) for m in matches
        ]
        for pattern in _LAB_PATTERNS:
            spans.extend(
                (m.start(), m.end(), HealthKind.LAB_VALUE)
                for m in pattern.finditer(text)
                if m.end() > m.start()
            )
        return _select(spans, len(text))

    # --- lexicon lookup ---

    def _lexicon_matches(self, tokens: _Tokens) -> tuple[list[_Match], list[int]]:
        """Longest acceptable lexicon match at each position, else a morphology guess.

        Also returns, per position, the end of the longest body part starting there (or -1),
        ignoring the possessive guard, for the combination rules.
        """
        found: list[_Match] = []
        count = len(tokens.starts)
        body_ends = [-1] * count
        kind_of = self._kind_of
        prefixes = self._prefixes
        for first in range(count):
            best: _Match | None = None
            frontier: list[_Key] = [()]
            for last in range(first, min(count, first + self._max_len)):
                if last > first and not tokens.joins_previous[last]:
                    break
                extended: list[_Key] = []
                for prefix in frontier:
                    for variant in tokens.variants[last]:
                        key = (*prefix, variant)
                        if key not in prefixes:
                            continue
                        extended.append(key)
                        if key not in kind_of:
                            continue
                        if key in self._body_parts:
                            body_ends[first] = last + 1
                        candidate = _Match(first, last + 1, kind_of[key], key)
                        if (best is None or candidate.last > best.last) and self._accept(
                            tokens, candidate
                        ):
                            best = candidate
                if not extended:
                    break
                frontier = extended
            if best is None:
                best = _morphology_match(tokens, first)
            if best is not None:
                found.append(best)
        return found, body_ends

    def _accept(self, tokens: _Tokens, match: _Match) -> bool:
        """Apply the guards for ambiguous short words (AIDS, ADD, MS, back, head)."""
        key = match.key
        raw = tokens.raw[match.first]
        if key in _UPPERCASE_ONLY:
            return raw.isupper() and not _all_caps_context(tokens, match.first)
        if key in _TITLE_LIKE:
            # The title is written "Ms" / "Ms." / "ms. jones"; the disease mostly "MS".
            if raw == "MS":
                return not _all_caps_context(tokens, match.first)
            end = tokens.ends[match.first]
            after = tokens.raw[match.first + 1] if match.first + 1 < len(tokens.raw) else ""
            followed_by_period = tokens.text[end : end + 1] == "."
            return raw == "ms" and not followed_by_period and not after[:1].isupper()
        if key in _NEEDS_POSSESSIVE and match.kind is HealthKind.BODY_PART:
            if match.first == 0 or not tokens.joins_previous[match.first]:
                return False
            return not _POSSESSIVES.isdisjoint(tokens.variants[match.first - 1])
        return True

    # --- rules that combine words ---

    def _service_matches(self, tokens: _Tokens, matches: list[_Match]) -> list[_Match]:
        """Neutral spans for service names built on a condition: "cancer center", "flu shot"."""
        found: list[_Match] = []
        count = len(tokens.starts)
        # Another sensitive term may sit between a term and its head: "asthma and allergy
        # center"; the walk jumps over it as a whole.
        term_end = {m.first: m.last for m in matches if m.kind in _SENSITIVE}
        for match in matches:
            if match.kind not in _SENSITIVE:
                continue
            outbreak = any(
                not _OUTBREAK_TERMS.isdisjoint(tokens.variants[i])
                for i in range(match.first, match.last)
            )
            nxt = match.last
            while nxt < count and nxt - match.last <= 4 and tokens.joins_previous[nxt]:
                variants = tokens.variants[nxt]
                if (
                    not _SERVICE_HEADS.isdisjoint(variants)
                    or not _VACCINE_HEADS.isdisjoint(variants)
                    or (outbreak and not _OUTBREAK_HEADS.isdisjoint(variants))
                ):
                    # "covid booster dose": the dose of a vaccine is part of the service name
                    while (
                        nxt + 1 < count
                        and tokens.joins_previous[nxt + 1]
                        and not _VACCINE_TAIL.isdisjoint(tokens.variants[nxt + 1])
                    ):
                        nxt += 1
                    found.append(_Match(match.first, nxt + 1, None, ()))
                    break
                if nxt in term_end:
                    nxt = term_end[nxt]
                    continue
                if _SERVICE_CONNECTORS.isdisjoint(variants) and _OUTBREAK_TERMS.isdisjoint(
                    variants
                ):
                    break
                nxt += 1
            first = match.first
            if (
                first >= 2
                and tokens.joins_previous[first]
                and tokens.joins_previous[first - 1]
                and not {"for", "of"}.isdisjoint(tokens.variants[first - 1])
                and not _SERVICE_HEADS_BEFORE.isdisjoint(tokens.variants[first - 2])
            ):
                found.append(_Match(first - 2, match.last, None, ()))
            if outbreak:
                for head in range(first - 1, max(first - 4, -1), -1):
                    if not tokens.joins_previous[head + 1]:
                        break
                    if not _VACCINE_HEADS_BEFORE.isdisjoint(tokens.variants[head]):
                        found.append(_Match(head, match.last, None, ()))
                        break
        return found


def _combination_matches(tokens: _Tokens, body_ends: list[int]) -> list[_Match]:
    """Injury word + body part ("broke my arm"), body part + problem ("knee pain") or state."""
    found: list[_Match] = []
    count = len(tokens.starts)
    for first in range(count):
        variants = tokens.variants[first]
        injury = not _INJURY_WORDS.isdisjoint(variants)
        if injury or not _SYMPTOM_ADJECTIVES.isdisjoint(variants):
            nxt = first + 1
            # "broke my left arm": up to two determiners between the word and the body part
            while (
                nxt < count
                and nxt - first <= 2
                and tokens.joins_previous[nxt]
                and not _DETERMINERS.isdisjoint(tokens.variants[nxt])
            ):
                nxt += 1
            # "broke my heart", "a broken heart" are about feelings
            if (
                nxt < count
                and tokens.joins_previous[nxt]
                and body_ends[nxt] > 0
                and not (body_ends[nxt] == nxt + 1 and "heart" in tokens.variants[nxt])
            ):
                kind = HealthKind.CONDITION if injury else HealthKind.SYMPTOM
                found.append(_Match(first, body_ends[nxt], kind, ()))
        end = body_ends[first]
        if 0 < end < count and tokens.joins_previous[end]:
            head = tokens.variants[end]
            if not _BODY_CONDITION_HEADS.isdisjoint(head):
                found.append(_Match(first, end + 1, HealthKind.CONDITION, ()))
            elif not _BODY_SYMPTOM_HEADS.isdisjoint(head):
                found.append(_Match(first, end + 1, HealthKind.SYMPTOM, ()))
            elif not _BODY_PROCEDURE_HEADS.isdisjoint(head):
                found.append(_Match(first, end + 1, HealthKind.PROCEDURE, ()))
            else:
                found.extend(_body_state_match(tokens, first, end))
    return found


def _body_state_match(tokens: _Tokens, first: int, end: int) -> list[_Match]:
    """Body part + linking words + state: "my wrist is broken", "my eyes are red"."""
    count = len(tokens.starts)
    # "my heart is broken / heavy / full" is about feelings; only a racing heart is a symptom.
    heart = end == first + 1 and "heart" in tokens.variants[first]
    nxt = end
    while nxt < count and nxt - end < 4 and tokens.joins_previous[nxt]:
        variants = tokens.variants[nxt]
        if heart:
            if not _HEART_STATES.isdisjoint(variants):
                return [_Match(first, nxt + 1, HealthKind.SYMPTOM, ())]
            if _LINKING_WORDS.isdisjoint(variants):
                break
            nxt += 1
            continue
        if not _INJURY_STATES.isdisjoint(variants):
            return [_Match(first, nxt + 1, HealthKind.CONDITION, ())]
        if not _SYMPTOM_STATES.isdisjoint(variants):
            return [_Match(first, nxt + 1, HealthKind.SYMPTOM, ())]
        if _LINKING_WORDS.isdisjoint(variants):
            break
        nxt += 1
    return []


def _all_caps_context(tokens: _Tokens, index: int) -> bool:
    """True when the words on both sides are upper case too (a shouted message)."""
    neighbours = [tokens.raw[i] for i in (index - 1, index + 1) if 0 <= i < len(tokens.raw)]
    return bool(neighbours) and all(n.isupper() for n in neighbours)


def _morphology_match(tokens: _Tokens, index: int) -> _Match | None:
    """Guess a kind from a clinical word ending ("-itis", "-olol") for an unknown word."""
    for variant in tokens.variants[index]:
        # endswith() is a cheap filter before the regexes, which most words never reach
        if (
            not variant.endswith(_ANY_SUFFIX)
            or variant in _MORPHOLOGY_STOP
            or not _ALPHA_RE.fullmatch(variant)
        ):
            continue
        for pattern, kind in _MORPHOLOGY_RULES:
            if pattern.fullmatch(variant):
                return _Match(index, index + 1, kind, (variant,))
    return None


def _select(spans: list[tuple[int, int, HealthKind | None]], length: int) -> list[HealthTerm]:
    """Keep the longest spans first, drop overlaps, then drop neutral spans."""
    spans.sort(key=lambda s: (s[0] - s[1], s[0], _PRIORITY[s[2]]))
    taken = bytearray(length + 1)
    chosen: list[HealthTerm] = []
    for start, end, kind in spans:
        if taken.find(1, start, end) != -1:
            continue
        taken[start:end] = b"\x01" * (end - start)
        if kind is not None:
            chosen.append(HealthTerm(kind, start, end))
    chosen.sort(key=lambda t: t.start)
    return chosen
