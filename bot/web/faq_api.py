"""The FAQ staff API: the live content, drafts, compliance decisions, rollback and the notice.

Every change goes through `FaqDesk`, shared with the console, so both record the same
audit entries. A new draft is evaluated in the background by bot/faq_evaluator.py.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any, cast

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.appkeys import AUDIT, FAQ
from bot.faq_evaluator import FAQ_EVALUATOR, faq_evaluator_ctx
from bot.web.auth import bearer_user, require_role
from bot.web.errors import problem
from escalation.faq.store import Changes, Draft, DraftStatus, FaqChangeError
from escalation.staff import Role, StaffUser
from nlu.faq_versions import FaqVersion, ScheduledAnswer

log = logging.getLogger("triagebot.faq_api")
READ_ROLES: tuple[Role, ...] = ("faq_editor", "compliance", "admin")
EDIT_ROLES: tuple[Role, ...] = ("faq_editor", "admin")
DECIDE_ROLES: tuple[Role, ...] = ("compliance", "admin")
DRAFT_STATUSES: tuple[DraftStatus, ...] = ("pending", "approved", "rejected")
DRAFT_ID = r"{draft_id:[0-9a-f]{1,32}}"


class NewIntentIn(BaseModel):
    """A new intent: its answer and the examples that teach it."""

    model_config = ConfigDict(extra="forbid")

    answer: str = Field(min_length=1, max_length=2000)
    examples: list[str] = Field(min_length=1, max_length=500)


class DraftIn(BaseModel):
    """Body of `POST /v1/faq/drafts`: changes to the live version, and why."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)
    answers: dict[str, str] = Field(default_factory=dict, max_length=200)
    add_examples: dict[str, list[str]] = Field(default_factory=dict, max_length=200)
    remove_examples: dict[str, list[str]] = Field(default_factory=dict, max_length=200)
    new_intents: dict[str, NewIntentIn] = Field(default_factory=dict, max_length=50)
    schedules: list[ScheduledAnswer] | None = Field(default=None, max_length=100)

    def changes(self) -> Changes:
        """The store's form of these changes; 422 for a malformed key, answer or example."""
        for key in {*self.answers, *self.add_examples, *self.remove_examples, *self.new_intents}:
            if not _valid_key(key):
                raise problem(web.HTTPUnprocessableEntity, "intent keys: invalid")
        texts = [*self.answers.values(), *(n.answer for n in self.new_intents.values())]
        if any(not 1 <= len(t.strip()) <= 2000 for t in texts):
            raise problem(web.HTTPUnprocessableEntity, "answers: invalid length")
        examples = [
            e
            for group in (self.add_examples, self.remove_examples)
            for listed in group.values()
            for e in listed
        ] + [e for n in self.new_intents.values() for e in n.examples]
        if any(not 1 <= len(e.strip()) <= 300 for e in examples):
            raise problem(web.HTTPUnprocessableEntity, "examples: invalid length")
        return Changes(
            answers={k: v.strip() for k, v in self.answers.items()},
            add_examples=self.add_examples,
            remove_examples=self.remove_examples,
            new_intents={k: (n.answer.strip(), n.examples) for k, n in self.new_intents.items()},
            schedules=self.schedules,
        )


class NoticeIn(BaseModel):
    """Body of `PUT /v1/faq/notice`."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=300)
    ttl_s: int = Field(gt=0, le=30 * 24 * 3600)


def _valid_key(key: str) -> bool:
    return (
        1 <= len(key) <= 64
        and key[0].isalpha()
        and all(c.isascii() and (c.isalnum() or c == "_") for c in key)
        and key == key.lower()
    )


@contextlib.contextmanager
def faq_errors() -> Iterator[None]:
    """Translate FaqChangeError to its HTTP status with a JSON body."""
    try:
        yield
    except FaqChangeError as exc:
        status: type[web.HTTPException] = {
            403: web.HTTPForbidden,
            404: web.HTTPNotFound,
            422: web.HTTPUnprocessableEntity,
        }.get(exc.status, web.HTTPConflict)
        raise problem(status, str(exc)) from None


def version_json(version: FaqVersion) -> dict[str, Any]:
    """A version's intents (answer and examples) and scheduled answers."""
    content = version.content()
    return {
        "version": version.version,
        "intents": {
            key: {"answer": intent.answer, "examples": list(intent.examples)}
            for key, intent in sorted(content.intents.items())
        },
        "schedules": [s.model_dump() for s in version.schedules],
        "created_at": version.created_at,
        "author": version.author,
    }


