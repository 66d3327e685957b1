"""Email addresses spelled out to slip past filters: "jsmith at gmail dot com".

Only spelled forms ("at", "(at)", "dot", "[dot]"): plain addresses are the email
recognizer's. A known mail provider, or an email cue before it, is required, so that
"look at google dot com" stays a website.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from nlu.phi.recognizers.base import RegexRecognizer

_AT = r"(?:[ \t]*(?:\(at\)|\[at\]|\{at\}|@)[ \t]*|[ \t]+(?:at|arroba)[ \t]+)"
_DOT = r"(?:[ \t]*(?:\(dot\)|\[dot\]|\{dot\}|\.)[ \t]*|[ \t]+(?:dot|punto)[ \t]+)"
_TLD = r"(?:com|net|org|edu|gov|us|io|co|me|info|biz|mx|es)"
_PROVIDERS = (
    r"(?:gmail|googlemail|yahoo|ymail|hotmail|outlook|live|msn|aol|icloud|me|mac|comcast"
    r"|att|sbcglobal|verizon|protonmail|proton|gmx|zoho|yandex|mail)"
)
_CUE = re.compile(
    r"\b(?:e-?mail|mail|correo|reach me|contact me|write (?:to )?me"
    r"|send (?:it |them |me )?(?:to|at))\b",
    re.IGNORECASE,
)


class SpelledEmailRecognizer(RegexRecognizer):
    """An address written with "at" and "dot" in words."""

    name: str
    ENTITY: ClassVar[str] = "EMAIL_ADDRESS"
    EXPLANATION: ClassVar[str] = "email address spelled out"
    SCORE: ClassVar[float] = 0.8
    PATTERN: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w.])(?P<local>[a-z0-9][a-z0-9._%+-]{1,63})"
        + _AT
        + r"(?P<domain>[a-z0-9-]{2,63}(?:"
        + _DOT
        + r"[a-z0-9-]{2,63})*?)"
        + _DOT
        + _TLD
        + r"(?![\w])",
        re.IGNORECASE,
    )

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
    ) -> list[RecognizerResult]:
        """The span of every spelled-out address (a plain one is left to the email recognizer)."""
        if entities and self.ENTITY not in entities:
            return []
        results = []
        for match in self.PATTERN.finditer(text):
            spelled = "@" not in match.group() or re.search(r"dot|\(|\[|\{", match.group(), re.I)
            first_label = re.split(_DOT, match.group("domain"), maxsplit=1)[0]
            known = re.fullmatch(_PROVIDERS, first_label, re.IGNORECASE) is not None
            cued = _CUE.search(text, max(0, match.start() - 40), match.start()) is not None
            if spelled and (known or cued):
                results.append(self._result(match.start(), match.end(), self.SCORE))
        return results
