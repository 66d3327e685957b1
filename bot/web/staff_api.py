"""The staff API: bearer-token JSON routes for the queue, cases, the audit log and roles.

Every case operation here is shared with the console (`CaseDesk`), so both record the
same audit entries. Case texts are masked unless a staff member asks to reveal them, and
each reveal is audited with who, when and which case. A case another agent holds is
revealed or noted only as `escalation.cases.break_glass` allows.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.appkeys import AUDIT, CASES, CONNECTORS, HTTP, STAFF
from bot.connectors.base import ActionKind, OutboundAction
from bot.web.auth import (
    ADMIN_ROLES,
    AUDIT_ROLES,
    CASE_REVIEW_ROLES,
    CASE_ROLES,
    TooManyLogins,
    bearer_user,
    case_errors,
    login,
)
from bot.web.errors import problem
from escalation.audit import ACTIONS
from escalation.cases import (
    STATUSES,
    BreakGlassReason,
    Case,
    CaseMessage,
    Team,
    break_glass,
    needs_break_glass,
)
from escalation.masking import mask
from escalation.staff import (
    ROLES,
    AuthError,
    InvalidStaffInput,
    LastAdmin,
    Role,
    StaffUser,
    UnknownUser,
    check_password,
)

log = logging.getLogger("triagebot.staff_api")
MAX_STAFF_TEXT_CHARS = 4000
MAX_AUDIT_ENTRIES = 5000
CASE_ID = r"{case_id:[A-Za-z0-9_-]{1,64}}"


class LoginIn(BaseModel):
    """Body of `POST /v1/auth/token`."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TextIn(BaseModel):
    """A reply or a note."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_STAFF_TEXT_CHARS)


class NoteIn(TextIn):
    """Body of `POST /v1/cases/{id}/note`; `reason` breaks the glass on another's case."""

    reason: BreakGlassReason | None = None


class RevealIn(BaseModel):
    """Body of `POST /v1/cases/{id}/reveal` (may be empty)."""

    model_config = ConfigDict(extra="forbid")

    reason: BreakGlassReason | None = None


class TransferIn(BaseModel):
    """Body of `POST /v1/cases/{id}/transfer`."""

    model_config = ConfigDict(extra="forbid")

    team: Team


class ResolveIn(BaseModel):
    """Body of `POST /v1/cases/{id}/resolve` (may be empty)."""

    model_config = ConfigDict(extra="forbid")

    hand_back: bool = False


class PasswordIn(BaseModel):
    """Body of `POST /v1/auth/password`."""

    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class RoleIn(BaseModel):
    """Body of `POST /v1/staff/{username}/role`."""

    model_config = ConfigDict(extra="forbid")

    role: Role


