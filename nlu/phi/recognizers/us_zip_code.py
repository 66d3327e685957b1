"""ZIP codes and common postcodes, only after a cue ("zip", "postal code") or a US state."""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from nlu.phi.recognizers.base import RegexRecognizer

_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV"
    "|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI|AS|MP"
    "|AA|AE|AP"
)


class ZipCodeRecognizer(RegexRecognizer):
    """Recognise US ZIP / ZIP+4 and UK, Canadian and European postcodes in context.

    A bare five-digit number never matches: it needs a cue word before it ("zip code",
    "postcode", "PLZ") or the "City, ST" shape of a US address.
    """

    name: str
    ENTITY: ClassVar[str] = "ZIP_CODE"
    EXPLANATION: ClassVar[str] = "postal code after a cue word or a US state"
    SCORE: ClassVar[float] = 0.9
    SCORE_AFTER_STATE: ClassVar[float] = 0.85

    _US = r"\d{5}(?:-?\d{4})?"
    _UK = r"[a-z]{1,2}\d[a-z\d]?[ \t]?\d[a-z]{2}"
    _CA = r"[a-z]\d[a-z][ \t-]?\d[a-z]\d"
    # Dutch "1012 AB", Swedish "111 22", Polish "00-950", other 4-6 digit codes.
    _OTHER = r"\d{4}[ \t]?(?-i:[A-Z]{2})|\d{3}[ \t]\d{2}|\d{2}-\d{3}|\d{4,6}"
    _GLUE = r"(?:[\s:#=.\-–]|(?:is|was|of|code)(?![a-z]))"
    # "zip" means a US ZIP; "postal code"/"postcode" can be any country's format.
    ZIP_PATTERN: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:zip(?:[ \t]*\+[ \t]*4)?(?:[ \t-]?code)?|zipcode)(?![a-z])"
        + _GLUE
        + r"{0,12}+"
        # After an explicit "zip" cue, foreign codes ("ZIP: 394 13", "ZIP: 7412 SL") count too.
        + r"(?P<value>"
        + _US
        + "|"
        + _OTHER
        + r"|\d{3})(?![\w-])",
        re.IGNORECASE,
    )
    POSTCODE_PATTERN: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:post(?:al)?[ \t-]?code|postcode|code[ \t]+postal|c[oó]digo[ \t]+postal"
        r"|postleitzahl|postinumero|postnummer)(?![a-z])"
        + _GLUE
        + r"{0,12}+"
        + r"(?P<value>"
        + _UK
        + "|"
        + _CA
        + "|"
        + _OTHER
        + r"|"
        + _US
        + r")(?![\w-])",
        re.IGNORECASE,
    )
    # "PLZ" is only German postcode when upper-case; "plz" is "please" on social media.
    PLZ_PATTERN: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])PLZ[ \t]*:?[ \t]*(?P<value>\d{5})(?![\w-])"
    )
    # "Springfield, IL 62704": a capitalised city and a state code make five digits a ZIP.
    STATE_PATTERN: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])[A-Z][a-zA-Z.'-]*+(?:[ \t][A-Z][a-zA-Z.'-]*+){0,2},?[ \t]+(?:"
        + _US_STATES
        + r")[ \t]+(?P<value>\d{5}(?:-\d{4})?)(?![\w-])"
    )

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
    ) -> list[RecognizerResult]:
        """Return the code span (not the cue) of every ZIP or postcode found in context."""
        if entities and self.ENTITY not in entities:
            return []
        spans: dict[tuple[int, int], float] = {}
        for pattern in (self.ZIP_PATTERN, self.POSTCODE_PATTERN, self.PLZ_PATTERN):
            for match in pattern.finditer(text):
                spans[match.span("value")] = self.SCORE
        for match in self.STATE_PATTERN.finditer(text):
            spans.setdefault(match.span("value"), self.SCORE_AFTER_STATE)
        return [self._result(start, end, score) for (start, end), score in sorted(spans.items())]
