"""Identifiers in disguise: a plain second reading of a message for the PHI recognizers.

People spell numbers out ("five five five", "cinco cinco"), space or dot them
("123 . 45 . 6789", "5 5 5 2 3 4"), dot their labels ("s.s.n", "d o b") or swap letters
for digits ("j0hn", "ph0ne"). `reveal` rewrites those into the forms the recognizers know
and remembers where every character came from, so what is found in the reading gets a
span in the original. `may_hide_identifier` is the cheap test that spares ordinary
messages the second pass: `reveal` changes nothing in a text it rejects.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol, TypeVar

# Digit words of the supported languages. None is a prefix of another, so a fused chunk
# ("five5five") splits one way only.
_ENGLISH = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_SPANISH = ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve")
_DIGIT_WORDS: dict[str, str] = {
    word: str(value) for words in (_ENGLISH, _SPANISH) for value, word in enumerate(words)
}
# "five oh five": a zero only between two other digits ("oh, one more thing" is no number).
_INNER_ZERO = "oh"
_WORD_ALTERNATION = "|".join(sorted(_DIGIT_WORDS, key=len, reverse=True))
_NOT_LETTER_BEFORE, _NOT_LETTER_AFTER = r"(?<![^\W\d_])", r"(?![^\W\d_])"
_DIGIT_WORD = _NOT_LETTER_BEFORE + r"(?:" + _WORD_ALTERNATION + r"|oh)" + _NOT_LETTER_AFTER
# What may stand between two digits of one number: spaces and at most one separator.
_GAP = r"[ \t]*[-.,/]?[ \t]*"
_FUSED = re.compile(r"(?:" + _WORD_ALTERNATION + r"|[0-9])+", re.IGNORECASE)
_FUSED_PART = re.compile(_WORD_ALTERNATION + r"|[0-9]", re.IGNORECASE)
_CHUNK = re.compile(r"[\w$]+")
_RUN_GAP = re.compile(_GAP)

# Labels people dot or space out; joined, the recognizers' cues and context words see them.
_LABELS = ("ssn", "mrn", "dob", "mbi", "nss", "dni", "id")
_LETTER_GAP = r"(?:[ \t]*\.[ \t]*|[ \t]+)"
_SPACED_LABEL = re.compile(
    r"(?<![\w$.])(?:" + "|".join(_LETTER_GAP.join(label) for label in _LABELS) + r")(?![\w$])",
    re.IGNORECASE,
)

# Digits and signs that stand in for letters inside a word ("j0hn", "sm1th", "ph0ne").
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "$": "s"}
_LEET_CHARS = "013457$"
_LEET_INTERIOR = re.compile(r"[^\W\d_][" + _LEET_CHARS + r"]+[^\W\d_]")
# Label spellings whose stand-ins sit at an edge, where an interior rule cannot see them.
_LEET_EDGE_LABEL = re.compile(
    r"(?<![\w$])(?:[5$][s5$]n|phon3|nam3|ce(?:1[l1]|l1))(?![\w$])", re.IGNORECASE
)
_LEET_WORDS = frozenset({"ssn", "phone", "name", "cell", "mobile", "dob", "mrn"})

_MAY_HIDE = re.compile(
    "|".join(
        (
            # a digit word next to another digit: "one two", "five5", "3 four"
            _DIGIT_WORD + _GAP + r"(?:" + _DIGIT_WORD + r"|[0-9])",
            r"[0-9]" + _GAP + _DIGIT_WORD,
            # a separator with spaces around it between digits: "123 . 45"
            r"[0-9][ \t]+[-./][ \t]*[0-9]|[0-9][-./][ \t]+[0-9]",
            # three single digits in a row: "5 5 5", "1-2-3"
            r"(?<![\w$])[0-9](?:(?:[ \t]+|[ \t]*[-./][ \t]*)[0-9](?![\w$])){2}",
            # spaced digits in groups parted by a comma: "0 0, 0 0" (a list "2, 3, 4" is not)
            r"(?<![\w$])[0-9][ \t]+[0-9],[ \t]+[0-9]",
            r"(?<![\w$])[0-9],[ \t]+[0-9][ \t]+[0-9](?![\w$])",
            _SPACED_LABEL.pattern,
            _LEET_INTERIOR.pattern,
            _LEET_EDGE_LABEL.pattern,
        )
    ),
    re.IGNORECASE,
)


def may_hide_identifier(text: str) -> bool:
    """Whether `text` has anything `reveal` would rewrite (one regex search)."""
    return _MAY_HIDE.search(text) is not None


@dataclass(frozen=True, slots=True)
class Reading:
    """A rewritten text and, for each of its characters, the original span it stands for."""

    text: str
    sources: tuple[tuple[int, int], ...]
    changed: tuple[bool, ...]
    names: bool  # a word lost its stand-in digits: the name finder should read it again

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that reading[start:end] was made from."""
        if end <= start:
            return self.sources[start][0], self.sources[start][0]
        return self.sources[start][0], self.sources[end - 1][1]

    def touches_change(self, start: int, end: int) -> bool:
        """Whether reading[start:end] holds a rewritten character."""
        return any(self.changed[start:end])