def draft_changes(draft: Draft, base: FaqVersion | None) -> dict[str, Any]:
    """What the draft changes against the version it was based on."""
    after = draft.proposal.content().intents
    before = {} if base is None else base.content().intents
    changed: dict[str, Any] = {"answers": {}, "added_examples": {}, "removed_examples": {}}
    for key, intent in sorted(after.items()):
        old = before.get(key)
        if old is None:
            continue
        if old.answer != intent.answer:
            changed["answers"][key] = intent.answer
        added = [e for e in intent.examples if e not in old.examples]
        removed = [e for e in old.examples if e not in intent.examples]
        if added:
            changed["added_examples"][key] = added
        if removed:
            changed["removed_examples"][key] = removed
    changed["new_intents"] = {
        key: {"answer": i.answer, "examples": list(i.examples)}
        for key, i in sorted(after.items())
        if key not in before
    }
    changed["removed_intents"] = sorted(set(before) - set(after))
    if base is not None and base.schedules != draft.proposal.schedules:
        changed["schedules"] = [s.model_dump() for s in draft.proposal.schedules]
    return changed


def draft_json(draft: Draft, base: FaqVersion | None) -> dict[str, Any]:
    """A draft as the API shows it, with its changes and its evaluation so far."""
    return {
        "id": draft.id,
        "author": draft.author,
        "reason": draft.reason,
        "status": draft.status,
        "base_version": draft.base_version,
        "version": draft.proposal.version,
        "created_at": draft.proposal.created_at,
        "decided_by": draft.decided_by,
        "decided_at": draft.decided_at,
        "changes": draft_changes(draft, base),
        "evaluation": draft.evaluation,
    }


class FaqDesk:
    """FAQ operations as a staff member does them: each change audited."""

    def __init__(self, app: web.Application, user: StaffUser) -> None:
        self.app, self.user = app, user
        self.store, self.audit = app[FAQ], app[AUDIT]

    async def overview(self) -> dict[str, Any]:
        """The live version, the notice in force and the history of live versions."""
        live = await self.store.live()
        if live is None:
            raise problem(web.HTTPServiceUnavailable, "no live FAQ version yet")
        notice = await self.store.notice()
        return {
            **version_json(live),
            "notice": None if notice is None else notice.model_dump(),
            "history": [h.model_dump() for h in await self.store.history()],
        }

    async def drafts(self, status: DraftStatus | None = None) -> list[dict[str, Any]]:
        """Drafts, newest first, with their changes and evaluations."""
        found = await self.store.drafts(status)
        bases: dict[str, FaqVersion | None] = {}
        for draft in found:
            if draft.base_version not in bases:
                bases[draft.base_version] = await self._version_or_none(draft.base_version)
        return [draft_json(d, bases[d.base_version]) for d in found]

    async def draft(self, draft_id: str) -> dict[str, Any]:
        """One draft (404 when unknown)."""
        with faq_errors():
            draft = await self.store.draft(draft_id)
        return draft_json(draft, await self._version_or_none(draft.base_version))

    async def propose(self, body: DraftIn) -> dict[str, Any]:
        """A new draft, audited; its evaluation starts in the background."""
        require_role(self.user, EDIT_ROLES)
        changes = body.changes()
        with faq_errors():
            draft = await self.store.propose(self.user.username, body.reason.strip(), changes)
        queued: dict[str, object] = {"stage": "queued", "progress": 0.0}
        await self.store.record_evaluation(draft.id, queued)
        draft = draft.model_copy(update={"evaluation": queued})
        await self.audit.record(
            self.user.username, "faq_change", detail=f"draft={draft.id} proposed"
        )
        self.app[FAQ_EVALUATOR].start(draft)
        return draft_json(draft, await self._version_or_none(draft.base_version))

    async def approve(self, draft_id: str) -> FaqVersion:
        """Make the draft live (403 for its author), audited."""
        require_role(self.user, DECIDE_ROLES)
        with faq_errors():
            version = await self.store.approve(draft_id, self.user.username)
        await self.audit.record(
            self.user.username,
            "faq_approve",
            detail=f"draft={draft_id} approved version={version.version}",
        )
        return version

    async def reject(self, draft_id: str) -> Draft:
        """Refuse the draft (403 for its author), audited."""
        require_role(self.user, DECIDE_ROLES)
        with faq_errors():
            draft = await self.store.reject(draft_id, self.user.username)
        await self.audit.record(
            self.user.username, "faq_approve", detail=f"draft={draft_id} rejected"
        )
        return draft

    async def rollback(self) -> FaqVersion:
        """Make the version live before the current one live again, audited."""
        require_role(self.user, DECIDE_ROLES)
        with faq_errors():
            version = await self.store.rollback(self.user.username)
        await self.audit.record(
            self.user.username, "faq_change", detail=f"rollback version={version.version}"
        )
        return version

    async def set_notice(self, text: str, ttl_s: int) -> dict[str, Any]:
        """Publish a notice on every public answer until it expires, audited."""
        require_role(self.user, DECIDE_ROLES)
        notice = await self.store.set_notice(text, ttl_s, self.user.username)
        await self.audit.record(self.user.username, "faq_change", detail=f"notice set ttl={ttl_s}")
        return notice.model_dump()

    async def clear_notice(self) -> None:
        """Withdraw the notice now, audited."""
        require_role(self.user, DECIDE_ROLES)
        await self.store.clear_notice()
        await self.audit.record(self.user.username, "faq_change", detail="notice cleared")

    async def _version_or_none(self, version_id: str) -> FaqVersion | None:
        try:
            return await self.store.version(version_id)
        except FaqChangeError:
            return None


