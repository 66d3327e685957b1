"""Which language a message is written in: the supported ones, or "another one".

lingua (a well-kept detector that ships its models) in its high-accuracy mode decides
between the supported languages; it works on short, informal, unaccented text ("a q hora
abren", "hola!"). A second, low-accuracy detector over the languages US patients most
often write besides them tells when a longer text is in none of the supported languages,
so it is never answered with FAQ content or an English fallback.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

# Languages whose speakers write to US hospitals most often after English and Spanish
# (US Census language-spoken-at-home tables); used only to recognise "none of ours".
_OTHERS = (
    "CHINESE", "TAGALOG", "VIETNAMESE", "ARABIC", "FRENCH", "KOREAN", "RUSSIAN", "PORTUGUESE",
    "GERMAN", "HINDI", "POLISH", "ITALIAN", "JAPANESE", "PERSIAN", "URDU", "GUJARATI",
    "BENGALI", "PUNJABI", "UKRAINIAN", "SOMALI", "YORUBA", "SWAHILI", "TURKISH", "GREEK",
)  # fmt: skip
_LETTERS = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"[^\W\d_]{2,}")
# Below this share a supported language other than the first does not win on a short text.
SWITCH_CONFIDENCE = 0.6
# An unsupported language must be this sure, on a text of at least this many words.
OTHER_CONFIDENCE = 0.6
OTHER_MIN_WORDS = 4
KNOWN_WORD_SHARE = 0.15
SHORT_WORDS = 3
SHARED_SHARE = 0.4


def fold(word: str) -> str:
    """Case and accents folded: "Qué" -> "que"."""
    decomposed = unicodedata.normalize("NFD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _stop_words(codes: Sequence[str]) -> frozenset[str]:
    """spaCy's stop words of each language that has a list.

    The lists are read as files: importing `spacy.lang.<code>` would load the whole
    language (seconds each).
    """
    import runpy

    import spacy.lang

    root = Path(spacy.lang.__file__).parent
    words: set[str] = set()
    for code in codes:
        path = root / code / "stop_words.py"
        if path.is_file():
            words |= {fold(w) for w in runpy.run_path(str(path)).get("STOP_WORDS", ())}
    return frozenset(words)


class LanguageIdentifier:
    """Tells the language of a text: one of `supported` (first = default) or another code."""

    def __init__(
        self, supported: Sequence[str], vocabulary: Mapping[str, Iterable[str]] | None = None
    ) -> None:
        """Build both detectors (their models load once, about a second).

        `vocabulary`: words known to be of each language (the FAQ examples); with spaCy's
        stop words they let a text of one or two words leave the default language.
        """
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        if not supported:
            raise ValueError("at least one supported language")
        self.supported = tuple(supported)
        self._stop_words = _stop_words(self.supported)
        self._known = {
            code: _stop_words((code,)) | {fold(w) for w in (vocabulary or {}).get(code, ())}
            for code in self.supported
        }
        self._theirs = {
            str(lang.iso_code_639_1.name).lower(): _stop_words(
                (str(lang.iso_code_639_1.name).lower(),)
            )
            for lang in (getattr(Language, name) for name in _OTHERS)
        }
        self.default = self.supported[0]
        languages = [
            Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in supported
        ]
        self._ours: Any = None
        if len(languages) > 1:
            self._ours = (
                LanguageDetectorBuilder.from_languages(*languages)
                .with_preloaded_language_models()
                .build()
            )
        others = [getattr(Language, name) for name in _OTHERS]
        others = [lang for lang in others if lang not in languages]
        self._all: Any = (
            LanguageDetectorBuilder.from_languages(*languages, *others)
            .with_low_accuracy_mode()
            .with_preloaded_language_models()
            .build()
        )

    def identify(self, text: str) -> str:
        """The ISO 639-1 code of the text's language (lower case)."""
        if len(_LETTERS.findall(text)) < 2:
            return self.default
        words = [fold(w) for w in _WORD.findall(text)]
        if len(words) >= OTHER_MIN_WORDS:
            best = self._all.compute_language_confidence_values(text)
            if best and best[0].value >= OTHER_CONFIDENCE:
                code = str(best[0].language.iso_code_639_1.name).lower()
                if code not in self.supported and self._few_known_words(words, code):
                    return code
        if self._ours is None:
            return self.default
        values = self._ours.compute_language_confidence_values(text)
        top = values[0]
        code = str(top.language.iso_code_639_1.name).lower()
        if code != self.default and (
            top.value < SWITCH_CONFIDENCE
            # One or two words: only a word of that language ("hola", "citas") moves
            # them; lingua alone takes "AQ" or "AAAA" for Spanish.
            or (len(words) < SHORT_WORDS and not any(fold(w) in self._known[code] for w in words))
        ):
            return self.default
        return code

    def _few_known_words(self, words: list[str], other: str) -> bool:
        """Few words are function words of a supported language (and not of `other`).

        The low-accuracy detector alone takes plain English for French now and then
        ("do you offer payment plans or financial assistance?"); function words of the
        supported languages (spaCy's stop-word lists) keep it honest. Words the other
        language shares ("de", "les" in French and Spanish) are no evidence either way.
        """
        theirs = self._theirs.get(other, frozenset())
        ours = [w in self._stop_words for w in words]
        known = sum(o and w not in theirs for o, w in zip(ours, words, strict=True))
        # Many shared words still tell ours ("how do i transfer my 401k": Polish has
        # "do", "to", "my" too).
        return known / len(words) < KNOWN_WORD_SHARE and sum(ours) / len(words) < SHARED_SHARE

    def identify_many(self, texts: Sequence[str]) -> list[str]:
        """`identify` for each text."""
        return [self.identify(text) for text in texts]
