"""Operations endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.exposition import generate_latest

from bot.appkeys import ENGINE, METRICS, NLP_POOL, REDIS, SETTINGS
from bot.web.errors import problem


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: Redis answers, the engine is loaded and the NLP pool is not broken or
    being replaced."""
    if not request.app[NLP_POOL].ready:
        raise problem(web.HTTPServiceUnavailable, "the nlp pool is being replaced")
    try:
        # Its own bound, shorter than the socket timeout: a probe waits for no one.
        async with asyncio.timeout(request.app[SETTINGS].ready_timeout_s):
            await request.app[REDIS].ping()
    except Exception:
        raise problem(web.HTTPServiceUnavailable, "redis is not reachable") from None
    return web.json_response(
        {"status": "ready", "faq_version": request.app[ENGINE].content.version}
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus metrics (ids and counts only; no message content in any label)."""
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
