"""Addresses in any country's format, found from what the sentence says about them.

Street-type words differ by language ("u.", "vej", "Άμμος"), but people announce an
address the same way: "lives at", "my new address is", "the corner of", "drops you off
at". After such a cue, a short stretch that holds a house number is an address.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from nlu.phi.recognizers.base import RegexRecognizer


class AddressInContextRecognizer(RegexRecognizer):
    """Text after an address cue, up to and including its last number, within 80 chars."""

    ENTITY: ClassVar[str] = "STREET_ADDRESS"
    EXPLANATION: ClassVar[str] = "address announced by the sentence"
    SCORE: ClassVar[float] = 0.75
    CUE: ClassVar[re.Pattern[str]] = re.compile(
        r"\b(?:(?:my|his|her|their|our|your|new|home|mailing|shipping|billing|current)"
        r"\s+address\s*(?:is|:|=|-)?|address\s*(?::|is|was|\?\s*(?:it'?s|it is|its))"
        r"|change (?:my|the) address to"
        r"|lives?\s+(?:at|on|in)|living\s+(?:at|on)|located\s+(?:at|on)|is\s+(?:at|on)"
        r"|corner\s+of|drops?\s+(?:you|me|us)\s+off\s+at|(?:sent|send|ship|deliver|mail)"
        r"(?:ed)?\s+(?:it\s+|this\s+|them\s+)?to|stop\s+at|meet\s+(?:you|me|us)\s+at"
        r"|moved\s+to|side\s+of|find\s+(?:me|us|it)\s+at|return(?:ed)?\s+to"
        r"|address\s+(?:of|linked|for)\b[^.?!]{0,50}?\b(?:is|to)|enter\s+on"
        r"|meet\s+(?:\w+\s+){0,3}?at"
        # Spanish: "vivo en", "mi dirección es", "mándenlo a"
        r"|viv(?:o|e|imos|en)\s+en|(?:mi|su|nuestra)\s+direcci[oó]n\s*(?:es|:)?"
        r"|direcci[oó]n\s*:|domicilio\s*(?:es|:)?|(?:m[aá]ndenlo|env[ií]enlo|env[ií]en)\s+a)(?=\s)",
        re.IGNORECASE,
    )
    # A hospital's own locations are public knowledge, not someone's address.
    FACILITY: ClassVar[re.Pattern[str]] = re.compile(
        r"\b(?:clinic|hospital|campus|pharmacy|urgent care|er|emergency room|medical center"
        r"|lab|imaging|garage|entrance|riverside)\b[^.?!]{0,20}$",
        re.IGNORECASE,
    )
    # From the cue: up to 80 characters on the line, ending with the last token that holds
    # a digit (dots stay in: "Király u. 15").
    VALUE: ClassVar[re.Pattern[str]] = re.compile(r"\s*([^!?]{0,80}\d[\w-]*)")
    # Numbers that are not house numbers: times, amounts, quantities.
    NOT_ADDRESS: ClassVar[re.Pattern[str]] = re.compile(
        r"\s*(?:\d{1,2}(?::\d\d)?\s*(?:am|pm|a\.m|p\.m)|\$|\d+\s*(?:%|percent|minutes?|mins?"
        r"|hours?|hrs?|days?|weeks?|months?|years?|people|times|a[ñn]os|meses|d[ií]as|semanas"
        r"|horas|minutos|veces|personas)\b)",
        re.IGNORECASE,
    )

    DIGITS: ClassVar[re.Pattern[str]] = re.compile(r"\d+")
    UNIT_AFTER: ClassVar[re.Pattern[str]] = re.compile(
        r"\s*(?:%|percent|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|people|times"
        r"|a[ñn]os|meses|d[ií]as|semanas|horas|minutos|veces|personas)\b",
        re.IGNORECASE,
    )

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """The address after each cue, when it holds a number and is not a clinic's."""
        if entities and self.ENTITY not in entities:
            return []
        results = []
        for cue in self.CUE.finditer(text):
            if self.FACILITY.search(text[max(0, cue.start() - 40) : cue.start()]):
                continue
            value = self.VALUE.match(text, cue.end())
            if value is None or self.NOT_ADDRESS.match(text, value.start(1)):
                continue
            if len(self.DIGITS.findall(value.group(1))) == 1 and self.UNIT_AFTER.match(
                text, value.end(1)
            ):
                continue  # "lives in Texas 5 years", "vivo en Texas hace 5 años": a duration
            results.append(self._result(value.start(1), value.end(1), self.SCORE))
        return results
