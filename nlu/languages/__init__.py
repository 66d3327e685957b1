"""Language packs: the public texts and the wording cues of each supported language.

A pack is a folder named by its ISO 639-1 code:
- `pack.yml`: the templates a person reads (acknowledgement, fallback, private invitation,
  private page, one safety text per kind of emergency);
- `crisis/<group>.txt`: one regular expression a line per cue group (intent, plan, means,
  farewell, overdose…), its weight on the first line (`# weight: 2`);
  `crisis/neutral.txt` (idioms and negated cues, blanked out first) and `crisis/frames.txt`
  (`name: pattern` lines for news, fiction, hypotheticals, resolved past events, jokes);
- `signals/<signal>.txt` (optional): wording signals for a language the English lexicons do
  not read — `emergency_<kind>`, `medical_advice`, `health`, `personal`, `complaint`,
  `human`, `spam`.
Adding a language is adding a folder (and FAQ content in it): no code changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

PACKS_DIR = Path(__file__).resolve().parent
_F = re.IGNORECASE
_WEIGHT = re.compile(r"^#\s*weight:\s*(\d+)\s*$")


class LanguageError(ValueError):
    """A language pack that is missing or invalid; the message names the file."""


class SafetyTexts(BaseModel):
    """One safety text per kind of emergency; `general` when the kind is unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    self_harm: str = Field(min_length=1)
    overdose: str = Field(min_length=1)
    violence: str = Field(min_length=1)
    medical: str = Field(min_length=1)
    general: str = Field(min_length=1)


class Templates(BaseModel):
    """Every approved text a person reads in one language."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    escalation_ack: str = Field(min_length=1)
    fallback: str = Field(min_length=1)
    general_health: str = Field(min_length=1)
    private_invite: str = Field(min_length=1)
    private_link: str = Field(pattern=r"\{url\}")
    page_title: str = Field(min_length=1)
    page_notice: str = Field(min_length=1)
    page_label: str = Field(min_length=1)
    page_send: str = Field(min_length=1)
    safety: SafetyTexts


class _PackFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z]{2}$")
    name: str
    templates: Templates


@dataclass(frozen=True, slots=True)
class CueGroup:
    """One crisis cue group: its name (a reason code), weight and one pattern for all lines."""

    name: str
    weight: int
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class LanguagePack:
    """A loaded, compiled language pack."""

    code: str
    name: str
    templates: Templates
    crisis: tuple[CueGroup, ...]
    neutral: re.Pattern[str] | None
    frames: dict[str, re.Pattern[str]]
    signals: dict[str, re.Pattern[str]] = field(default_factory=dict)

    def safety_text(self, kind: str | None) -> str:
        """The safety text for an emergency kind (self_harm, overdose, violence, medical)."""
        texts = self.templates.safety
        return str(getattr(texts, kind, None) or texts.general) if kind else texts.general


def _lines(path: Path) -> tuple[int | None, list[str]]:
    """(weight from the header, the non-comment lines) of a pattern file."""
    weight = None
    patterns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        header = _WEIGHT.match(line)
        if header:
            weight = int(header.group(1))
        elif line.strip() and not line.lstrip().startswith("#"):
            patterns.append(line.strip())
    return weight, patterns


def _compile(path: Path, patterns: list[str]) -> re.Pattern[str]:
    for number, pattern in enumerate(patterns, 1):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise LanguageError(f"{path}: pattern {number}: {exc}") from None
    return re.compile("|".join(f"(?:{p})" for p in patterns), _F)


@lru_cache(maxsize=16)
def load_pack(code: str, root: Path = PACKS_DIR) -> LanguagePack:
    """Load and compile the pack of one language (cached: packs are read-only)."""
    folder = root / code
    pack_file = folder / "pack.yml"
    if not pack_file.is_file():
        raise LanguageError(f"{pack_file}: no language pack for {code!r}")
    try:
        meta = _PackFile.model_validate(yaml.safe_load(pack_file.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValueError) as exc:
        raise LanguageError(f"{pack_file}: {exc}") from None
    if meta.code != code:
        raise LanguageError(f"{pack_file}: code {meta.code!r} in a folder named {code!r}")
    groups: list[CueGroup] = []
    neutral = None
    frames: dict[str, re.Pattern[str]] = {}
    crisis_dir = folder / "crisis"
    for path in sorted(crisis_dir.glob("*.txt")) if crisis_dir.is_dir() else ():
        weight, patterns = _lines(path)
        if path.stem == "neutral":
            neutral = _compile(path, patterns) if patterns else None
        elif path.stem == "frames":
            for line in patterns:
                name, _, pattern = line.partition(":")
                frames[name.strip()] = _compile(path, [pattern.strip()])
        elif patterns:
            if weight is None:
                raise LanguageError(f"{path}: first line must be '# weight: N'")
            groups.append(CueGroup(path.stem, weight, _compile(path, patterns)))
    signals_dir = folder / "signals"
    signals = {
        path.stem: _compile(path, patterns)
        for path in (sorted(signals_dir.glob("*.txt")) if signals_dir.is_dir() else ())
        for _, patterns in [_lines(path)]
        if patterns
    }
    return LanguagePack(
        meta.code, meta.name, meta.templates, tuple(groups), neutral, frames, signals
    )


def available(root: Path = PACKS_DIR) -> tuple[str, ...]:
    """Codes of the packs present on disk."""
    return tuple(sorted(p.parent.name for p in root.glob("*/pack.yml")))
