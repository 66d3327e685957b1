"""FAQ content under change control: drafts, compliance approval, versions, rollback.

Every version is kept in Redis as its canonical Rasa files (the same text `triagebot faq
export` writes) plus its scheduled answers, named by the hash of those files. One key
names the live version; every server process watches it and switches within a second
or two, so an approved answer goes out at once everywhere and a rollback is one action.
FAQ answers are public texts, not PHI: they are stored in clear.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, cast

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import WatchError

from escalation import keys
from escalation.replies import as_text
from nlu.faq import FaqContent, FaqError, FaqIntent, load_faq, parse_faq
from nlu.faq_io import render_domain, render_nlu
from nlu.faq_versions import FaqVersion, LiveFaq, Notice, ScheduledAnswer

DraftStatus = Literal["pending", "approved", "rejected"]


class FaqChangeError(Exception):
    """A change that cannot be made; `status` is the HTTP status it maps to."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class Draft(BaseModel):
    """A proposed version waiting for a compliance decision."""

    id: str
    author: str
    reason: str
    base_version: str
    proposal: FaqVersion
    status: DraftStatus = "pending"
    decided_by: str | None = None
    decided_at: float | None = None
    evaluation: dict[str, object] | None = None  # progress, scores and flags


class HistoryEntry(BaseModel):
    """A change of the live version."""

    version: str
    action: Literal["seed", "approve", "rollback"]
    by: str
    at: float
    draft_id: str | None = None


@dataclass(frozen=True, slots=True)
class Changes:
    """An editor's changes to a version (any of them may be empty)."""

    answers: Mapping[str, str]
    add_examples: Mapping[str, Sequence[str]]
    remove_examples: Mapping[str, Sequence[str]]
    new_intents: Mapping[str, tuple[str, Sequence[str]]]  # key -> (answer, examples)
    schedules: Sequence[ScheduledAnswer] | None = None  # None keeps the current ones


def apply_changes(content: FaqContent, changes: Changes) -> FaqContent:
    """The content with the changes made; FaqChangeError (422) for an unknown intent."""
    intents = dict(content.intents)
    for key, (answer, examples) in changes.new_intents.items():
        if key in intents:
            raise FaqChangeError(f"intent {key!r} exists already", 422)
        intents[key] = FaqIntent(key=key, examples=tuple(examples), answer=answer)
    for key in {*changes.answers, *changes.add_examples, *changes.remove_examples}:
        if key not in intents:
            raise FaqChangeError(f"no intent {key!r}", 422)
        intent = intents[key]
        removed = {e.casefold() for e in changes.remove_examples.get(key, ())}
        kept = [e for e in intent.examples if e.casefold() not in removed]
        added = [e for e in changes.add_examples.get(key, ()) if e.strip()]
        # Edits are to the content's language; translations stay as they were.
        intents[key] = replace(
            intent,
            examples=tuple(dict.fromkeys([*kept, *added])),
            answer=changes.answers.get(key, intent.answer),
        )
    return FaqContent(
        intents=intents, guards=content.guards, version="draft", welcome=content.welcome
    )


def make_version(
    content: FaqContent, schedules: Iterable[ScheduledAnswer], author: str, now: float
) -> FaqVersion:
    """Render, re-validate and name a version; FaqChangeError (422) when it is invalid."""
    nlu, domain = render_nlu(content), render_domain(content)
    schedules = list(schedules)
    try:
        parsed = parse_faq(nlu, domain)
    except FaqError as exc:
        raise FaqChangeError(str(exc), 422) from None
    unknown = sorted({s.intent for s in schedules} - set(parsed.intents))
    if unknown:
        raise FaqChangeError(f"scheduled answers for unknown intents: {', '.join(unknown)}", 422)
    body = json.dumps([nlu, domain, [s.model_dump() for s in schedules]], sort_keys=True)
    version = hashlib.sha256(body.encode()).hexdigest()[:12]
    return FaqVersion(
        version=version, nlu=nlu, domain=domain, schedules=schedules, created_at=now, author=author
    )