class CaseDesk:
    """Case operations as a staff member does them: each one audited."""

    def __init__(self, app: web.Application, user: StaffUser) -> None:
        self.app, self.user = app, user
        self.cases, self.audit = app[CASES], app[AUDIT]

    async def view(
        self, case_id: str, *, reveal: bool = False, reason: str | None = None
    ) -> dict[str, Any]:
        """Metadata, thread and notes; texts masked unless `reveal` (audited either way).

        Revealing a case another agent holds takes a break-glass `reason` (403 without),
        unless the user is an admin or compliance.
        """
        with case_errors():
            case = await self.cases.get(case_id)
            glass = (
                break_glass(case, self.user.username, self.user.role, reason) if reveal else None
            )
            source = await self.cases.source(case_id)
            thread = await self.cases.thread(case_id)
            notes = await self.cases.notes(case_id)
        # Recorded before anything is shown: no audit entry, no text.
        if glass is not None:
            await self.audit.record(self.user.username, "break_glass", case_id, f"reveal {glass}")
        await self.audit.record(self.user.username, "reveal" if reveal else "case_view", case_id)

        def shown(m: CaseMessage) -> str:
            # Staff and bot texts are shown as written; only the person's words are masked.
            if reveal or m.sender != "person":
                return m.text
            if m.entities is not None:
                return mask(m.text, m.entities)
            # Kept before its entities were recorded: the opening message has its triage's.
            return mask(m.text, source.entities if m.text == source.text else ())

        return {
            "case": case.model_dump(mode="json"),
            "revealed": reveal,
            # Whether revealing or noting takes a break-glass reason for this user.
            "break_glass_needed": needs_break_glass(case, self.user.username, self.user.role),
            "thread": [
                {
                    "sender": m.sender,
                    "author": m.author,
                    "text": shown(m),
                    "at": m.at,
                    "edited": m.edited,
                }
                for m in thread
            ],
            "notes": [{"author": n.author, "text": n.text, "at": n.at} for n in notes],
        }

    async def claim(self, case_id: str) -> Case:
        """Take the case (409 when another agent holds it)."""
        with case_errors():
            case = await self.cases.claim(self.user.username, case_id)
        if case is None:  # only without an id; kept for the type checker
            raise problem(web.HTTPNotFound, "no such case")
        await self.audit.record(self.user.username, "claim", case_id)
        return case

    async def reply(self, case_id: str, text: str) -> str | None:
        """Store a reply to the person; deliver it on their platform when it came in private.

        Returns "sent", "failed" or None (nothing to deliver: the private page shows it).
        """
        with case_errors():
            await self.cases.reply(case_id, self.user.username, text)
        delivery = await self._deliver(case_id, text)
        await self.audit.record(self.user.username, "reply", case_id, delivery)
        return delivery

    async def note(self, case_id: str, text: str, reason: str | None = None) -> None:
        """An internal note; on a case another agent holds only by the rule of `view`."""
        glass: list[BreakGlassReason] = []

        def allowed(case: Case) -> None:
            found = break_glass(case, self.user.username, self.user.role, reason)
            glass[:] = [found] if found is not None else []

        with case_errors():
            await self.cases.note(case_id, self.user.username, text, allowed=allowed)
        for used in glass:
            await self.audit.record(self.user.username, "break_glass", case_id, f"note {used}")
        await self.audit.record(self.user.username, "note", case_id)

    async def transfer(self, case_id: str, team: Team) -> Case:
        """Hand the case to a team's queue."""
        with case_errors():
            case = await self.cases.transfer(case_id, self.user.username, team)
        await self.audit.record(self.user.username, "transfer", case_id, f"team={team}")
        return case

    async def resolve(self, case_id: str, *, hand_back: bool = False) -> Case:
        """Close the case, optionally handing the person back to the bot."""
        with case_errors():
            case = await self.cases.resolve(case_id, self.user.username, hand_back=hand_back)
        await self.audit.record(
            self.user.username, "resolve", case_id, "hand_back" if hand_back else None
        )
        return case

    async def _deliver(self, case_id: str, text: str) -> str | None:
        source = await self.cases.source(case_id)
        connector = self.app[CONNECTORS].get(source.channel) if CONNECTORS in self.app else None
        if source.kind != "direct" or connector is None:
            return None
        action = OutboundAction(
            kind=ActionKind.DIRECT,
            platform=source.channel,
            target_id=source.author_id,
            text=text,
            account_id=source.account_id,
        )
        try:
            await connector.send(self.app[HTTP], action)
        except Exception as exc:
            # The reply is stored already and shows on the private page; staff see the
            # failure in the response and can follow up there.
            log.warning(
                "direct reply not delivered",
                extra={"case_id": case_id, "platform": source.channel, "error": type(exc).__name__},
            )
            return "failed"
        return "sent"


async def _body(request: web.Request, model: type[BaseModel], *, empty_ok: bool = False) -> Any:
    raw = await request.read()
    if empty_ok and not raw.strip():
        return model()
    if request.content_type != "application/json":
        raise problem(web.HTTPUnsupportedMediaType, "send application/json")
    return model.model_validate_json(raw)


async def _desk(request: web.Request, roles: tuple[Role, ...] = CASE_ROLES) -> CaseDesk:
    return CaseDesk(request.app, await bearer_user(request, roles))