async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    if request.content_type != "application/json":
        raise problem(web.HTTPUnsupportedMediaType, "send application/json")
    return model.model_validate_json(await request.read())


async def _desk(request: web.Request, roles: tuple[Role, ...]) -> FaqDesk:
    return FaqDesk(request.app, await bearer_user(request, roles))


async def get_faq(request: web.Request) -> web.Response:
    """`GET /v1/faq`: the live version's intents, schedules, notice and history."""
    desk = await _desk(request, READ_ROLES)
    return web.json_response(await desk.overview())


async def list_drafts(request: web.Request) -> web.Response:
    """`GET /v1/faq/drafts?status=`: drafts, newest first."""
    desk = await _desk(request, READ_ROLES)
    status = request.query.get("status")
    if status is not None and status not in DRAFT_STATUSES:
        raise problem(web.HTTPBadRequest, f"status must be one of {', '.join(DRAFT_STATUSES)}")
    return web.json_response({"drafts": await desk.drafts(status)})


async def get_draft(request: web.Request) -> web.Response:
    """`GET /v1/faq/drafts/{id}`: one draft with its evaluation so far."""
    desk = await _desk(request, READ_ROLES)
    return web.json_response({"draft": await desk.draft(request.match_info["draft_id"])})


async def create_draft(request: web.Request) -> web.Response:
    """`POST /v1/faq/drafts`: propose changes to the live version (faq_editor, admin)."""
    desk = await _desk(request, EDIT_ROLES)
    body = cast(DraftIn, await _body(request, DraftIn))
    return web.json_response({"draft": await desk.propose(body)}, status=201)


async def approve_draft(request: web.Request) -> web.Response:
    """`POST /v1/faq/drafts/{id}/approve`: make it live (compliance, admin; not its author)."""
    desk = await _desk(request, DECIDE_ROLES)
    draft_id = request.match_info["draft_id"]
    version = await desk.approve(draft_id)
    return web.json_response({"draft": await desk.draft(draft_id), "version": version.version})


async def reject_draft(request: web.Request) -> web.Response:
    """`POST /v1/faq/drafts/{id}/reject` (compliance, admin; not its author)."""
    desk = await _desk(request, DECIDE_ROLES)
    draft = await desk.reject(request.match_info["draft_id"])
    return web.json_response({"draft": await desk.draft(draft.id)})


async def rollback(request: web.Request) -> web.Response:
    """`POST /v1/faq/rollback`: the version live before the current one, live again."""
    desk = await _desk(request, DECIDE_ROLES)
    version = await desk.rollback()
    return web.json_response({"version": version.version})


async def put_notice(request: web.Request) -> web.Response:
    """`PUT /v1/faq/notice` `{"text", "ttl_s"}`."""
    desk = await _desk(request, DECIDE_ROLES)
    body = cast(NoticeIn, await _body(request, NoticeIn))
    return web.json_response({"notice": await desk.set_notice(body.text.strip(), body.ttl_s)})


async def delete_notice(request: web.Request) -> web.Response:
    """`DELETE /v1/faq/notice`."""
    desk = await _desk(request, DECIDE_ROLES)
    await desk.clear_notice()
    return web.json_response({"notice": None})


def add_faq_api_routes(app: web.Application) -> None:
    """Register the FAQ staff API and its draft evaluator."""
    app.cleanup_ctx.append(faq_evaluator_ctx)
    app.router.add_get("/v1/faq", get_faq)
    app.router.add_get("/v1/faq/drafts", list_drafts)
    app.router.add_post("/v1/faq/drafts", create_draft)
    app.router.add_get(f"/v1/faq/drafts/{DRAFT_ID}", get_draft)
    app.router.add_post(f"/v1/faq/drafts/{DRAFT_ID}/approve", approve_draft)
    app.router.add_post(f"/v1/faq/drafts/{DRAFT_ID}/reject", reject_draft)
    app.router.add_post("/v1/faq/rollback", rollback)
    app.router.add_put("/v1/faq/notice", put_notice)
    app.router.add_delete("/v1/faq/notice", delete_notice)
