"""`POST /v1/messages`: the generic messages API, bearer-authenticated."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.appkeys import BATCHER, HANDOVER, METRICS, REDIS, REPLICATION, SETTINGS
from bot.connectors.base import InboundMessage, MessageKind
from bot.nlp_pool import NlpUnavailable
from bot.triage import Decide, Triage
from bot.web.errors import problem
from nlu.engine import MAX_TEXT_CHARS
from nlu.models import Decision

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
    body = MessageIn.model_validate_json(await request.read())
    message = InboundMessage(
        platform=body.channel,
        message_id=body.message_id,
        kind=MessageKind.API,
        author_id=body.author_id,
        text=body.text,
        thread_id=body.thread_id,
        author_name=body.author_name,
    )
    app = request.app
    # The same step as a webhook message's: an escalation is in the human queue before
    # the answer goes out, so it is never lost.
    [done] = await Triage(app[REDIS], app[HANDOVER], app[METRICS], _batched(app)).run([message])
    if done is None:  # the batcher raises NlpUnavailable first; kept for the types
        raise NlpUnavailable
    private_url = done.routed.private_url
    if done.duplicate and done.routed.case_id is not None and private_url is None:
        # A client retrying after it lost the first answer lost the link in it too.
        private_url = await app[HANDOVER].relink(
            message.platform, message.message_id, done.routed.case_id
        )
    # The Decision, the case and the link are on enough replicas before anyone is told.
    await app[REPLICATION].confirm(app[REDIS])
    out = DecisionOut.model_validate(
        {
            **done.decision.model_dump(),
            "case_id": done.routed.case_id,
            "private_url": private_url,
            "duplicate": done.duplicate,
        }
    )
    return web.json_response(text=out.model_dump_json())


def _batched(app: web.Application) -> Decide:
    """The API's way to run the NLP: through the batcher, beside concurrent requests."""
    batcher = app[BATCHER]

    async def decide(items: Sequence[tuple[str, str]]) -> list[Decision | None]:
        return [await batcher.triage(message_id, text) for message_id, text in items]

    return decide