# One rewrite: the original span it replaces and its output, piece by piece, each piece
# with the original span it comes from.
_Piece = tuple[str, int, int]
_Edit = tuple[int, int, list[_Piece]]


def reveal(text: str) -> Reading | None:
    """The plain reading of `text`, or None when it hides nothing we know how to read."""
    if not may_hide_identifier(text):
        return None
    leet = list(_leet_edits(text))
    edits = sorted([*_number_edits(text), *_label_edits(text), *leet], key=lambda e: e[0])
    out: list[str] = []
    sources: list[tuple[int, int]] = []
    changed: list[bool] = []

    def keep(start: int, end: int) -> None:
        out.append(text[start:end])
        sources.extend((i, i + 1) for i in range(start, end))
        changed.extend([False] * (end - start))

    last = 0
    for start, end, pieces in edits:
        if start < last:
            continue  # the passes cover different characters; never rewrite one twice
        keep(last, start)
        for chars, a, b in pieces:
            out.append(chars)
            sources.extend([(a, b)] * len(chars))
            changed.extend([True] * len(chars))
        last = end
    keep(last, len(text))
    reading = "".join(out)
    if reading == text:
        return None
    return Reading(reading, tuple(sources), tuple(changed), names=bool(leet))


@dataclass(frozen=True, slots=True)
class _Item:
    """One digit or digit group of a number, as written: "5", "555", "five", "five5five"."""

    start: int
    end: int
    digits: str
    wordy: bool
    inner_only: bool = False  # "oh": a digit only between two others

    @property
    def spelled(self) -> bool:
        """Written one digit at a time: such items are joined when only spaces part them."""
        return self.wordy or len(self.digits) == 1


def _item(match: re.Match[str]) -> _Item | None:
    chunk = match.group()
    folded = chunk.casefold()
    start, end = match.span()
    if chunk.isascii() and chunk.isdigit():
        return _Item(start, end, chunk, wordy=False)
    if folded in _DIGIT_WORDS:
        return _Item(start, end, _DIGIT_WORDS[folded], wordy=True)
    if folded == _INNER_ZERO:
        return _Item(start, end, "0", wordy=True, inner_only=True)
    if _FUSED.fullmatch(chunk) and any(ch.isdigit() for ch in chunk):
        parts = [p.casefold() for p in _FUSED_PART.findall(chunk)]
        if any(not p.isdigit() for p in parts):
            return _Item(start, end, "".join(_DIGIT_WORDS.get(p, p) for p in parts), wordy=True)
    return None


def _runs(text: str) -> Iterator[list[_Item]]:
    """Maximal sequences of digit items parted only by spaces and single separators."""
    run: list[_Item] = []
    for match in _CHUNK.finditer(text):
        item = _item(match)
        if item is not None and run and _RUN_GAP.fullmatch(text, run[-1].end, item.start):
            # "1,000" and "1,00,000": a bare comma between written digits is thousands.
            thousands = text[run[-1].end : item.start] == "," and not (run[-1].wordy or item.wordy)
            if not thousands:
                run.append(item)
                continue
        if run:
            yield run
        run = [item] if item is not None else []
    if run:
        yield run


def _trim(run: list[_Item]) -> list[_Item]:
    start, end = 0, len(run)
    while start < end and run[start].inner_only:
        start += 1
    while end > start and run[end - 1].inner_only:
        end -= 1
    return run[start:end]


