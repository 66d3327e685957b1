"""Medical record numbers and patient IDs, found only right after a cue such as "MRN"."""

from __future__ import annotations

import re
from typing import ClassVar

from nlu.phi.recognizers.base import CuedValueRecognizer


class MrnRecognizer(CuedValueRecognizer):
    """Recognise MRNs, patient IDs and chart/hospital numbers that follow a cue word."""

    name: str
    ENTITY: ClassVar[str] = "MEDICAL_RECORD_NUMBER"
    EXPLANATION: ClassVar[str] = "identifier after a medical-record cue"
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
    # Optional short letter prefix ("A1234567", "PT-448812"); dash-joined groups after that,
    # or digit groups split by a blank ("mrn 00 4481").
    _VALUE = r"(?P<value>(?:[a-z]{1,4}-?)?\d[a-z0-9]*+(?:-[a-z0-9]++|[ \t]\d++)*+)"
    PATTERN: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:" + "|".join(CUES) + r")(?![a-z])" + _GLUE + r"{0,16}+" + _VALUE,
        re.IGNORECASE,
    )
    # "hospital number 555-123-4567" is the switchboard, not a record number.
    PHONE_SHAPE: ClassVar[re.Pattern[str]] = re.compile(r"(?:1-)?(?:\d{3}-)?\d{3}-\d{4}")
    DATE_SHAPE: ClassVar[re.Pattern[str]] = re.compile(r"\d{1,2}-\d{1,2}-(?:19|20)\d{2}")
