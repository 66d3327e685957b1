"""The OpenAPI 3.1 document of every JSON route, generated from the pydantic models the
handlers validate bodies with and the shapes they answer with (bot/web/api_shapes.py)."""

from __future__ import annotations

from typing import Any, Literal, get_args

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from bot.web import api_shapes as out
from bot.web.api_operations import BEARER, NO_TOKEN, OPERATIONS, Op, query
from bot.web.messages import MAX_BODY_BYTES
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


def _ref(target: str) -> dict[str, str]:
    return {"$ref": target}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


DEFAULT = {
    "description": "Any other error (405 with Allow…), in the same short shape.",
    "content": _json(_ref(SCHEMAS + "Error")),
}


def _model_schemas() -> dict[str, Any]:
    # Bodies as they are validated, answers as they are written.
    bodies = dict.fromkeys(op.body for op in OPERATIONS if op.body is not None)
    answers: dict[type[BaseModel], None] = dict.fromkeys(op.answer for op in OPERATIONS)
    answers.update(dict.fromkeys([out.WebhookAckOut, out.CrcOut]))
    Mode = Literal["validation", "serialization"]
    models: list[tuple[type[BaseModel], Mode]] = [(m, "validation") for m in bodies]
    models += [(m, "serialization") for m in answers]
    _, top = models_json_schema(models, ref_template=SCHEMAS + "{model}")
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
        # What the connectors need before reading items one by one: anything more is
        # acknowledged, with the items that cannot be used named in `skipped`.
        "MetaDelivery": {
            "title": "MetaDelivery",
            "type": "object",
            "properties": {"object": {"type": "string"}, "entry": {"type": "array"}},
            "required": ["object", "entry"],
        },
        "XDelivery": {"title": "XDelivery", "type": "object"},
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
            "default": DEFAULT,
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


def _webhook(platform: str, body: str, summary: str) -> dict[str, Any]:
    """POST /webhooks/{platform}: the platform's signed delivery, acknowledged once recorded."""
    errors = ("400", "401", "403", "404", "413", "415", "503")
    return {
        "operationId": f"{platform}Webhook",
        "summary": summary,
        "description": (
            "Verified on the raw body, each message recorded before the answer; an unusable "
            "item is skipped and named, never the whole delivery. 404 when the connector is "
            "not configured."
        ),
        "security": [{f"{platform}Signature": []}],
        "requestBody": {"required": True, "content": _json(_ref(SCHEMAS + body))},
        "responses": {
            "200": {
                "description": out.WebhookAckOut.__doc__,
                "content": _json(_ref(SCHEMAS + "WebhookAckOut")),
            },
            **{code: _ref(RESPONSES + code) for code in errors},
            "default": DEFAULT,
        },
    }


def _webhook_paths() -> dict[str, Any]:
    handshake = {
        "operationId": "metaSubscribe",
        "summary": "Meta's subscription handshake: the challenge back as text.",
        "security": NO_TOKEN,
        "parameters": [
            query(name, {"type": "string"}, f"Meta's `{name}`.")
            for name in ("hub.mode", "hub.verify_token", "hub.challenge")
        ],
        "responses": {
            "200": {
                "description": "The challenge.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            **{code: _ref(RESPONSES + code) for code in ("403", "404")},
            "default": DEFAULT,
        },
    }
    crc = {
        "operationId": "xCrc",
        "summary": "X's challenge-response check.",
        "security": NO_TOKEN,
        "parameters": [
            {
                "name": "crc_token",
                "in": "query",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 512},
            }
        ],
        "responses": {
            "200": {"description": out.CrcOut.__doc__, "content": _json(_ref(SCHEMAS + "CrcOut"))},
            **{code: _ref(RESPONSES + code) for code in ("400", "404")},
            "default": DEFAULT,
        },
    }
    meta = _webhook("meta", "MetaDelivery", "Facebook Page, Messenger and Instagram events.")
    x = _webhook("x", "XDelivery", "X Account Activity or X Activity API events.")
    return {
        "/webhooks/meta": {"get": handshake, "post": meta},
        "/webhooks/x": {"get": crc, "post": x},
    }


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {**paths, **_webhook_paths(), **_ops_paths()}


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
                "metaSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Hub-Signature-256",
                    "description": "sha256=<hex HMAC-SHA256 of the raw body, key: the app secret>",
                },
                "xSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-twitter-webhooks-signature",
                    "description": "sha256=<base64 HMAC-SHA256 of the raw body, key: the secret>",
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
