"""Reading a verified webhook body as JSON, whatever valid JSON it carries.

Python's json refuses a whole body for one item nested thousands deep (RecursionError) or
holding a number of more than 4,300 digits (ValueError), and the good items beside it would
be lost. Such a body is read again with every part past MAX_DEPTH replaced by a marker
object and every such number by infinity, so only the item it sits in is unusable: a
connector skips that item (wrong type or missing fields), named by place.
"""

from __future__ import annotations

import json
import re

# Deeper than any platform nests (Meta's deepest field is 6 levels down, X's 7).
MAX_DEPTH = 64
# Where a string, object or array is expected it is the wrong type or has no fields.
_MARKER = '{"\\u0000": "nested too deep"}'
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_CLOSES = {"]": "[", "}": "{"}


def _number(digits: str) -> int | float:
    # Too long to read exactly: never an id, a count or a text, and not worth a whole body.
    return int(digits) if len(digits) <= 4300 else float("inf")


def _clip(text: str) -> str:
    """The text with every array or object that opens past MAX_DEPTH replaced by the
    marker; unchanged when its brackets do not pair (json then refuses it)."""
    stack: list[str] = []
    spans: list[tuple[int, int]] = []
    start = 0
    for token in _TOKEN.finditer(text):
        char = token.group()
        if char in "[{":
            stack.append(char)
            if len(stack) == MAX_DEPTH + 1:
                start = token.start()
        elif char in "]}":
            if not stack or stack.pop() != _CLOSES[char]:
                return text
            if len(stack) == MAX_DEPTH:
                spans.append((start, token.end()))
    if not spans:
        return text
    pieces, end = [], 0
    for left, right in spans:
        pieces += [text[end:left], _MARKER]
        end = right
    return "".join([*pieces, text[end:]])


def load_json(body: bytes) -> object:
    """The body as JSON; ValueError when it is none (the error never quotes the body)."""
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    except ValueError:
        raise ValueError("body is not valid JSON") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass  # maybe only too deep or too long somewhere: read again, clipped
    try:
        return json.loads(_clip(text), parse_int=_number)
    # `from None`: the decode error holds the body, which may carry PHI.
    except (ValueError, RecursionError):
        raise ValueError("body is not valid JSON") from None
