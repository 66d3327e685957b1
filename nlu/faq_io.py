"""Write FAQ content back as canonical Rasa 3.x YAML, and compare two content sets.

The canonical form is what `triagebot faq export` and `import` write: FAQ intents sorted by
key, then the guard classes, one `examples: |` block per intent and every answer as one
double-quoted line. It is a fixed point: loading it and writing it again gives the same
bytes, so content kept under version control shows only real changes in a review.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nlu.faq import (
    CONTENT_LANGUAGE,
    DOMAIN_FILE,
    FAQ_PREFIX,
    LANGUAGE_SLOT,
    NLU_FILE,
    RESPONSE_PREFIX,
    WELCOME_RESPONSE,
    FaqContent,
    FaqError,
    load_faq,
)

RASA_VERSION = "3.1"
# The retrieval intent Rasa predicts for every faq/<key> (the key comes from its response
# selector), so the domain lists it instead of the individual keys.
RETRIEVAL_INTENT = FAQ_PREFIX.rstrip("/")
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")


def _yaml_printable(ch: str) -> bool:
    """Characters YAML lets stand raw inside one quoted line (no line breaks, no BOM)."""
    code = ord(ch)
    return (
        0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
        or 0x10000 <= code <= 0x10FFFF
    ) and ch not in "\u2028\u2029"


def quote(text: str) -> str:
    """A YAML double-quoted scalar on one line; emoji and accents stay readable.

    JSON's string syntax is a subset of YAML's double-quoted style; what JSON leaves raw
    but YAML would read as a line break or refuse is escaped here too.
    """
    dumped = json.dumps(text, ensure_ascii=False)
    return "".join(ch if _yaml_printable(ch) else f"\\u{ord(ch):04x}" for ch in dumped)


def _check_example(intent: str, text: str) -> None:
    # An example is one line of a literal block: anything that would be read back
    # differently cannot be written faithfully.
    if not text or text != text.strip() or len(text.splitlines()) != 1:
        raise FaqError(f"{intent}: example {text[:40]!r} must be one non-blank line")
    if not all(_yaml_printable(ch) or ch == "\t" for ch in text):
        raise FaqError(f"{intent}: example {text[:40]!r} has a control character")


def _examples_block(
    intent: str, examples: tuple[str, ...], language: str | None = None
) -> list[str]:
    lines = [f"- intent: {intent}"]
    if language is not None:
        _check_language(language)
        lines += ["  metadata:", f"    language: {language}"]
    lines.append("  examples: |")
    for text in examples:
        _check_example(intent, text)
        lines.append(f"    - {text}")
    return lines


def render_nlu(content: FaqContent) -> str:
    """The canonical `nlu.yml`: `faq/<key>` retrieval intents, then the guard classes."""
    lines = [f"version: {quote(RASA_VERSION)}", "nlu:"]
    for key in sorted(content.intents):
        _check_key(key)
        intent = content.intents[key]
        lines += _examples_block(f"{FAQ_PREFIX}{key}", intent.examples)
        for language, examples in sorted(intent.localized_examples.items()):
            lines += _examples_block(f"{FAQ_PREFIX}{key}", examples, language)
    for name in sorted(content.guards):
        lines += _examples_block(name, content.guards[name])
    return "\n".join(lines) + "\n"


def render_domain(content: FaqContent) -> str:
    """The canonical `domain.yml`: the intents Rasa predicts and one answer per FAQ key."""
    lines = [f"version: {quote(RASA_VERSION)}", "intents:", f"- {RETRIEVAL_INTENT}"]
    lines += [f"- {name}" for name in sorted(content.guards)]
    languages = sorted(
        {lang for i in content.intents.values() for lang in i.translations}
        | (set(content.welcome) - {CONTENT_LANGUAGE})
    )
    if languages:
        # The slot Rasa's conditional response variations read to answer in a language.
        lines += ["slots:", f"  {LANGUAGE_SLOT}:", "    type: categorical", "    values:"]
        lines += [f"    - {lang}" for lang in [CONTENT_LANGUAGE, *languages]]
        lines += ["    mappings:", "    - type: custom"]
    lines.append("responses:")
    for key in sorted(content.intents):
        intent = content.intents[key]
        translated = {CONTENT_LANGUAGE: intent.answer, **intent.translations}
        lines += _response(f"{RESPONSE_PREFIX}{key}", translated)
    if content.welcome:
        lines += _response(WELCOME_RESPONSE, content.welcome)
    return "\n".join(lines) + "\n"


def _response(name: str, texts: Mapping[str, str]) -> list[str]:
    """A response: the content language's text first, the others as slot variations."""
    lines = [f"  {name}:"]
    if CONTENT_LANGUAGE in texts:
        lines.append(f"  - text: {quote(texts[CONTENT_LANGUAGE])}")
    for language, text in sorted(texts.items()):
        if language == CONTENT_LANGUAGE:
            continue
        _check_language(language)
        lines += [
            f"  - text: {quote(text)}",
            "    condition:",
            "    - type: slot",
            f"      name: {LANGUAGE_SLOT}",
            f"      value: {language}",
        ]
    return lines