class FaqStore:
    """Versions, drafts, the live pointer and the notice, in Redis."""

    def __init__(self, redis: Redis, clock: Callable[[], float] = time.time) -> None:
        self.redis, self.clock = redis, clock

    async def seed(self, directory: Path, author: str = "triagebot") -> FaqVersion:
        """The live version; on first start, the content files become it."""
        live = await self.live()
        if live is not None:
            return live
        files = load_faq(directory)
        # Named like the files themselves: engines that loaded them are already on it.
        version = make_version(files, [], author, self.clock()).model_copy(
            update={"version": files.version}
        )
        await self._save_version(version)
        if await self.redis.set(keys.FAQ_LIVE, version.version, nx=True):
            await self._history(
                HistoryEntry(version=version.version, action="seed", by=author, at=self.clock())
            )
        found = await self.live()
        assert found is not None
        return found

    async def live_id(self) -> str | None:
        """The live version's name (cheap: what watchers poll)."""
        found = await self.redis.get(keys.FAQ_LIVE)
        return None if found is None else as_text(found)

    async def live(self) -> FaqVersion | None:
        """The live version."""
        version_id = await self.live_id()
        return None if version_id is None else await self.version(version_id)

    async def version(self, version_id: str) -> FaqVersion:
        """One kept version (404 FaqChangeError when unknown)."""
        raw = await self.redis.get(keys.faq_version(version_id))
        if raw is None:
            raise FaqChangeError("no such version", 404)
        return FaqVersion.model_validate_json(raw)

    async def propose(self, author: str, reason: str, changes: Changes) -> Draft:
        """A draft built from the live version and the changes; not live until approved."""
        live = await self.live()
        if live is None:
            raise FaqChangeError("no live FAQ version yet", 409)
        content = apply_changes(live.content(), changes)
        schedules = live.schedules if changes.schedules is None else list(changes.schedules)
        proposal = make_version(content, schedules, author, self.clock())
        draft = Draft(
            id=secrets.token_hex(6),
            author=author,
            reason=reason,
            base_version=live.version,
            proposal=proposal,
        )
        await self._save_draft(draft)
        await self.redis.zadd(keys.FAQ_DRAFTS, {draft.id: self.clock()})
        return draft

    async def draft(self, draft_id: str) -> Draft:
        """One draft (404 when unknown)."""
        raw = await self.redis.get(keys.faq_draft(draft_id))
        if raw is None:
            raise FaqChangeError("no such draft", 404)
        return Draft.model_validate_json(raw)

    async def drafts(self, status: DraftStatus | None = None) -> list[Draft]:
        """Drafts, newest first."""
        ids = [as_text(cast(bytes, i)) for i in await self.redis.zrevrange(keys.FAQ_DRAFTS, 0, 199)]
        found = [await self.draft(i) for i in ids]
        return [d for d in found if status is None or d.status == status]

    async def record_evaluation(self, draft_id: str, evaluation: dict[str, object]) -> None:
        """Store the draft's evaluation (progress, scores, flags) as it goes."""
        await self._change_draft(
            draft_id, lambda d: d.model_copy(update={"evaluation": evaluation})
        )

    async def approve(self, draft_id: str, approver: str) -> FaqVersion:
        """Make a pending draft live; its author may not approve it (403)."""
        draft = await self._decide(draft_id, approver, "approved")
        await self._save_version(draft.proposal)
        await self.redis.set(keys.FAQ_LIVE, draft.proposal.version)
        await self._history(
            HistoryEntry(
                version=draft.proposal.version,
                action="approve",
                by=approver,
                at=self.clock(),
                draft_id=draft.id,
            )
        )
        return draft.proposal

    async def reject(self, draft_id: str, approver: str) -> Draft:
        """Refuse a pending draft; its author may not decide on it (403)."""
        return await self._decide(draft_id, approver, "rejected")

    async def rollback(self, actor: str) -> FaqVersion:
        """Make the version that was live before the current one live again."""
        history = await self.history()
        live_id = await self.live_id()
        earlier = [h.version for h in history if h.version != live_id]
        if not earlier:
            raise FaqChangeError("there is no earlier version to roll back to")
        target = await self.version(earlier[0])
        await self.redis.set(keys.FAQ_LIVE, target.version)
        await self._history(
            HistoryEntry(version=target.version, action="rollback", by=actor, at=self.clock())
        )
        return target

    async def history(self) -> list[HistoryEntry]:
        """Changes of the live version, newest first."""
        raw = await self.redis.lrange(keys.FAQ_HISTORY, 0, 199)
        return [HistoryEntry.model_validate_json(r) for r in raw]

    async def set_notice(self, text: str, ttl_s: int, author: str) -> Notice:
        """Publish a notice added to public answers until it expires."""
        notice = Notice(text=text, expires_at=self.clock() + ttl_s, author=author)
        await self.redis.set(keys.FAQ_NOTICE, notice.model_dump_json(), ex=ttl_s)
        return notice

    async def clear_notice(self) -> None:
        """Withdraw the notice now."""
        await self.redis.delete(keys.FAQ_NOTICE)

    async def notice(self) -> Notice | None:
        """The notice in force, if any."""
        raw = await self.redis.get(keys.FAQ_NOTICE)
        return None if raw is None else Notice.model_validate_json(raw)

    async def live_state(self) -> LiveFaq | None:
        """The live version with the notice in force."""
        live = await self.live()
        return None if live is None else LiveFaq(live, await self.notice())

    async def _decide(self, draft_id: str, approver: str, status: DraftStatus) -> Draft:
        def decide(draft: Draft) -> Draft:
            if draft.author == approver:
                raise FaqChangeError("the author of a draft cannot decide on it", 403)
            if draft.status != "pending":
                raise FaqChangeError(f"the draft is already {draft.status}")
            return draft.model_copy(
                update={"status": status, "decided_by": approver, "decided_at": self.clock()}
            )

        return await self._change_draft(draft_id, decide)

    async def _change_draft(self, draft_id: str, change: Callable[[Draft], Draft]) -> Draft:
        """Read, change and write a draft atomically: two decisions, or a decision and an
        evaluation update, landing together never undo each other."""
        key = keys.faq_draft(draft_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is None:
                        raise FaqChangeError("no such draft", 404)
                    changed = change(Draft.model_validate_json(raw))
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(key, changed.model_dump_json())
                    await pipe.execute()
                    return changed
                except WatchError:
                    continue

    async def _save_version(self, version: FaqVersion) -> None:
        await self.redis.set(keys.faq_version(version.version), version.model_dump_json())

    async def _save_draft(self, draft: Draft) -> None:
        await self.redis.set(keys.faq_draft(draft.id), draft.model_dump_json())

    async def _history(self, entry: HistoryEntry) -> None:
        await self.redis.lpush(keys.FAQ_HISTORY, entry.model_dump_json())
