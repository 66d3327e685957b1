"""The OpenAPI 3.1 document of every JSON route, generated from the pydantic models the
handlers validate bodies with and the shapes they answer with (bot/web/api_shapes.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from bot.web import api_shapes as out
from bot.web.faq_api import DRAFT_STATUSES, DraftIn, NoticeIn
from bot.web.messages import MAX_BODY_BYTES, DecisionOut, MessageIn
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
from escalation.staff import Role

OPENAPI_VERSION = "3.1.0"
SCHEMAS = "#/components/schemas/"
RESPONSES = "#/components/responses/"
ERROR_RESPONSES: dict[str, str] = {
    "400": "The body is not valid JSON, or a query parameter is invalid.",
    "401": "The bearer token (or, to log in, the password) is missing or wrong.",
    "403": "The caller's role does not allow this, or the API is disabled.",
    "404": "No such case, draft or staff user (or no route).",
    "409": "The change conflicts with the current state (held by another, resolved…).",
    "413": f"The body is larger than the service accepts ({MAX_BODY_BYTES} bytes).",
    "415": "The body is not sent as application/json (or, on the private page, a form).",
    "422": "The body is JSON but not valid for this operation.",
    "429": "Too many wrong private links from this client: retry after Retry-After.",
    "503": "A dependency (Redis) is not reachable, or the service is busy: retry shortly.",
}
# What every bearer route can answer, and what every route with a JSON body adds.
BEARER_ERRORS = ("401", "403", "503")
BODY_ERRORS = ("400", "413", "415", "422")
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
NO_TOKEN: list[dict[str, list[str]]] = []

REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    MessageIn,
    LoginIn,
    PasswordIn,
    TextIn,
    TransferIn,
    ResolveIn,
    RoleIn,
    DraftIn,
    NoticeIn,
    PersonMessageIn,
)
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    DecisionOut,
    out.TokenOut,
    out.PasswordChangedOut,
    out.CasesOut,
    out.CaseOut,
    out.CaseViewOut,
    out.AuditPageOut,
    out.RoleOut,
    out.FaqOverviewOut,
    out.DraftsOut,
    out.DraftOneOut,
    out.ApprovedOut,
    out.LiveVersionOut,
    out.NoticeOut,
    out.PrivateThreadOut,
    out.SentOut,
)


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


def _ref(target: str) -> dict[str, str]:
    return {"$ref": target}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path(name: str, pattern: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": pattern},
    }


CASE_ID = _path("case_id", "^[A-Za-z0-9_-]{1,64}$")
DRAFT_ID = _path("draft_id", "^[0-9a-f]{1,32}$")
USERNAME = _path("username", "^[a-z0-9._-]{1,64}$")
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
        "Triage one message (bearer TRIAGE_API_TOKEN).",
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
        params=(_query("status", {"type": "string", "enum": list(STATUSES)}, "Only this status."),),
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
            _query(
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
            _query("actor", {"type": "string"}, "Only entries of this actor."),
            _query("action", {"type": "string", "enum": list(ACTIONS)}, "Only this action."),
            _query(
                "limit",
                {"type": "integer"},
                f"Entries per page (default 500; at most {MAX_AUDIT_ENTRIES}, below 0 reads as 0).",
            ),
            _query(
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
            _query("status", {"type": "string", "enum": list(DRAFT_STATUSES)}, "Only this status."),
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


def _model_schemas() -> dict[str, Any]:
    _, top = models_json_schema(
        [(m, "validation") for m in REQUEST_MODELS]
        + [(m, "serialization") for m in RESPONSE_MODELS],
        ref_template=SCHEMAS + "{model}",
    )
    schemas: dict[str, Any] = top.get("$defs", {})
    return schemas


def _fixed_schemas() -> dict[str, Any]:
    # Every error the service writes has this one short shape; it never carries the body.
    return {
        "Error": {
            "title": "Error",
            "description": "A short error message; never contains the request body.",
            "type": "object",
            "properties": {"error": {"title": "Error", "type": "string"}},
            "required": ["error"],
        },
        "Health": {
            "title": "Health",
            "type": "object",
            "properties": {"status": {"const": "ok", "type": "string"}},
            "required": ["status"],
        },
        "Ready": {
            "title": "Ready",
            "type": "object",
            "properties": {
                "status": {"const": "ready", "type": "string"},
                "faq_version": {"type": "string"},
            },
            "required": ["status", "faq_version"],
        },
    }


def _operation(op: Op) -> dict[str, Any]:
    errors = [*(BEARER_ERRORS if op.security else ()), *op.errors]
    if op.body is not None:
        errors += BODY_ERRORS
    description = op.summary
    if op.body is None and op.method != "get":
        description += " No body is read."
    operation: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": description,
        "security": op.security,
        "responses": {
            op.status: {
                "description": op.answer.__doc__ or op.summary,
                "content": _json(_ref(SCHEMAS + op.answer.__name__)),
            },
            **{code: _ref(RESPONSES + code) for code in sorted(set(errors))},
            "default": {
                "description": "Any other error (405 with Allow…), in the same short shape.",
                "content": _json(_ref(SCHEMAS + "Error")),
            },
        },
    }
    if op.params:
        operation["parameters"] = list(op.params)
    if op.see_other:
        operation["responses"]["303"] = {
            "description": "A form post: back to the page, the new message shown.",
            "headers": {"Location": {"schema": {"type": "string"}}},
        }
    if op.body is not None:
        content = _json(_ref(SCHEMAS + op.body.__name__))
        if op.form:
            form = {"schema": _ref(SCHEMAS + op.body.__name__)}
            content["application/x-www-form-urlencoded"] = form
        operation["requestBody"] = {"required": not op.body_optional, "content": content}
    return operation


def _get(operation_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    """A GET operation that needs no token."""
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "security": NO_TOKEN,
            "responses": responses,
        }
    }


def _ops_paths() -> dict[str, Any]:
    return {
        "/healthz": _get(
            "healthz",
            "Liveness: the process answers.",
            {
                "200": {
                    "description": "The process is alive.",
                    "content": _json(_ref(SCHEMAS + "Health")),
                }
            },
        ),
        "/readyz": _get(
            "readyz",
            "Readiness: Redis answers and the engine is loaded.",
            {
                "200": {
                    "description": "Ready to triage.",
                    "content": _json(_ref(SCHEMAS + "Ready")),
                },
                "503": _ref(RESPONSES + "503"),
            },
        ),
        "/metrics": _get(
            "metrics",
            "Prometheus metrics (ids and counts only, no message content).",
            {
                "200": {
                    "description": "Prometheus text exposition format.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        ),
        "/openapi.json": _get(
            "openapi",
            "This document.",
            {
                "200": {
                    "description": "The OpenAPI 3.1 document.",
                    "content": _json({"type": "object"}),
                }
            },
        ),
    }


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {**paths, **_ops_paths()}


def openapi_document() -> dict[str, Any]:
    """Build the OpenAPI 3.1 document for the HTTP API."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        api_version = version("triagebot")
    except PackageNotFoundError:
        api_version = "0.0.0"
    schemas = {**_model_schemas(), **_fixed_schemas()}
    roles = ", ".join(get_args(Role))
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "triagebot",
            "version": api_version,
            "description": (
                "Triage of hospitals' public social-media messages: safe FAQ answers, "
                "PHI kept out of public view, human handoff. Every error is "
                '`{"error": "<short text>"}` and never carries the request body.'
            ),
        },
        "servers": [{"url": "/"}],
        "security": BEARER,
        "paths": _paths(),
        "components": {
            "schemas": schemas,
            "responses": {
                code: {"description": text, "content": _json(_ref(SCHEMAS + "Error"))}
                for code, text in ERROR_RESPONSES.items()
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        "A staff token from POST /v1/auth/token; each route names the "
                        f"roles it allows ({roles})."
                    ),
                },
                "apiToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The value of TRIAGE_API_TOKEN.",
                },
            },
        },
    }


async def openapi_handler(request: web.Request) -> web.Response:
    """Serve the OpenAPI document as JSON."""
    return web.json_response(openapi_document())