def _check_language(language: str) -> None:
    if not _LANGUAGE.match(language):
        raise FaqError(f"language {language!r}: an ISO 639-1 code, two lower-case letters")


def _check_key(key: str) -> None:
    if not _KEY.match(key):
        raise FaqError(f"{FAQ_PREFIX}{key}: a key is lower-case letters, digits and '_'")


def write_faq(content: FaqContent, directory: Path) -> None:
    """Write both files; each replaces the old one atomically (a reader never sees half)."""
    rendered = {NLU_FILE: render_nlu(content), DOMAIN_FILE: render_domain(content)}
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
                out.write(text)
            os.replace(tmp, directory / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def import_faq(source: Path, destination: Path) -> FaqContent:
    """Validate the content in `source`, then write its canonical form to `destination`."""
    content = load_faq(source)
    write_faq(content, destination)
    return load_faq(destination)


@dataclass(frozen=True, slots=True)
class FaqDiff:
    """What changed from content A to content B; intent names as in `nlu.yml`."""

    added_intents: list[str] = field(default_factory=list)
    removed_intents: list[str] = field(default_factory=list)
    changed_answers: list[str] = field(default_factory=list)
    added_examples: list[tuple[str, str]] = field(default_factory=list)
    removed_examples: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any(
            (
                self.added_intents,
                self.removed_intents,
                self.changed_answers,
                self.added_examples,
                self.removed_examples,
            )
        )

    def lines(self) -> list[str]:
        """One line per change, in a stable order, for people to read."""
        out = [f"+ intent {name}" for name in self.added_intents]
        out += [f"- intent {name}" for name in self.removed_intents]
        out += [f"~ answer {name}" for name in self.changed_answers]
        out += [f"+ example {name}: {quote(text)}" for name, text in self.added_examples]
        out += [f"- example {name}: {quote(text)}" for name, text in self.removed_examples]
        return out


def _examples_by_intent(content: FaqContent) -> dict[str, tuple[str, ...]]:
    named = {f"{FAQ_PREFIX}{key}": intent.examples for key, intent in content.intents.items()}
    return named | dict(content.guards)


def diff_faq(old: FaqContent, new: FaqContent) -> FaqDiff:
    """Intents, answers and examples added, removed or changed from `old` to `new`."""
    before, after = _examples_by_intent(old), _examples_by_intent(new)
    result = FaqDiff(
        added_intents=sorted(set(after) - set(before)),
        removed_intents=sorted(set(before) - set(after)),
        changed_answers=sorted(
            f"{FAQ_PREFIX}{key}"
            for key in set(old.intents) & set(new.intents)
            if old.intents[key].answer != new.intents[key].answer
        ),
    )
    for name in sorted(set(before) | set(after)):
        was, now = set(before.get(name, ())), set(after.get(name, ()))
        result.added_examples.extend((name, text) for text in sorted(now - was))
        result.removed_examples.extend((name, text) for text in sorted(was - now))
    return result