def _case_json(case: Case, **extra: Any) -> web.Response:
    return web.json_response({"case": case.model_dump(mode="json"), **extra})


async def issue_token(request: web.Request) -> web.Response:
    """`POST /v1/auth/token`: a bearer token for a username and password."""
    body = cast(LoginIn, await _body(request, LoginIn))
    try:
        user = await login(request, body.username, body.password, via="api")
        token = await request.app[STAFF].issue_token(user.username)
    except AuthError:
        raise problem(web.HTTPUnauthorized, "invalid username or password") from None
    except TooManyLogins as exc:
        raise _too_many(exc) from None
    return web.json_response({"token": token, "role": user.role})


def _too_many(exc: TooManyLogins) -> web.HTTPException:
    return problem(web.HTTPTooManyRequests, str(exc), {"Retry-After": str(exc.retry_after_s)})


async def change_password(request: web.Request) -> web.Response:
    """`POST /v1/auth/password` `{"current_password", "new_password"}`: the caller's own.

    The current password is checked like a login (throttled, audited). Afterwards every
    session and token of the user is revoked, this one included: they log in again.
    """
    user = await bearer_user(request, ROLES)
    body = cast(PasswordIn, await _body(request, PasswordIn))
    staff = request.app[STAFF]
    try:
        check_password(body.new_password)
        await login(request, user.username, body.current_password, via="api:password")
        await staff.set_password(user.username, body.new_password)
    except InvalidStaffInput as exc:
        raise problem(web.HTTPUnprocessableEntity, str(exc)) from None
    except AuthError:
        raise problem(web.HTTPUnauthorized, "the current password is wrong") from None
    except TooManyLogins as exc:
        raise _too_many(exc) from None
    await request.app[AUDIT].record(user.username, "password_change", detail="self")
    return web.json_response({"username": user.username, "logged_out": True})


async def list_cases(request: web.Request) -> web.Response:
    """`GET /v1/cases?status=`: case metadata in queue order (nothing about the person)."""
    await bearer_user(request, CASE_ROLES)
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise problem(web.HTTPBadRequest, f"status must be one of {', '.join(STATUSES)}")
    cases = await request.app[CASES].by_status(status)
    return web.json_response({"cases": [c.model_dump(mode="json") for c in cases]})


async def get_case(request: web.Request) -> web.Response:
    """`GET /v1/cases/{id}`: metadata and the masked thread; `?reveal=1` for full text
    (with `&reason=` on a case another agent holds)."""
    desk = await _desk(request, CASE_REVIEW_ROLES)
    reveal = request.query.get("reveal") in ("1", "true")
    view = await desk.view(
        request.match_info["case_id"], reveal=reveal, reason=request.query.get("reason")
    )
    return web.json_response(view)


async def reveal_case(request: web.Request) -> web.Response:
    """`POST /v1/cases/{id}/reveal` (optional `{"reason"}`): the full thread (audited)."""
    desk = await _desk(request, CASE_REVIEW_ROLES)
    body = cast(RevealIn, await _body(request, RevealIn, empty_ok=True))
    view = await desk.view(request.match_info["case_id"], reveal=True, reason=body.reason)
    return web.json_response(view)


async def claim_case(request: web.Request) -> web.Response:
    """`POST /v1/cases/{id}/claim`."""
    desk = await _desk(request)
    return _case_json(await desk.claim(request.match_info["case_id"]))


async def reply_case(request: web.Request) -> web.Response:
    """`POST /v1/cases/{id}/reply` `{"text"}`."""
    desk = await _desk(request)
    body = cast(TextIn, await _body(request, TextIn))
    case_id = request.match_info["case_id"]
    delivery = await desk.reply(case_id, body.text)
    return _case_json(await request.app[CASES].get(case_id), delivery=delivery)


