"""FAQ content kept in Rasa 3.x YAML: `nlu.yml` (examples) and `domain.yml` (answers).

The same two files train a Rasa assistant unchanged. Loading validates them with pydantic
and reports problems as `file:line: where: what`, so an editor can fix them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEMO_CONTENT_DIR = Path(__file__).parent / "content" / "riverside"
NLU_FILE = "nlu.yml"
DOMAIN_FILE = "domain.yml"
FAQ_PREFIX = "faq/"
RESPONSE_PREFIX = "utter_faq/"
# Classes trained beside the FAQ so that the classifier learns what must never get a FAQ answer.
GUARD_CLASSES = ("medical_advice", "emergency", "complaint", "spam", "out_of_scope")

_M = TypeVar("_M", bound=BaseModel)
_INTENT_NAME = r"^[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)?$"
_ANNOTATION = re.compile(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}")


class FaqError(ValueError):
    """Invalid FAQ content; the message names the file, the line and what is wrong."""


class NluItem(BaseModel):
    """One `- intent:` block of an `nlu.yml` file."""

    model_config = ConfigDict(extra="forbid")

    intent: str = Field(pattern=_INTENT_NAME)
    examples: str

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


@dataclass(frozen=True, slots=True)
class FaqContent:
    """Validated FAQ content: answerable intents, guard classes and a content version."""

    intents: Mapping[str, FaqIntent]
    guards: Mapping[str, tuple[str, ...]]
    version: str

    def training_data(self) -> Iterator[tuple[str, str]]:
        """(text, label) pairs; FAQ labels are bare keys, guards keep their names."""
        for key, intent in self.intents.items():
            for example in intent.examples:
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
    for name, variants in domain.responses.items():
        if name.startswith(RESPONSE_PREFIX):
            answers[name.removeprefix(RESPONSE_PREFIX)] = variants[0].text

    examples: dict[str, list[str]] = {}
    guards: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    lines = _line_index(nlu_text)
    for index, item in enumerate(nlu.nlu):
        where = f"{nlu_path}:{lines.get(('nlu', index), 1)}"
        if item.intent.startswith(FAQ_PREFIX):
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
    intents = {
        key: FaqIntent(key=key, examples=tuple(texts), answer=answers[key])
        for key, texts in sorted(examples.items())
    }
    return FaqContent(
        intents=intents,
        guards={name: tuple(texts) for name, texts in sorted(guards.items())},
        version=digest.hexdigest()[:12],
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
