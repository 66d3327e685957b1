"""`POST /v1/messages`: the generic messages API, bearer-authenticated."""

from __future__ import annotations

import hmac
import logging
import time

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.appkeys import BATCHER, HANDOVER, METRICS, REDIS, SETTINGS
from bot.web.errors import problem
from escalation import keys
from escalation.cases import Source
from nlu.engine import MAX_TEXT_CHARS
from nlu.models import Decision

log = logging.getLogger("triagebot.http")
# The largest request body the service reads (413 beyond it), for every route.
MAX_BODY_BYTES = 256 * 1024


class MessageIn(BaseModel):
    """Body of `POST /v1/messages`."""

    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(min_length=1, max_length=200, pattern=r"^[\w.:@-]+$")
    author_id: str = Field(min_length=1, max_length=200)
    text: str = Field(max_length=MAX_TEXT_CHARS)
    channel: str = Field(default="api", min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$")
    author_name: str | None = Field(default=None, max_length=200)
    thread_id: str | None = Field(default=None, max_length=200)


class DecisionOut(Decision):
    """A Decision as the API returns it."""

    duplicate: bool = False
    # For an escalation: the person's link to the secure chat page of their case.
    private_url: str | None = None


def _require_bearer(request: web.Request) -> None:
    expected = request.app[SETTINGS].api_token
    given = request.headers.get("Authorization", "")
    if expected is None:
        raise problem(web.HTTPForbidden, "the API is disabled: TRIAGE_API_TOKEN is not set")
    token = given.removeprefix("Bearer ").strip() if given.startswith("Bearer ") else ""
    if not token or not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        raise problem(web.HTTPUnauthorized, "missing or wrong bearer token")


async def post_message(request: web.Request) -> web.Response:
    """Triage one message and answer with its Decision (first one again for a repeat)."""
    _require_bearer(request)
    if request.content_type != "application/json":
        raise problem(web.HTTPUnsupportedMediaType, "send application/json")
    message = MessageIn.model_validate_json(await request.read())
    redis = request.app[REDIS]
    key = keys.message_decision(message.channel, message.message_id)
    started = time.perf_counter()
    # Repeats are rare: triage first and let the stored first Decision win below, rather
    # than spend a Redis round trip on every request to look for one.
    result = await request.app[BATCHER].triage(message.message_id, message.text)
    out = DecisionOut.model_validate(result.model_dump())
    if out.action in ("escalate", "emergency"):
        await _open_case(request.app, message, out)  # idempotent per message id
    # The private link is the person's key to their case: only its digest is stored.
    first = out.model_dump_json(exclude={"private_url", "duplicate"})
    if not await redis.set(key, first, nx=True, ex=keys.DEDUPE_TTL_S):
        stored = await redis.get(key)
        if stored is not None:
            out = DecisionOut.model_validate_json(stored)
            out.duplicate = True
    request.app[METRICS].decisions.labels(action=out.action).inc()
    request.app[METRICS].latency.observe(time.perf_counter() - started)
    log.info(
        "triaged message",
        extra={"message_id": out.id, "action": out.action, "reasons": out.reasons},
    )
    return web.json_response(text=out.model_dump_json())


async def _open_case(app: web.Application, message: MessageIn, out: DecisionOut) -> None:
    """Record the escalation in the human queue before answering: it is never lost."""
    handover = app[HANDOVER]
    source = Source(
        channel=message.channel,
        message_id=message.message_id,
        author_id=message.author_id,
        author_name=message.author_name,
        thread_id=message.thread_id,
        text=message.text,
        entities=[(e.type, e.start, e.end) for e in out.entities],
    )
    out.case_id, _, out.private_url = await handover.open_case(
        source, out.priority or "normal", out.reasons
    )
