"""Platform webhooks: verify on the raw body, record durably (on enough replicas, when
TRIAGE_REDIS_WAIT_REPLICAS says so), then answer 200.

The workers of bot/worker.py take each recorded message through bot/triage.py.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.appkeys import CIPHER, CONNECTORS, METRICS, REDIS, REPLICATION, SETTINGS
from bot.connectors.base import Connector, ItemProblem, PartlyMalformed, ignored_kinds
from bot.intake import record
from bot.web.errors import problem

log = logging.getLogger("triagebot.webhooks")
SIGNATURE_HEADERS = {"meta": "X-Hub-Signature-256", "x": "x-twitter-webhooks-signature"}


def _connector(request: web.Request, platform: str) -> Connector:
    connector = request.app[CONNECTORS].get(platform)
    if connector is None:
        raise problem(web.HTTPNotFound, f"the {platform} connector is not configured")
    return connector


async def receive(request: web.Request) -> web.Response:
    """POST /webhooks/{platform}: signature, validation, dedupe, durable receipt, 200."""
    platform = request.match_info["platform"]
    connector = _connector(request, platform)
    body = await request.read()
    if SIGNATURE_HEADERS[platform] not in request.headers:
        raise problem(web.HTTPUnauthorized, "missing signature")
    if not connector.verify(body, request.headers):
        raise problem(web.HTTPForbidden, "invalid signature")
    if request.content_type != "application/json":
        raise problem(web.HTTPUnsupportedMediaType, "send application/json")
    redis, cipher, metrics = request.app[REDIS], request.app[CIPHER], request.app[METRICS]
    problems: list[ItemProblem] = []
    try:
        messages = connector.parse(body)
    except PartlyMalformed as exc:
        # The good items are recorded; a redelivery cannot mend the others, so they are
        # named (place and reason, never content) and the delivery is still acknowledged.
        messages, problems = exc.messages, exc.problems
        for item in problems:
            metrics.webhook_items_skipped.labels(platform=platform, reason=item.reason).inc()
        log.warning(
            "malformed webhook items skipped",
            extra={
                "platform": platform,
                "skipped": len(problems),
                "reasons": sorted({item.reason.value for item in problems}),
                "first": str(problems[0]),
            },
        )
    except ValueError as exc:
        raise problem(web.HTTPBadRequest, f"malformed webhook: {exc}") from None
    # Items that are not for triage (echoes, receipts, reactions…) leave a count by kind.
    for kind, count in ignored_kinds(messages).items():
        metrics.webhook_items_ignored.labels(platform=platform, kind=kind).inc(count)
    new = 0
    for message in messages:
        is_new = await record(redis, cipher, message)
        new += is_new
        metrics.webhooks.labels(platform=platform, outcome="new" if is_new else "duplicate").inc()
    # A duplicate waits too: its first delivery's receipt may not have reached a replica.
    await request.app[REPLICATION].confirm(redis)
    answer: dict[str, object] = {"received": len(messages), "new": new}
    if problems:
        answer["skipped"] = [str(item) for item in problems]
    return web.json_response(answer)


async def meta_subscribe(request: web.Request) -> web.Response:
    """GET /webhooks/meta: Meta's subscription handshake."""
    connector = _connector(request, "meta")
    token = request.app[SETTINGS].meta_verify_token
    if token is None:
        raise problem(web.HTTPForbidden, "TRIAGE_META_VERIFY_TOKEN is not set")
    challenge = connector.verify_subscription(  # type: ignore[attr-defined]
        request.query, token.get_secret_value()
    )
    if challenge is None:
        raise problem(web.HTTPForbidden, "verification failed")
    return web.Response(text=str(challenge))


async def x_crc(request: web.Request) -> web.Response:
    """GET /webhooks/x: X's challenge-response check."""
    connector = _connector(request, "x")
    crc_token = request.query.get("crc_token", "")
    if not crc_token or len(crc_token) > 512:
        raise problem(web.HTTPBadRequest, "crc_token is required")
    return web.json_response(connector.crc_response(crc_token))  # type: ignore[attr-defined]
