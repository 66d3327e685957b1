"""Decide once, then route: the one step every message takes, whichever way it came in.

The webhook workers and the messages API both hand `Triage.run` InboundMessages. The
first Decision stored for a message (`keys.message_decision`, the one dedupe of a
Decision) wins: a redelivery, a reclaimed receipt or a repeated API call gets that
Decision again, never a different one. An edit is a new version of a message (its own
`dedupe_id`): triaged again, and told what the Decision before it was, so that an edit that
changes nothing triaged sends nothing new. Then `Handover.route` puts the message in a case
when it belongs in one. What is sent in public afterwards is the caller's business. A
pressed button (`InboundMessage.button`) is answered from the content by `press`, without
the NLP, and its Decision is stored and routed like any other.

A message the NLP could not decide now (its process died on every try) is left
undecided: None in its place, nothing stored, so a later delivery tries it afresh.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from bot.connectors.base import InboundMessage, MessageKind
from bot.metrics import Metrics
from escalation import keys
from escalation.cases import Source
from escalation.handover import Handover, Routed
from nlu.engine import MAX_TEXT_CHARS
from nlu.models import Decision

log = logging.getLogger("triagebot.triage")
# Runs the NLP for (message id, text) pairs: the worker's pool, or the API's batcher.
# None for a message it could not decide now.
Decide = Callable[[Sequence[tuple[str, str]]], Awaitable[list[Decision | None]]]
# Answers a pressed button (message id, button, its title) from the content, without the
# NLP; None where the content has no answer for it, and then its title is triaged.
Press = Callable[[str, str, str], Awaitable[Decision | None]]


@dataclass(frozen=True, slots=True)
class Triaged:
    """One message after triage: its Decision and where it was routed."""

    message: InboundMessage
    decision: Decision
    duplicate: bool  # the Decision was stored by an earlier delivery of the message
    routed: Routed
    # For an edit: the Decision of the version before it (None when none was triaged).
    before: Decision | None = None
    # An original that came after an edit of it (deliveries are not ordered): the edit
    # was answered already, so the original says nothing new.
    superseded: bool = False

    @property
    def unchanged(self) -> bool:
        """An edit whose triage says what the version before it said, or a superseded
        original: no new answer."""
        before = self.before
        return self.superseded or (
            self.message.edited
            and before is not None
            and (before.action, before.reply) == (self.decision.action, self.decision.reply)
        )


def source_of(message: InboundMessage, decision: Decision) -> Source:
    """What a case keeps of a message: who wrote, where, the text and its entity spans."""
    return Source(
        channel=message.platform,
        message_id=message.message_id,
        version=message.version,
        author_id=message.author_id,
        author_name=message.author_name,
        thread_id=message.thread_id,
        kind=str(message.kind),
        account_id=message.account_id,
        text=message.text,
        entities=[(e.type, e.start, e.end) for e in decision.entities],
    )


@dataclass(frozen=True, slots=True)
class Triage:
    """The decide-once-then-route step over a Redis, a handover and a way to run the NLP."""

    redis: Redis
    handover: Handover
    metrics: Metrics
    decide: Decide
    press: Press | None = None

    async def run(self, messages: Sequence[InboundMessage]) -> list[Triaged | None]:
        """Decide each message once, then route it; in the order given (None: undecided)."""
        decided = await self._decisions(messages)
        befores = await self._befores(messages, decided)
        done: list[Triaged | None] = []
        for message, made, (before, superseded) in zip(messages, decided, befores, strict=True):
            if made is None:
                done.append(None)
                continue
            decision, duplicate = made
            routed = await self.handover.route(source_of(message, decision), decision)
            self.metrics.decisions.labels(action=decision.action).inc()
            log.info(
                "message triaged",
                extra={
                    "platform": message.platform,
                    "message_id": message.message_id,
                    "action": decision.action,
                    "reasons": decision.reasons,
                    "edited": message.edited,
                },
            )
            done.append(Triaged(message, decision, duplicate, routed, before, superseded))
        return done

    async def _befores(
        self,
        messages: Sequence[InboundMessage],
        decided: Sequence[tuple[Decision, bool] | None],
    ) -> list[tuple[Decision | None, bool]]:
        """For each edit, the Decision it replaces (fixed the first time), and whether an
        original is superseded by an edit triaged before it. Every other message becomes
        the latest version of its platform id."""
        befores: list[tuple[Decision | None, bool]] = []
        for message, made in zip(messages, decided, strict=True):
            if made is None or message.kind is MessageKind.API:
                # Undecided now, or from the API (no edits): nothing to compare.
                befores.append((None, False))
                continue
            decision, duplicate = made
            latest = keys.message_latest(message.platform, message.message_id)
            before = None
            if message.edited:
                baseline = keys.edit_baseline(message.platform, message.dedupe_id)
                current = await self.redis.get(latest)
                # NX: a redelivered or reclaimed edit keeps the baseline it had at first.
                await self.redis.set(baseline, current or "", nx=True, ex=keys.DEDUPE_TTL_S)
                fixed = await self.redis.get(baseline)
                before = Decision.model_validate_json(fixed) if fixed else None
            elif not duplicate:
                # NX: a first-time original finds an edit's Decision there when it came late.
                ours = decision.model_dump_json()
                if not await self.redis.set(latest, ours, nx=True, ex=keys.DEDUPE_TTL_S):
                    befores.append((None, True))
                    continue
                befores.append((None, False))
                continue
            else:
                # A redelivered or reclaimed original: superseded only if it was at first.
                stored = await self.redis.get(latest)
                if stored is not None and Decision.model_validate_json(stored) != decision:
                    befores.append((None, True))
                    continue
            await self.redis.set(latest, decision.model_dump_json(), ex=keys.DEDUPE_TTL_S)
            befores.append((before, False))
        return befores

    async def _decisions(
        self, messages: Sequence[InboundMessage]
    ) -> list[tuple[Decision, bool] | None]:
        """(stored Decision, stored before) of each message, triaging those without one."""
        names = [keys.message_decision(m.platform, m.dedupe_id) for m in messages]
        stored: list[bytes | str | None] = await self.redis.mget(names)
        earlier = [s is not None for s in stored]
        todo = [i for i, s in enumerate(stored) if s is None]
        pressed: dict[int, Decision] = {}
        for i in todo:
            button = messages[i].button
            if button is not None and self.press is not None:
                answer = await self.press(messages[i].message_id, button, messages[i].text)
                if answer is not None:
                    pressed[i] = answer
        rest = [i for i in todo if i not in pressed]
        made: list[Decision | None] = []
        if rest:
            started = time.perf_counter()
            made = await self.decide(
                [(messages[i].message_id, messages[i].text[:MAX_TEXT_CHARS]) for i in rest]
            )
            self.metrics.latency.observe((time.perf_counter() - started) / len(rest))
        if todo:
            for i, decision in [*pressed.items(), *zip(rest, made, strict=True)]:
                if decision is None:
                    continue
                ours = decision.model_dump_json()
                # First decision wins: a reclaimed receipt never gets a different answer.
                if await self.redis.set(names[i], ours, nx=True, ex=keys.DEDUPE_TTL_S):
                    stored[i] = ours
                else:  # another delivery of the message stored its Decision meanwhile
                    earlier[i] = True
                    stored[i] = await self.redis.get(names[i]) or ours
        return [
            None if s is None else (Decision.model_validate_json(s), was)
            for s, was in zip(stored, earlier, strict=True)
        ]
