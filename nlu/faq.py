"""FAQ content kept in Rasa 3.x YAML: `nlu.yml` (examples) and `domain.yml` (answers).

The same two files train a Rasa assistant unchanged. Loading validates them with pydantic
and reports problems as `file:line: where: what`, so an editor can fix them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEMO_CONTENT_DIR = Path(__file__).parent / "content" / "riverside"
NLU_FILE = "nlu.yml"
DOMAIN_FILE = "domain.yml"
FAQ_PREFIX = "faq/"
RESPONSE_PREFIX = "utter_faq/"
# What Get Started and our m.me links are answered with: a greeting listing the topics.
WELCOME_RESPONSE = "utter_welcome"
# Classes trained beside the FAQ so that the classifier learns what must never get a FAQ answer.
GUARD_CLASSES = ("medical_advice", "emergency", "complaint", "spam", "out_of_scope")
# The language of examples and answers that name none. Other languages are marked the way
# Rasa 3 marks them: `metadata: {language: es}` on an example block, and a response
# variation with `condition: [{type: slot, name: language, value: es}]`, so the same files
# still train a Rasa assistant (whose `language` slot then picks the answer).
CONTENT_LANGUAGE = "en"
LANGUAGE_SLOT = "language"

_M = TypeVar("_M", bound=BaseModel)
_INTENT_NAME = r"^[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)?$"
_ANNOTATION = re.compile(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}")


class FaqError(ValueError):
    """Invalid FAQ content; the message names the file, the line and what is wrong."""


class NluItem(BaseModel):
    """One `- intent:` block of an `nlu.yml` file."""

    model_config = ConfigDict(extra="forbid")

    intent: str = Field(pattern=_INTENT_NAME)
    metadata: dict[str, Any] | None = None
    examples: str

    @property
    def language(self) -> str:
        """The examples' language: `metadata.language`, else the content's default."""
        value = (self.metadata or {}).get("language", CONTENT_LANGUAGE)
        return str(value)

    @field_validator("examples")
    @classmethod
    def _examples_are_a_dash_list(cls, value: str) -> str:
        lines = [line.strip() for line in value.splitlines() if line.strip()]
        if not lines:
            raise ValueError("has no examples")
        for line in lines:
            if not line.startswith("- ") or not line[2:].strip():
                raise ValueError(f"example line {line[:40]!r} must look like '- some text'")
        return value


class NluFile(BaseModel):
    """An `nlu.yml` file."""

    model_config = ConfigDict(extra="allow")

    version: str
    nlu: list[NluItem] = Field(min_length=1)


class ResponseVariant(BaseModel):
    """One variant of a Rasa response; triagebot uses the first `text`."""

    model_config = ConfigDict(extra="allow")

    text: str = Field(min_length=1, max_length=1000)

    @property
    def language(self) -> str:
        """The language a `condition` on the `language` slot gives, else the default."""
        for condition in getattr(self, "condition", None) or ():
            if (
                isinstance(condition, dict)
                and condition.get("type") == "slot"
                and condition.get("name") == LANGUAGE_SLOT
            ):
                return str(condition.get("value"))
        return CONTENT_LANGUAGE


class DomainFile(BaseModel):
    """A `domain.yml` file (only the keys triagebot reads are checked)."""

    model_config = ConfigDict(extra="allow")

    version: str
    intents: list[str | dict[str, Any]] = Field(default_factory=list)
    responses: dict[str, list[ResponseVariant]] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class FaqIntent:
    """A routine question the bot may answer in public, with its approved answer."""

    key: str
    examples: tuple[str, ...]
    answer: str
    # Other languages: their examples and their approved answer (language -> …).
    localized_examples: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    translations: Mapping[str, str] = field(default_factory=dict)

    def answer_in(self, language: str) -> str | None:
        """The approved answer in a language, None where it has none."""
        return self.answer if language == CONTENT_LANGUAGE else self.translations.get(language)


@dataclass(frozen=True, slots=True)
class FaqContent:
    """Validated FAQ content: answerable intents, guard classes and a content version."""

    intents: Mapping[str, FaqIntent]
    guards: Mapping[str, tuple[str, ...]]
    version: str
    welcome: Mapping[str, str] = field(default_factory=dict)  # language -> the welcome

    def training_data(self) -> Iterator[tuple[str, str]]:
        """(text, label) pairs; FAQ labels are bare keys, guards keep their names."""
        for key, intent in self.intents.items():
            for example in intent.examples:
                yield example, key
            for examples in intent.localized_examples.values():
                for example in examples:
                    yield example, key
        for name, examples in self.guards.items():
            for example in examples:
                yield example, name


def parse_examples(block: str) -> tuple[str, ...]:
    """Turn a Rasa `examples: |` block into plain texts (entity annotations removed)."""
    texts = []
    for line in block.splitlines():
        stripped = line.strip()
        if stripped.startswith("- "):
            plain = _ANNOTATION.sub(lambda m: m.group(1) or m.group(2) or "", stripped[2:])
            texts.append(plain.strip())
    return tuple(t for t in texts if t)


def load_faq(directory: Path) -> FaqContent:
    """Load and validate `nlu.yml` and `domain.yml` from a directory."""
    nlu_path, domain_path = directory / NLU_FILE, directory / DOMAIN_FILE
    return parse_faq(
        _read(nlu_path), _read(domain_path), nlu_name=str(nlu_path), domain_name=str(domain_path)
    )


def parse_faq(
    nlu_text: str, domain_text: str, *, nlu_name: str = NLU_FILE, domain_name: str = DOMAIN_FILE
) -> FaqContent:
    """Validate the two files' texts (named in errors as given); the version is their hash."""
    nlu = _load_model(nlu_text, nlu_name, NluFile)
    domain = _load_model(domain_text, domain_name, DomainFile)
    nlu_path, domain_path = nlu_name, domain_name

    answers: dict[str, str] = {}
    translations: dict[str, dict[str, str]] = {}
    welcome: dict[str, str] = {}
    for name, variants in domain.responses.items():
        if name == WELCOME_RESPONSE:
            for variant in variants:
                welcome.setdefault(variant.language, variant.text)
        if name.startswith(RESPONSE_PREFIX):
            key = name.removeprefix(RESPONSE_PREFIX)
            for variant in variants:
                if variant.language == CONTENT_LANGUAGE:
                    answers.setdefault(key, variant.text)
                else:
                    translations.setdefault(key, {}).setdefault(variant.language, variant.text)

    examples: dict[str, list[str]] = {}
    localized: dict[str, dict[str, list[str]]] = {}
    guards: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    lines = _line_index(nlu_text)
    for index, item in enumerate(nlu.nlu):
        where = f"{nlu_path}:{lines.get(('nlu', index), 1)}"
        if item.intent.startswith(FAQ_PREFIX) and item.language != CONTENT_LANGUAGE:
            by_language = localized.setdefault(item.intent.removeprefix(FAQ_PREFIX), {})
            target = by_language.setdefault(item.language, [])
        elif item.intent.startswith(FAQ_PREFIX):
            target = examples.setdefault(item.intent.removeprefix(FAQ_PREFIX), [])
        elif item.intent in GUARD_CLASSES:
            target = guards.setdefault(item.intent, [])
        else:
            allowed = ", ".join(GUARD_CLASSES)
            raise FaqError(
                f"{where}: intent {item.intent!r} is neither faq/<key> nor one of {allowed}"
            )
        for text in parse_examples(item.examples):
            folded = text.casefold()
            if folded in seen and seen[folded] != item.intent:
                raise FaqError(
                    f"{where}: example {text[:60]!r} is listed under both "
                    f"{seen[folded]!r} and {item.intent!r}"
                )
            seen[folded] = item.intent
            target.append(text)

    missing = sorted(set(examples) - set(answers))
    if missing:
        raise FaqError(f"{domain_path}: no utter_faq/<key> response for: {', '.join(missing)}")
    orphans = sorted(set(answers) - set(examples))
    if orphans:
        raise FaqError(f"{nlu_path}: no faq/<key> examples for responses: {', '.join(orphans)}")

    digest = hashlib.sha256(nlu_text.encode() + b"\0" + domain_text.encode())
    strays = sorted((set(localized) | set(translations)) - set(examples))
    if strays:
        raise FaqError(
            f"{nlu_path}: translated intents with no default examples: {', '.join(strays)}"
        )
    intents = {
        key: FaqIntent(
            key=key,
            examples=tuple(texts),
            answer=answers[key],
            localized_examples={
                lang: tuple(found) for lang, found in sorted(localized.get(key, {}).items())
            },
            translations=dict(sorted(translations.get(key, {}).items())),
        )
        for key, texts in sorted(examples.items())
    }
    return FaqContent(
        intents=intents,
        guards={name: tuple(texts) for name, texts in sorted(guards.items())},
        version=digest.hexdigest()[:12],
        welcome=dict(sorted(welcome.items())),
    )


