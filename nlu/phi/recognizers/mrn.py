"""Medical record numbers and patient IDs, found only right after a cue such as "MRN"."""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts


class MrnRecognizer(LocalRecognizer):
    """Recognise MRNs, patient IDs and chart/hospital numbers that follow a cue word."""

    name: str
    ENTITY: ClassVar[str] = "MEDICAL_RECORD_NUMBER"
    SCORE: ClassVar[float] = 0.9
    # Short numbers after "patient #" are usually counts or queue positions, not records.
    MIN_DIGITS: ClassVar[int] = 4
    MAX_LENGTH: ClassVar[int] = 24

    # The cue is what makes a number an MRN; a bare number never matches.
    CUES: ClassVar[tuple[str, ...]] = (
        r"m\.?[ \t]?r\.?[ \t]?n\.?",
        r"mr[ \t]*(?:\#|number|num|no\b)",
        r"medical[ \t]+records?(?:[ \t]+(?:number|num|nbr|no\b|\#|id))?",
        r"med[ \t]*rec(?:ord)?s?(?:[ \t]*(?:number|num|nbr|no\b|\#|id))?",
        r"unit[ \t]+record[ \t]+(?:number|num|no\b|\#)",
        r"(?:patient|pt|hospital|hosp|chart|record|encounter)[ \t]*"
        r"(?:identifier|id|number|num|nbr|no\b|\#)",
    )
    # Glue people put between cue and value ("MRN: ", "mrn is", "med rec # ", "id no.").
    _GLUE = r"(?:[\s:#=.\-–]|(?:number|num|nbr|no|is|was|id)(?![a-z]))"
    # Optional short letter prefix ("A1234567", "PT-448812"); dash-joined groups after that.
    _VALUE = r"(?P<value>(?:[a-z]{1,4}-?)?\d[a-z0-9]*+(?:-[a-z0-9]++)*+)"
    PATTERN: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:" + "|".join(CUES) + r")(?![a-z])" + _GLUE + r"{0,16}+" + _VALUE,
        re.IGNORECASE,
    )
    # "hospital number 555-123-4567" is the switchboard, not a record number.
    PHONE_SHAPE: ClassVar[re.Pattern[str]] = re.compile(r"(?:1-)?(?:\d{3}-)?\d{3}-\d{4}")
    DATE_SHAPE: ClassVar[re.Pattern[str]] = re.compile(r"\d{1,2}-\d{1,2}-(?:19|20)\d{2}")

    def __init__(self, supported_language: str = "en") -> None:
        """Create the recognizer for one language (the patterns are language-neutral)."""
        super().__init__(
            supported_entities=[self.ENTITY],
            name=type(self).__name__,
            supported_language=supported_language,
        )

    def load(self) -> None:
        """Nothing to load: the pattern is compiled once at class level."""

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
    ) -> list[RecognizerResult]:
        """Return the value span (not the cue) of every cued MRN in `text`."""
        if entities and self.ENTITY not in entities:
            return []
        results: list[RecognizerResult] = []
        for match in self.PATTERN.finditer(text):
            value = match.group("value")
            if not self._plausible(value):
                continue
            start, end = match.span("value")
            results.append(self._result(start, end))
        return results

    def _plausible(self, value: str) -> bool:
        if len(value) > self.MAX_LENGTH:
            return False
        if sum(ch.isdigit() for ch in value) < self.MIN_DIGITS:
            return False
        return not (self.PHONE_SHAPE.fullmatch(value) or self.DATE_SHAPE.fullmatch(value))

    def _result(self, start: int, end: int) -> RecognizerResult:
        explanation = AnalysisExplanation(
            recognizer=self.name,
            original_score=self.SCORE,
            textual_explanation="identifier after a medical-record cue",
        )
        return RecognizerResult(
            entity_type=self.ENTITY,
            start=start,
            end=end,
            score=self.SCORE,
            analysis_explanation=explanation,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True,
            },
        )
