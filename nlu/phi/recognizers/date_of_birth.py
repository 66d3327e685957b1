"""Dates of birth: a date right after a birth cue ("DOB", "born on", "birthday is")."""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from nlu.phi.recognizers.base import RegexRecognizer

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![a-z])\.?"
)
_MONTH_ES = (
    r"(?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre"
    r"|noviembre|diciembre)(?![a-z])"
)
_DAY = r"(?:3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?(?![a-z0-9])"
_YEAR4 = r"(?:1[89]|20)\d\d(?!\d)"
_YEAR = r"(?:" + _YEAR4 + r"|['’]\d\d(?!\d))"

_DATE = (
    r"(?P<date>"
    # 1975-02-14, 1975/2/14
    r"(?:1[89]|20)\d\d(?P<s1>[-/.])\d{1,2}(?P=s1)\d{1,2}(?!\d)"
    # 02/14/1975, 2-14-75, 14.02.1975, 3/3 (a birthday without the year)
    r"|\d{1,2}(?P<s2>[-/.])\d{1,2}(?:(?P=s2)(?:\d{4}|\d\d))?(?![\d/.-]?\d)"
    # 14 Feb 1975, 3rd of March, 14-Feb-75
    r"|"
    + _DAY
    + r"(?:[ \t]+of[ \t]+|[ \t]+|-)"
    + _MONTH
    + r"(?:,?[ \t]*"
    + _YEAR
    + r"|-\d\d(?!\d))?"
    # March 3, 1988; Mar. 3rd 1988; march 3, 88
    r"|" + _MONTH + r"[ \t]*" + _DAY + r"(?:,?[ \t]*" + _YEAR + r"|,[ \t]*\d\d(?!\d))?"
    # March 1988 (month and year still narrow a birth date down)
    r"|"
    + _MONTH
    + r",?[ \t]*"
    + _YEAR4
    # 3 de mayo de 1980, 3 de mayo, mayo de 1980
    + r"|"
    + _DAY
    + r"[ \t]+de[ \t]+"
    + _MONTH_ES
    + r"(?:[ \t]+(?:de|del)[ \t]+"
    + _YEAR4
    + r")?"
    + r"|"
    + _MONTH_ES
    + r"[ \t]+(?:de|del)[ \t]+"
    + _YEAR4
    + r")"
)


class DateOfBirthRecognizer(RegexRecognizer):
    """Recognise dates only when a birth cue precedes them; plain dates never match."""

    name: str
    ENTITY: ClassVar[str] = "DATE_OF_BIRTH"
    EXPLANATION: ClassVar[str] = "date after a birth cue"
    SCORE: ClassVar[float] = 0.9

    CUES: ClassVar[tuple[str, ...]] = (
        r"d\.?[ \t]?o\.?[ \t]?b\.?",
        r"d/o/b",
        r"date[ \t]+of[ \t]+birth",
        r"birth[ \t]?date",
        r"birth[ \t]?day",
        r"b-?day",
        r"born",
        # "b. 04/02/1960" only counts with a digit straight after: "plan b. then" does not.
        r"b\.(?=[ \t]*\d)",
        r"fecha[ \t]+de[ \t]+nacimiento",
        r"nac[ií](?:[oó])?",
        r"nacid[oa]",
        r"cumplea[ñn]os",
    )
    # Glue between cue and date: "DOB: ", "born on the", "birthday is", "date of birth -".
    _GLUE = r"(?:[\s:=\-–—,(]|(?:is|was|of|on|in|the|be|es|el|en|de|fue)(?![a-z]))"
    PATTERN: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?P<cue>" + "|".join(CUES) + r")(?![a-z])" + _GLUE + r"{0,12}+" + _DATE,
        re.IGNORECASE,
    )
    NUMERIC: ClassVar[re.Pattern[str]] = re.compile(r"(\d+)[-/.](\d+)(?:[-/.](\d+))?")

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
    ) -> list[RecognizerResult]:
        """Return the date span (not the cue) of every date introduced by a birth cue."""
        if entities and self.ENTITY not in entities:
            return []
        results: list[RecognizerResult] = []
        for match in self.PATTERN.finditer(text):
            date = match.group("date")
            if not self._plausible(date, match.group("cue")):
                continue
            start, end = match.span("date")
            results.append(self._result(start, end, self.SCORE))
        return results

    def _plausible(self, date: str, cue: str) -> bool:
        numeric = self.NUMERIC.fullmatch(date)
        if numeric is None:
            return True
        first, second, third = numeric.groups()
        if len(first) == 4:
            month, day = int(second), int(third)
            return 1 <= month <= 12 and 1 <= day <= 31
        # The bare "b." cue is too weak for a date without a year.
        if third is None and cue.lower().startswith("b."):
            return False
        a, b = int(first), int(second)
        # Accept both month/day and day/month orders.
        return 1 <= a <= 31 and 1 <= b <= 31 and min(a, b) <= 12