def _read(path: Path) -> str:
    try:
        # Bytes as they are (no newline translation): the version hashes the exact files.
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise FaqError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FaqError(f"{path}: cannot be read ({type(exc).__name__})") from None


def _load_model(raw: str, path: str, model: type[_M]) -> _M:
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise FaqError(f"{path}:{line}: {problem}") from None
    if not isinstance(data, dict):
        raise FaqError(f"{path}:1: expected a mapping with 'version' at the top")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = _line_index(raw)
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        line = _nearest_line(lines, loc)
        where = ".".join(str(part) for part in loc) or "(top)"
        raise FaqError(
            f"{path}:{line}: {where}: {first['msg'].removeprefix('Value error, ')}"
        ) from None


def _line_index(raw: str) -> dict[tuple[Any, ...], int]:
    """Map each YAML node path (keys and list indexes) to its 1-based line number."""
    index: dict[tuple[Any, ...], int] = {}
    root = yaml.compose(raw)

    def walk(node: yaml.Node, at: tuple[Any, ...]) -> None:
        index[at] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                index[(*at, key)] = key_node.start_mark.line + 1
                walk(value_node, (*at, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*at, i))

    if root is not None:
        walk(root, ())
    return index


def _nearest_line(lines: Mapping[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int:
    for size in range(len(loc), -1, -1):
        if loc[:size] in lines:
            return lines[loc[:size]]
    return 1
