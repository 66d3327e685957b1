"""FAQ versions as the triage engine answers from them: content, schedules and the notice.

Pure data and the answer-at-a-time rule; storing, proposing and approving versions is
escalation.faq.store's work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from pydantic import BaseModel, Field, model_validator

from nlu.faq import CONTENT_LANGUAGE, FaqContent, parse_faq


class ScheduledAnswer(BaseModel):
    """An answer that replaces an intent's usual one for a period (holiday hours)."""

    intent: str
    answer: str = Field(min_length=1, max_length=2000)
    starts_at: float  # epoch seconds, included
    ends_at: float  # excluded

    @model_validator(mode="after")
    def _ordered(self) -> ScheduledAnswer:
        if self.ends_at <= self.starts_at:
            raise ValueError("a scheduled answer must end after it starts")
        return self


class Notice(BaseModel):
    """A temporary line added to public answers ("Our ER is on diversion; go to …")."""

    text: str = Field(min_length=1, max_length=300)
    expires_at: float
    author: str


class FaqVersion(BaseModel):
    """One version of the content: canonical Rasa files plus scheduled answers."""

    version: str
    nlu: str
    domain: str
    schedules: list[ScheduledAnswer] = Field(default_factory=list)
    created_at: float
    author: str

    def content(self) -> FaqContent:
        """The parsed content; its `version` is this version's name."""
        return replace(parse_faq(self.nlu, self.domain), version=self.version)


@dataclass(frozen=True, slots=True)
class LiveFaq:
    """What a triage engine needs to answer as the live version says."""

    version: FaqVersion
    notice: Notice | None = None


def answers_at(
    version_content: FaqContent,
    schedules: Sequence[ScheduledAnswer],
    now: float,
    language: str = CONTENT_LANGUAGE,
) -> dict[str, str]:
    """Each intent's answer at `now` in a language: a scheduled answer in its period, else
    the usual one. Scheduled answers are written in the content's language: while one is
    in force, other languages have no answer for that intent (a human answers instead of
    the bot giving the usual hours on a holiday)."""
    answers: dict[str, str] = {}
    for key, intent in version_content.intents.items():
        answer = intent.answer_in(language)
        if answer is not None:
            answers[key] = answer
    for scheduled in schedules:
        if scheduled.starts_at <= now < scheduled.ends_at and scheduled.intent in answers:
            if language == CONTENT_LANGUAGE:
                answers[scheduled.intent] = scheduled.answer
            else:
                del answers[scheduled.intent]
    return answers
