"""The OpenAPI 3.1 document for the HTTP API, built from the pydantic models it validates with."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic.json_schema import models_json_schema

from bot.web.messages import MAX_BODY_BYTES, DecisionOut, MessageIn

OPENAPI_VERSION = "3.1.0"
SCHEMAS = "#/components/schemas/"
RESPONSES = "#/components/responses/"
ERROR_RESPONSES: dict[str, str] = {
    "400": "The body is not valid JSON.",
    "401": "The bearer token is missing or wrong.",
    "403": "The API is disabled: no token is configured.",
    "413": "The body is larger than the service accepts.",
    "415": "The body is not sent as application/json.",
    "422": "The body is JSON but not a valid MessageIn.",
    "503": "A dependency (Redis) is not reachable.",
}


def _ref(target: str) -> dict[str, str]:
    return {"$ref": target}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _model_schemas() -> dict[str, Any]:
    _, top = models_json_schema(
        [(MessageIn, "validation"), (DecisionOut, "serialization")],
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


def _get(operation_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    """A GET operation that needs no token."""
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "security": [],
            "responses": responses,
        }
    }


def _post_message() -> dict[str, Any]:
    post_errors = ("400", "401", "403", "413", "415", "422")
    return {
        "post": {
            "operationId": "postMessage",
            "summary": "Triage one message.",
            "description": (
                "Answers with the message's Decision; a repeated (channel, message_id) "
                "gets the first Decision again with `duplicate: true` and, when the message "
                "opened a case, a fresh `private_url` (the earlier one is revoked). Bodies over "
                f"{MAX_BODY_BYTES} bytes are refused with 413."
            ),
            "security": [{"bearer": []}],
            "requestBody": {"required": True, "content": _json(_ref(SCHEMAS + "MessageIn"))},
            "responses": {
                "200": {
                    "description": "The Decision for this message.",
                    "content": _json(_ref(SCHEMAS + "DecisionOut")),
                },
                **{code: _ref(RESPONSES + code) for code in post_errors},
                "default": {
                    "description": "Any other error, in the same short shape.",
                    "content": _json(_ref(SCHEMAS + "Error")),
                },
            },
        }
    }


def _paths() -> dict[str, Any]:
    return {
        "/v1/messages": _post_message(),
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


def openapi_document() -> dict[str, Any]:
    """Build the OpenAPI 3.1 document for the HTTP API."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        api_version = version("triagebot")
    except PackageNotFoundError:
        api_version = "0.0.0"
    schemas = {**_model_schemas(), **_fixed_schemas()}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "triagebot",
            "version": api_version,
            "description": (
                "Triage of hospitals' public social-media messages: safe FAQ answers, "
                "PHI kept out of public view, human handoff."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
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
                    "description": "The value of TRIAGE_API_TOKEN.",
                }
            },
        },
    }


async def openapi_handler(request: web.Request) -> web.Response:
    """Serve the OpenAPI document as JSON."""
    return web.json_response(openapi_document())
