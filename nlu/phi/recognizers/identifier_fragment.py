"""Part of an identifier named as such: "last 4 of my SSN are 1234", "MRN ends in 4471".

A fragment alone identifies nobody, but beside the author's public profile it narrows a
record to a few people and confirms that one exists; staff ask for the rest in private.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from nlu.phi.recognizers.base import RegexRecognizer

_KIND = (
    r"(?:ssn|ss\#|social(?:[ \t]+security)?(?:[ \t]+(?:number|no|\#))?|mrn|medical[ \t]+record"
    r"(?:[ \t]+number)?|chart[ \t]+(?:number|no|\#)|patient[ \t]+(?:id|number|no|\#)"
    r"|member(?:ship)?[ \t]+(?:id|number|no|\#)|policy[ \t]+(?:id|number|no|\#)"
    r"|account[ \t]+(?:number|no|\#)|acct|(?:credit|debit|insurance)?[ \t]*card(?:[ \t]+number)?"
    r"|seguro[ \t]+social|expediente|n[uú]mero[ \t]+de[ \t]+(?:miembro|afiliad[oa]|expediente"
    r"|cuenta|p[oó]liza|tarjeta)|tarjeta)"
)
_WHOSE = r"(?:[ \t]+(?:of|de))?(?:[ \t]+(?:my|his|her|their|our|the|mi|su|sus))?"
_COUNT = r"(?:\d|one|two|three|four|five|six|dos|tres|cuatro|cinco|seis)"
_VALUE = r"(?P<value>[a-z]{0,3}\d[\d \t-]*\d[a-z0-9]*)"
_GLUE = r"[ \t]*(?:are|is|was|=|:|son|es|-)?[ \t]*"


class IdentifierFragmentRecognizer(RegexRecognizer):
    """The digits of an identifier's start or end, told after the identifier's name."""

    name: str
    ENTITY: ClassVar[str] = "ID_NUMBER"
    EXPLANATION: ClassVar[str] = "part of a named identifier"
    SCORE: ClassVar[float] = 0.75
    PATTERN: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:"
        # "MRN ends in 4471", "member id starts with W123", "mi expediente termina en 81"
        + _KIND
        + r"[ \t]+(?:\w+[ \t]+)?(?:starts?|starting|begins?|beginning|ends?|ending|empieza|"
        r"empiezan|comienza|termina|terminan)[ \t]+(?:in|with|en|con)[ \t]+"
        # "last 4 of my SSN are 1234", "los últimos 4 de mi seguro social son 5678"
        r"|(?:last|first|[uú]ltimos|primeros)[ \t]+"
        + _COUNT
        + r"(?:[ \t]+(?:digits|d[ií]gitos))?"
        + _WHOSE
        + r"[ \t]+"
        + _KIND
        + _GLUE
        + r")"
        + _VALUE,
        re.IGNORECASE,
    )

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
    ) -> list[RecognizerResult]:
        """The value span of every identifier fragment in `text`."""
        if entities and self.ENTITY not in entities:
            return []
        return [
            self._result(*match.span("value"), self.SCORE) for match in self.PATTERN.finditer(text)
        ]
