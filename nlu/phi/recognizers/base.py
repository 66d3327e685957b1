"""What our regex recognizers share: one entity, class-level patterns, explained results."""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts


class RegexRecognizer(LocalRecognizer):
    """A presidio recognizer for one entity whose patterns are compiled at class level."""

    name: str
    ENTITY: ClassVar[str]
    EXPLANATION: ClassVar[str]

    def __init__(self, supported_language: str = "en") -> None:
        """Create the recognizer for one language (the patterns are language-neutral)."""
        super().__init__(
            supported_entities=[self.ENTITY],
            name=type(self).__name__,
            supported_language=supported_language,
        )

    def load(self) -> None:
        """Nothing to load: the patterns are compiled once at class level."""

    def _result(
        self, start: int, end: int, score: float, context_scored: bool = True
    ) -> RecognizerResult:
        # Marked as context-scored so that presidio does not raise the score a second time.
        explanation = AnalysisExplanation(
            recognizer=self.name, original_score=score, textual_explanation=self.EXPLANATION
        )
        return RecognizerResult(
            entity_type=self.ENTITY,
            start=start,
            end=end,
            score=score,
            analysis_explanation=explanation,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: context_scored,
            },
        )


class CuedValueRecognizer(RegexRecognizer):
    """An identifier that counts only right after its cue ("MRN", "member id"): the value
    span is returned without the cue, and phone- or date-shaped values are rejected."""

    SCORE: ClassVar[float]
    MIN_DIGITS: ClassVar[int]
    MAX_LENGTH: ClassVar[int]
    PATTERN: ClassVar[re.Pattern[str]]  # with a named group "value"
    PHONE_SHAPE: ClassVar[re.Pattern[str]]
    DATE_SHAPE: ClassVar[re.Pattern[str]]

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
    ) -> list[RecognizerResult]:
        """The value span (not the cue) of every cued identifier in `text`."""
        if entities and self.ENTITY not in entities:
            return []
        results: list[RecognizerResult] = []
        for match in self.PATTERN.finditer(text):
            if self._plausible(match.group("value")):
                start, end = match.span("value")
                results.append(self._result(start, end, self.SCORE))
        return results

    def _plausible(self, value: str) -> bool:
        if len(value) > self.MAX_LENGTH:
            return False
        if sum(ch.isdigit() for ch in value) < self.MIN_DIGITS:
            return False
        return not (self.PHONE_SHAPE.fullmatch(value) or self.DATE_SHAPE.fullmatch(value))
