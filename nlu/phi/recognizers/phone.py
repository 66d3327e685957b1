"""Phone numbers through presidio's phonenumbers-based recognizer, skipped when impossible.

libphonenumber's matcher is the slowest step of PHI detection (about half a millisecond a
message); a phone number has at least seven digits, so texts with fewer skip it.
"""

from __future__ import annotations

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

# Numbers written in national form are read as US numbers; any number in international
# form ("+44 20 …") is found whatever the region. Each extra region is another full pass.
REGIONS = ("US",)
MIN_DIGITS = 7


class GatedPhoneRecognizer(PhoneRecognizer):
    """presidio's PhoneRecognizer for our regions, run only on texts with 7+ digits."""

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_language=supported_language, supported_regions=REGIONS)

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts = None,  # type: ignore[assignment]  # presidio signature
    ) -> list[RecognizerResult]:
        """Phone numbers in the text (none when it has fewer than seven digits)."""
        if sum(ch.isdigit() for ch in text) < MIN_DIGITS:
            return []
        return list(super().analyze(text, entities, nlp_artifacts))
