"""Patient locations inside a facility: room, bed and bay numbers, with an optional unit."""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from nlu.phi.recognizers.base import RegexRecognizer


class RoomBedRecognizer(RegexRecognizer):
    """Recognise "room 220", "rm 4B", "ICU bed 7", "room 512 bed 2", "4 west room 12", "bay 3".

    The span covers the unit prefix (when present), the keyword and the number, because
    "bed 7" alone and "ICU" alone are harmless but together they point at one patient.
    Limits: a number is required ("waiting room", "emergency room" never match); rooms named
    after a non-clinical space ("conference room 3", "room 1 of the conference center"),
    counts ("room 2 people", "bed 3 days") and place names ("Tampa Bay 3") are rejected;
    a unit alone ("ward 5", "4 west") is not a patient location and is not matched.
    """

    name: str
    ENTITY: ClassVar[str] = "ROOM_NUMBER"
    EXPLANATION: ClassVar[str] = "room/bed keyword followed by a number"
    SCORE: ClassVar[float] = 0.85
    SCORE_WITH_UNIT: ClassVar[float] = 0.9

    _UNIT = (
        r"(?:\d{1,2}[ \t]?-?[ \t]?(?:north|south|east|west|n|s|e|w)"
        r"|(?:north|south|east|west)[ \t]?\d{1,2}"
        r"|\d{1,2}(?:st|nd|rd|th)[ \t]+floor|floor[ \t]+\d{1,2}"
        r"|(?:ward|unit)[ \t]+[a-z]{0,2}\d{1,3}[a-z]?"
        r"|n?icu|picu|micu|sicu|cvicu|ccu|cicu|pacu|er|ed|l&d|labou?r[ \t]+(?:and|&)[ \t]+delivery"
        r"|maternity|peds|pediatrics|oncology|onc|cardiac|telemetry|tele|step-?down"
        r"|med[-/]surg|psych|rehab|ortho|trauma|burn[ \t]+unit)"
    )
    # Spanish too: "cuarto 412", "habitación 3B", "cama 7".
    _PLACE = r"(?P<kind>room|rm|bed|bay|cubicle|pod|crib|isolette|cuarto|habitaci[oó]n|hab|cama)"
    _NUMBER = r"[a-z]{0,2}-?\d{1,4}[a-z]?(?:-\d{1,4}[a-z]?)?"
    _SECOND = r"(?:bed|bay|crib|spot|b)"
    PATTERN: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w&])(?:(?P<unit>"
        + _UNIT
        + r")[ \t]*,?[ \t]*)?"
        + _PLACE
        + r"(?![a-z])\.?[ \t]*(?:(?:number|num|no\.?|\#)[ \t]*)?"
        + _NUMBER
        + r"(?:[ \t]*[,/]?[ \t]*-?[ \t]*"
        + _SECOND
        + r"\.?[ \t]*\#?[ \t]*\d{1,2}[a-z]?)?"
        + r"(?![\w])",
        re.IGNORECASE,
    )
    # A room of a non-clinical space is not a patient's location.
    FACILITY_BEFORE: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:conference|meeting|board|class|lecture|training|education|community"
        r"|waiting|break|rest|bath|chapel|lactation|family|quiet|prayer|meditation|hotel"
        r"|school|chat|zoom|escape|dining|living|guest|spare|storage|server|mail|locker"
        r"|dressing|fitting|changing|control|show|sun|tv|king|queen|twin|bunk|sofa|flower"
        r"|river|sea|truck|tanning)[ \t]+$",
        re.IGNORECASE,
    )
    # "room 2 people", "bed 3 days", "room 1 of the conference center".
    AFTER_REJECT: ClassVar[re.Pattern[str]] = re.compile(
        r"[ \t]*(?:(?:days?|weeks?|months?|years?|yrs?|hours?|hrs?|mins?|minutes?|nights?"
        r"|people|persons|patients|times|kids|adults|am|pm|a\.m\.|p\.m\.)(?![\w])|%"
        r"|,?[ \t]*(?:of|at|in)[ \t]+(?:the[ \t]+)?(?:[\w'-]+[ \t]+){0,2}?"
        r"(?:conference|meeting|education|training|lecture|auditorium|community|cafeteria"
        r"|event|hotel|school|library)(?![\w]))",
        re.IGNORECASE,
    )
    CAPITALISED_WORD_BEFORE: ClassVar[re.Pattern[str]] = re.compile(r"[A-Z][a-z]+[ \t]+$")
    LOOKBEHIND: ClassVar[int] = 30

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
    ) -> list[RecognizerResult]:
        """Return the location span of every room/bed/bay number in `text`."""
        if entities and self.ENTITY not in entities:
            return []
        results: list[RecognizerResult] = []
        for match in self.PATTERN.finditer(text):
            start, end = match.span()
            has_unit = match.group("unit") is not None
            before = text[max(0, start - self.LOOKBEHIND) : start]
            if not has_unit and self.FACILITY_BEFORE.search(before):
                continue
            if self.AFTER_REJECT.match(text, end):
                continue
            if (
                not has_unit
                and match.group("kind") == "Bay"
                and self.CAPITALISED_WORD_BEFORE.search(before)
            ):
                # "Tampa Bay 3", "Green Bay 21": a place name, not a treatment bay.
                continue
            score = self.SCORE_WITH_UNIT if has_unit else self.SCORE
            results.append(self._result(start, end, score))
        return results
