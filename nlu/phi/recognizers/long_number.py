"""Long digit strings: phone, account, card, licence and record numbers in any format.

In a public comment to a hospital, seven or more digits in one group ("699 956 915",
"0688 872 49 99", "6940579") are nearly always somebody's number, whatever its country's
format. Thousands written with commas ("2,000,000") and decimals are left alone.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from nlu.phi.recognizers.base import RegexRecognizer


class LongNumberRecognizer(RegexRecognizer):
    """Seven to nineteen digits in one run, separated at most by single spaces, dots or dashes."""

    ENTITY: ClassVar[str] = "ID_NUMBER"
    EXPLANATION: ClassVar[str] = "seven or more digits in one run"
    SCORE: ClassVar[float] = 0.65
    MIN_DIGITS: ClassVar[int] = 7
    MAX_DIGITS: ClassVar[int] = 19
    # Digit groups joined by one separator; possessive so hostile input cannot backtrack.
    PATTERN: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w,.])\+?\(?\d++\)?(?:[ .\-/]\(?\d++\)?)*+(?![\w]|[,.]\d)"
    )

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Every digit run of MIN_DIGITS..MAX_DIGITS digits."""
        if entities and self.ENTITY not in entities:
            return []
        results = []
        for match in self.PATTERN.finditer(text):
            digits = sum(ch.isdigit() for ch in match.group())
            if self.MIN_DIGITS <= digits <= self.MAX_DIGITS:
                results.append(self._result(match.start(), match.end(), self.SCORE))
        return results