def _disguised(run: Sequence[_Item], gaps: Sequence[str]) -> bool:
    if any(item.wordy for item in run):
        return len(run) >= 2 or len(run[0].digits) >= 2
    if any(gap != gap.strip() and gap.strip() in {"-", ".", "/"} for gap in gaps):
        return True
    streak = 1
    spaced = any(gap and not gap.strip() for gap in gaps)
    for before, gap, after in zip(run, gaps, run[1:], strict=False):
        # "0 0, 0 0" is one number in two groups: a comma joins groups of spaced digits, but
        # in a list ("2, 3, 4") it parts numbers.
        comma_ok = gap.strip() != "," or (gap != "," and spaced)
        single = len(before.digits) == 1 and len(after.digits) == 1 and comma_ok
        streak = streak + 1 if single else 1
        if streak >= 3:
            return True
    return False


def _number_edits(text: str) -> Iterator[_Edit]:
    for found in _runs(text):
        run = _trim(found)
        if not run:
            continue
        gaps = [text[a.end : b.start] for a, b in pairwise(run)]
        if not _disguised(run, gaps):
            continue
        marks = [gap.strip() for gap in gaps]
        one_digit_each = all(len(item.digits) == 1 for item in run)
        # "1-2-3-4-5-6-7-8-9": a separator after every digit separates nothing.
        join_all = (
            one_digit_each
            and len(run) >= 3
            and (not any(marks) or (len(set(marks)) == 1 and marks[0] in {"-", ".", "/"}))
        )
        pieces: list[_Piece] = [(run[0].digits, run[0].start, run[0].end)]
        for before, mark, after in zip(run, marks, run[1:], strict=False):
            if not join_all:
                if mark:
                    # One mark every recognizer takes between groups: a comma reads as
                    # thousands, and the record-number values continue only past a dash.
                    pieces.append(("-", before.end, after.start))
                elif not (before.spelled and after.spelled):
                    pieces.append((" ", before.end, after.start))
            pieces.append((after.digits, after.start, after.end))
        start, end = run[0].start, run[-1].end
        if "".join(p[0] for p in pieces) != text[start:end]:
            yield start, end, pieces


def _label_edits(text: str) -> Iterator[_Edit]:
    for match in _SPACED_LABEL.finditer(text):
        letters = [(ch, match.start() + i) for i, ch in enumerate(match.group()) if ch.isalpha()]
        yield match.start(), match.end(), [(ch, i, i + 1) for ch, i in letters]


def _leet_edits(text: str) -> Iterator[_Edit]:
    for match in _CHUNK.finditer(text):
        chunk = match.group()
        if not (_LEET_INTERIOR.search(chunk) or _LEET_EDGE_LABEL.fullmatch(chunk)):
            continue
        if _item(match) is not None or not all(ch.isalpha() or ch in _LEET for ch in chunk):
            continue
        plain = "".join(_LEET.get(ch, ch) for ch in chunk)
        with_l = "".join("l" if ch == "1" else _LEET.get(ch, ch) for ch in chunk)
        if with_l.casefold() in _LEET_WORDS:
            plain = with_l  # "ce11" is "cell", not "ceii"
        start = match.start()
        yield start, match.end(), [(ch, start + i, start + i + 1) for i, ch in enumerate(plain)]


class _Found(Protocol):
    """What merging needs of a recognizer result (presidio's RecognizerResult has it)."""

    entity_type: str
    start: int
    end: int


_R = TypeVar("_R", bound=_Found)


def merge(reading: Reading, first: Sequence[_Found], second: Sequence[_R]) -> list[_R]:
    """What the plain reading found that the original reading did not, moved onto the
    original text (the results in `second` are changed in place).

    A name counts only where a rewritten word is: elsewhere the reading holds the same
    words as the original, and the original reading already had its say.
    """
    added: list[_R] = []
    known: list[_Found] = list(first)
    for result in second:
        if result.entity_type == "PERSON" and not reading.touches_change(result.start, result.end):
            continue
        start, end = reading.original_span(result.start, result.end)
        if any(
            f.entity_type == result.entity_type and f.start < end and start < f.end for f in known
        ):
            continue
        result.start, result.end = start, end
        added.append(result)
        known.append(result)
    return added
