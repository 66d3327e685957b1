"""The masked view of a case's texts that staff see until they reveal the full text."""

from __future__ import annotations

import re
from collections.abc import Sequence

_DIGITS = re.compile(r"\d{3,}")


def mask(text: str, spans: Sequence[tuple[str, int, int]] = ()) -> str:
    """The text with the given entity spans replaced by `[TYPE]` and digit runs by `[NUMBER]`.

    Deliberately simple (no NLP on a page view): each message of the person keeps the spans
    its triage found. Staff reveal the full text when needed.
    """
    out, last = [], 0
    valid = [s for s in spans if 0 <= s[1] < s[2] <= len(text)]
    for kind, start, end in sorted(valid, key=lambda s: s[1]):
        if start < last:  # overlapping spans: the earlier one already covers it
            continue
        out += [_DIGITS.sub("[NUMBER]", text[last:start]), f"[{kind}]"]
        last = end
    out.append(_DIGITS.sub("[NUMBER]", text[last:]))
    return "".join(out)