async def note_case(request: web.Request) -> web.Response:
    """`POST /v1/cases/{id}/note` `{"text"}` (and `"reason"` on a case another agent holds)."""
    desk = await _desk(request, CASE_REVIEW_ROLES)
    body = cast(NoteIn, await _body(request, NoteIn))
    case_id = request.match_info["case_id"]
    await desk.note(case_id, body.text, body.reason)
    return _case_json(await request.app[CASES].get(case_id))


async def transfer_case(request: web.Request) -> web.Response:
    """`POST /v1/cases/{id}/transfer` `{"team"}`."""
    desk = await _desk(request)
    body = cast(TransferIn, await _body(request, TransferIn))
    return _case_json(await desk.transfer(request.match_info["case_id"], body.team))


async def resolve_case(request: web.Request) -> web.Response:
    """`POST /v1/cases/{id}/resolve` (optional `{"hand_back": true}`)."""
    desk = await _desk(request)
    body = cast(ResolveIn, await _body(request, ResolveIn, empty_ok=True))
    return _case_json(await desk.resolve(request.match_info["case_id"], hand_back=body.hand_back))


async def read_audit(request: web.Request) -> web.Response:
    """`GET /v1/audit?actor=&action=&limit=&before=`: newest first (compliance and admin).

    `next` is the cursor of the following (older) page: pass it as `before`; null at the end.
    """
    user = await bearer_user(request, AUDIT_ROLES)
    audit = request.app[AUDIT]
    try:
        limit = min(int(request.query.get("limit", "500")), MAX_AUDIT_ENTRIES)
    except ValueError:
        raise problem(web.HTTPBadRequest, "limit must be a number") from None
    action = request.query.get("action")
    if action is not None and action not in ACTIONS:
        raise problem(web.HTTPBadRequest, "unknown action")
    try:
        found = await audit.newest(
            before=request.query.get("before"),
            actor=request.query.get("actor"),
            action=cast(Any, action),
            limit=max(limit, 0),
        )
    except ValueError:
        raise problem(web.HTTPBadRequest, "invalid filter") from None
    # Reading the audit log is itself recorded.
    await audit.record(user.username, "export", detail="api")
    cursor = found[-1].id if found and len(found) == limit else None
    return web.json_response({"entries": [e.export_row() for e in found], "next": cursor})


async def change_role(request: web.Request) -> web.Response:
    """`POST /v1/staff/{username}/role` `{"role"}` (admin only; the user logs in again)."""
    admin = await bearer_user(request, ADMIN_ROLES)
    body = cast(RoleIn, await _body(request, RoleIn))
    username = request.match_info["username"]
    try:
        changed = await request.app[STAFF].set_role(username, body.role)
    except UnknownUser:
        raise problem(web.HTTPNotFound, "no such staff user") from None
    except LastAdmin as exc:
        raise problem(web.HTTPConflict, str(exc)) from None
    await request.app[AUDIT].record(
        admin.username, "role_change", detail=f"user={changed.username} role={changed.role}"
    )
    return web.json_response({"username": changed.username, "role": changed.role})


def add_staff_api_routes(app: web.Application) -> None:
    """Register the staff API."""
    app.router.add_post("/v1/auth/token", issue_token)
    app.router.add_post("/v1/auth/password", change_password)
    app.router.add_get("/v1/cases", list_cases)
    app.router.add_get(f"/v1/cases/{CASE_ID}", get_case)
    app.router.add_post(f"/v1/cases/{CASE_ID}/reveal", reveal_case)
    app.router.add_post(f"/v1/cases/{CASE_ID}/claim", claim_case)
    app.router.add_post(f"/v1/cases/{CASE_ID}/reply", reply_case)
    app.router.add_post(f"/v1/cases/{CASE_ID}/note", note_case)
    app.router.add_post(f"/v1/cases/{CASE_ID}/transfer", transfer_case)
    app.router.add_post(f"/v1/cases/{CASE_ID}/resolve", resolve_case)
    app.router.add_get("/v1/audit", read_audit)
    app.router.add_post(r"/v1/staff/{username:[a-z0-9._-]{1,64}}/role", change_role)
