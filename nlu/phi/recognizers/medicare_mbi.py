"""Medicare Beneficiary Identifiers (MBI) and, in Medicare context, legacy HICN numbers."""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from nlu.phi.recognizers.base import RegexRecognizer


class MedicareMbiRecognizer(RegexRecognizer):
    """Recognise the 11-character CMS MBI format, scoring it higher near Medicare words."""

    name: str
    ENTITY: ClassVar[str] = "MEDICARE_MBI"
    EXPLANATION: ClassVar[str] = "Medicare identifier format"
    SCORE_WITH_CONTEXT: ClassVar[float] = 0.9
    SCORE_DASHED: ClassVar[float] = 0.6
    SCORE_PLAIN: ClassVar[float] = 0.5
    SCORE_HICN: ClassVar[float] = 0.85
    CONTEXT_BEFORE: ClassVar[int] = 80
    CONTEXT_AFTER: ClassVar[int] = 40

    # CMS excludes S, L, O, I, B and Z so letters are not confused with digits.
    _A = "[AC-HJKMNP-RT-Y]"
    _AN = "[0-9AC-HJKMNP-RT-Y]"
    # Positions: 1 digit 1-9 | 2 letter | 3 alnum | 4 digit | 5 letter | 6 alnum | 7 digit |
    # 8 letter | 9 letter | 10 digit | 11 digit; shown as 4-3-4 with dashes or spaces.
    PATTERN: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w-])[1-9]"
        + _A
        + _AN
        + r"\d(?P<sep>[- ]?)"
        + _A
        + _AN
        + r"\d(?P=sep)"
        + _A
        + _A
        + r"\d\d(?![\w-])",
        re.IGNORECASE,
    )
    # Pre-2018 HICN: an SSN plus a one- or two-character beneficiary code; only with context.
    HICN_PATTERN: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w-])\d{3}(?P<sep>[- ]?)\d{2}(?P=sep)\d{4}-?[A-Z][A-Z0-9]?(?![\w-])",
        re.IGNORECASE,
    )
    CONTEXT: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:medicare|mbi|beneficiary|hicn|hic|cms|red,?[ \t]+white,?[ \t]+"
        r"(?:and|&)[ \t]+blue[ \t]+card)(?![a-z])",
        re.IGNORECASE,
    )

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
    ) -> list[RecognizerResult]:
        """Return every MBI (and every HICN that sits next to a Medicare word)."""
        if entities and self.ENTITY not in entities:
            return []
        results: list[RecognizerResult] = []
        for match in self.PATTERN.finditer(text):
            start, end = match.span()
            value = match.group()
            if self._has_context(text, start, end):
                results.append(self._result(start, end, self.SCORE_WITH_CONTEXT, True))
            elif value.upper() == value:
                # Real MBIs are printed upper-case; lower-case lookalikes need context.
                score = self.SCORE_DASHED if match.group("sep") == "-" else self.SCORE_PLAIN
                results.append(self._result(start, end, score, False))
        for match in self.HICN_PATTERN.finditer(text):
            start, end = match.span()
            if self._has_context(text, start, end):
                results.append(self._result(start, end, self.SCORE_HICN, True))
        return results

    def _has_context(self, text: str, start: int, end: int) -> bool:
        window_start = max(0, start - self.CONTEXT_BEFORE)
        window_end = min(len(text), end + self.CONTEXT_AFTER)
        return self.CONTEXT.search(text, window_start, window_end) is not None
