"""Insurance member, subscriber, policy and group IDs and account numbers, after a cue word."""

from __future__ import annotations

import re
from typing import ClassVar

from nlu.phi.recognizers.base import CuedValueRecognizer


class MemberIdRecognizer(CuedValueRecognizer):
    """Recognise health-plan member/subscriber/policy/group IDs and account numbers in context."""

    name: str
    ENTITY: ClassVar[str] = "MEMBER_ID"
    EXPLANATION: ClassVar[str] = "identifier after a member/policy/account cue"
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
        # Spanish: "número de miembro", "póliza", "número de afiliado"
        r"n[uú]mero[ \t]+de[ \t]+(?:miembro|afiliad[oa]|asegurad[oa]|socio|p[oó]liza|cuenta"
        r"|seguro(?:[ \t]+m[eé]dico)?|medicaid|medicare)",
        r"(?:p[oó]liza|afiliaci[oó]n|credencial)(?:[ \t]+n[uú]mero)?",
    )
    _GLUE = r"(?:[\s:#=.\-–]|(?:number|num|nbr|no|is|was|id|es|n[uú]mero)(?![a-z]))"
    # Letters-then-digits ("XGH123456789", "W123456789") or dash-grouped digits ("44-55120-9").
    _VALUE = r"(?P<value>(?:[a-z]{1,6}-?)?\d[a-z0-9]*+(?:[-/][a-z0-9]++)*+)"
    PATTERN: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:" + "|".join(CUES) + r")(?![a-z])" + _GLUE + r"{0,16}+" + _VALUE,
        re.IGNORECASE,
    )
    # "member services number 1-800-555-0100" style phone numbers are not member IDs.
    PHONE_SHAPE: ClassVar[re.Pattern[str]] = re.compile(r"(?:1-)?(?:\d{3}-)?\d{3}-\d{4}")
    DATE_SHAPE: ClassVar[re.Pattern[str]] = re.compile(r"\d{1,2}[-/]\d{1,2}[-/](?:19|20)?\d{2}")
