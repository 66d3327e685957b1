"""Insurance member, subscriber, policy and group IDs and account numbers, after a cue word."""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts


class MemberIdRecognizer(LocalRecognizer):
    """Recognise health-plan member/subscriber/policy/group IDs and account numbers in context."""

    name: str
    ENTITY: ClassVar[str] = "MEMBER_ID"
    SCORE: ClassVar[float] = 0.9
    # "group #3" or "account 12" are not identifiers worth hiding.
    MIN_DIGITS: ClassVar[int] = 4
    MAX_LENGTH: ClassVar[int] = 30

    _KIND = r"(?:identifier|id|number|num|nbr|no\b|\#)"
    # Payer IDs have no common format, so the cue is what makes a token an ID.
    CUES: ClassVar[tuple[str, ...]] = (
        r"member(?:ship)?[ \t]*" + _KIND,
        r"subscriber(?:[ \t]*" + _KIND + r")?",
        r"policy(?:[ \t]*holder)?[ \t]*" + _KIND,
        r"(?:group|grp)[ \t]*" + _KIND,
        r"grp",
        r"(?:insurance(?:[ \t]+card)?|ins\.?|health[ \t]+plan|plan|medicaid|medi-cal|tricare"
        r"|enrollee|claim|certificate|cert)[ \t]*" + _KIND,
        r"(?:billing[ \t]+)?account[ \t]*" + _KIND,
        r"acct\.?(?:[ \t]*" + _KIND + r")?",
        r"a/c[ \t]*(?:no\b|\#|number)",
    )
    _GLUE = r"(?:[\s:#=.\-–]|(?:number|num|nbr|no|is|was|id)(?![a-z]))"
    # Letters-then-digits ("XGH123456789", "W123456789") or dash-grouped digits ("44-55120-9").
    _VALUE = r"(?P<value>(?:[a-z]{1,6}-?)?\d[a-z0-9]*+(?:[-/][a-z0-9]++)*+)"
    PATTERN: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:" + "|".join(CUES) + r")(?![a-z])" + _GLUE + r"{0,16}+" + _VALUE,
        re.IGNORECASE,
    )
    # "member services number 1-800-555-0100" style phone numbers are not member IDs.
    PHONE_SHAPE: ClassVar[re.Pattern[str]] = re.compile(r"(?:1-)?(?:\d{3}-)?\d{3}-\d{4}")
    DATE_SHAPE: ClassVar[re.Pattern[str]] = re.compile(r"\d{1,2}[-/]\d{1,2}[-/](?:19|20)?\d{2}")

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
        """Return the value span (not the cue) of every cued member or account ID."""
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
            textual_explanation="identifier after a member/policy/account cue",
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
