"""The JSON operations the OpenAPI document describes: path, method, body and answer
models, parameters, errors and security of each. bot/web/openapi.py turns them into the
document; tests/bot/web/test_openapi.py fails for a route of the app missing here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from bot.web import api_shapes as out
from bot.web.faq_api import DRAFT_STATUSES, DraftIn, NoticeIn
from bot.web.messages import DecisionOut, MessageIn
from bot.web.private_page import PersonMessageIn
from bot.web.staff_api import (
    MAX_AUDIT_ENTRIES,
    LoginIn,
    PasswordIn,
    ResolveIn,
    RoleIn,
    TextIn,
    TransferIn,
)
from escalation.audit import ACTIONS
from escalation.cases import STATUSES

BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
NO_TOKEN: list[dict[str, list[str]]] = []


@dataclass(frozen=True)
class Op:
    """One operation: what it reads, what it answers and which errors it can give."""

    method: str
    path: str
    operation_id: str
    summary: str
    answer: type[BaseModel]
    body: type[BaseModel] | None = None
    errors: tuple[str, ...] = ()
    params: tuple[dict[str, Any], ...] = ()
    status: str = "200"
    security: list[dict[str, list[str]]] = field(default_factory=lambda: BEARER)
    body_optional: bool = False
    form: bool = False  # the body may also come as the page's form
    see_other: bool = False  # a form post is answered with 303 back to the page


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """An optional query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def path_param(name: str, pattern: str) -> dict[str, Any]:
    """A path parameter of the shape the route matches."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": pattern},
    }


CASE_ID = path_param("case_id", "^[A-Za-z0-9_-]{1,64}$")
DRAFT_ID = path_param("draft_id", "^[0-9a-f]{1,32}$")
USERNAME = path_param("username", "^[a-z0-9._-]{1,64}$")
# Any text is looked up (and counted as a guess); real tokens are 43 URL-safe characters.
PRIVATE_TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{20,64}$"},
    "description": "The private link's token: it is the credential.",
}
PRIVATE_ERRORS = ("404", "429")
CASE_ERRORS = ("404", "409")


def _case_op(verb: str, summary: str, body: type[BaseModel] | None = None, **kw: Any) -> Op:
    return Op(
        "post",
        f"/v1/cases/{{case_id}}/{verb}",
        f"{verb}Case",
        summary,
        kw.pop("answer", out.CaseOut),
        body=body,
        errors=CASE_ERRORS,
        params=(CASE_ID,),
        **kw,
    )


OPERATIONS: tuple[Op, ...] = (
    Op(
        "post",
        "/v1/messages",
        "postMessage",
        "Triage one message (bearer TRIAGE_API_TOKEN); a repeated message_id gets the first"
        " Decision with duplicate: true and, when it opened a case, a fresh private_url (the"
        " earlier link revoked).",
        DecisionOut,
        body=MessageIn,
        security=[{"apiToken": []}],
    ),
    Op(
        "post",
        "/v1/auth/token",
        "issueToken",
        "A staff bearer token for a username and password (throttled, audited).",
        out.TokenOut,
        body=LoginIn,
        security=NO_TOKEN,
    ),
    Op(
        "post",
        "/v1/auth/password",
        "changePassword",
        "Change the caller's own password; every session and token of theirs is revoked.",
        out.PasswordChangedOut,
        body=PasswordIn,
    ),
    Op(
        "get",
        "/v1/cases",
        "listCases",
        "Case metadata in queue order (agent, admin).",
        out.CasesOut,
        errors=("400",),
        params=(query("status", {"type": "string", "enum": list(STATUSES)}, "Only this status."),),
    ),
    Op(
        "get",
        "/v1/cases/{case_id}",
        "getCase",
        "A case with its masked conversation and notes (audited).",
        out.CaseViewOut,
        errors=("404",),
        params=(
            CASE_ID,
            query(
                "reveal",
                {"type": "string"},
                "`1` or `true` for the unmasked conversation (audited as a reveal).",
            ),
        ),
    ),
    _case_op("reveal", "The full, unmasked conversation (audited).", answer=out.CaseViewOut),
    _case_op("claim", "Take the case (409 when another agent holds it)."),
    _case_op("reply", "Reply to the person; delivered on their platform if private.", TextIn),
    _case_op("note", "Add an internal note.", TextIn),
    _case_op("transfer", "Hand the case to a team's queue.", TransferIn),
    _case_op(
        "resolve",
        "Close the case, optionally handing the person back to the bot; the body may be empty.",
        ResolveIn,
        body_optional=True,
    ),
    Op(
        "get",
        "/v1/audit",
        "readAudit",
        "The audit log, newest first, with a cursor (compliance, admin; audited).",
        out.AuditPageOut,
        errors=("400",),
        params=(
            query("actor", {"type": "string"}, "Only entries of this actor."),
            query("action", {"type": "string", "enum": list(ACTIONS)}, "Only this action."),
            query(
                "limit",
                {"type": "integer"},
                f"Entries per page (default 500; at most {MAX_AUDIT_ENTRIES}, below 0 reads as 0).",
            ),
            query(
                "before",
                {"type": "string", "pattern": r"^\d{1,20}-\d{1,20}$"},
                "The `next` of the page before: entries older than it.",
            ),
        ),
    ),
    Op(
        "post",
        "/v1/staff/{username}/role",
        "changeRole",
        "Change a staff user's role (admin; the user logs in again).",
        out.RoleOut,
        body=RoleIn,
        errors=("404", "409"),
        params=(USERNAME,),
    ),
    Op(
        "get",
        "/p/{token}/messages",
        "privateMessages",
        "The person's private conversation, for the page's polling.",
        out.PrivateThreadOut,
        errors=PRIVATE_ERRORS,
        params=(PRIVATE_TOKEN,),
        security=NO_TOKEN,
    ),
    Op(
        "post",
        "/p/{token}/messages",
        "privateSend",
        "The person writes in their case (triaged; an emergency gets the safety reply).",
        out.SentOut,
        body=PersonMessageIn,
        errors=PRIVATE_ERRORS,
        params=(PRIVATE_TOKEN,),
        status="201",
        security=NO_TOKEN,
        form=True,
        see_other=True,
    ),
    Op("get", "/v1/faq", "getFaq", "The live FAQ version, notice and history.", out.FaqOverviewOut),
    Op(
        "get",
        "/v1/faq/drafts",
        "listDrafts",
        "FAQ drafts, newest first, with changes and evaluations.",
        out.DraftsOut,
        errors=("400",),
        params=(
            query("status", {"type": "string", "enum": list(DRAFT_STATUSES)}, "Only this status."),
        ),
    ),
    Op(
        "post",
        "/v1/faq/drafts",
        "createDraft",
        "Propose changes to the live FAQ version (faq_editor, admin); evaluated in the background.",
        out.DraftOneOut,
        body=DraftIn,
        errors=("409",),
        status="201",
    ),
    Op(
        "get",
        "/v1/faq/drafts/{draft_id}",
        "getDraft",
        "One FAQ draft with its evaluation so far.",
        out.DraftOneOut,
        errors=("404",),
        params=(DRAFT_ID,),
    ),
    Op(
        "post",
        "/v1/faq/drafts/{draft_id}/approve",
        "approveDraft",
        "Make a draft live (compliance, admin; never its author).",
        out.ApprovedOut,
        errors=("404", "409", "422"),
        params=(DRAFT_ID,),
    ),
    Op(
        "post",
        "/v1/faq/drafts/{draft_id}/reject",
        "rejectDraft",
        "Refuse a draft (compliance, admin; never its author).",
        out.DraftOneOut,
        errors=("404", "409", "422"),
        params=(DRAFT_ID,),
    ),
    Op(
        "post",
        "/v1/faq/rollback",
        "rollbackFaq",
        "Make the version live before the current one live again (compliance, admin).",
        out.LiveVersionOut,
        errors=("404", "409", "422"),
    ),
    Op(
        "put",
        "/v1/faq/notice",
        "putNotice",
        "Publish a notice on every public answer until it expires (compliance, admin).",
        out.NoticeOut,
        body=NoticeIn,
    ),
    Op(
        "delete",
        "/v1/faq/notice",
        "deleteNotice",
        "Withdraw the notice now (compliance, admin).",
        out.NoticeOut,
    ),
)
