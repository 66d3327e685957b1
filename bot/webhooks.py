"""Platform webhooks: verify on the raw body, record durably, then answer 200."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator

from aiohttp import ClientSession, ClientTimeout, web

from bot.appkeys import CIPHER, CONNECTORS, HANDOVER, HTTP, METRICS, NLP_POOL, REDIS, SETTINGS
from bot.connectors.base import Connector
from bot.intake import record
from bot.shutdown import bounded, ended, stop_tasks, worker_drain_s
from bot.web.errors import problem
from bot.worker import Worker, WorkerConfig
from escalation.crypto import Cipher

log = logging.getLogger("triagebot.webhooks")
SIGNATURE_HEADERS = {"meta": "X-Hub-Signature-256", "x": "x-twitter-webhooks-signature"}
# Set when shutdown begins: workers finish the receipts they hold and take no more.
INTAKE_STOP = web.AppKey("intake_stop", asyncio.Event)


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
    try:
        messages = connector.parse(body)
    except ValueError as exc:
        raise problem(web.HTTPBadRequest, f"malformed webhook: {exc}") from None
    redis, cipher, metrics = request.app[REDIS], request.app[CIPHER], request.app[METRICS]
    new = 0
    for message in messages:
        is_new = await record(redis, cipher, message)
        new += is_new
        metrics.webhooks.labels(platform=platform, outcome="new" if is_new else "duplicate").inc()
    return web.json_response({"received": len(messages), "new": new})


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


def build_connectors(app: web.Application) -> dict[str, Connector]:
    """Connectors for the platforms whose secrets are configured."""
    settings = app[SETTINGS]
    connectors: dict[str, Connector] = {}
    if settings.meta_app_secret is not None:
        from bot.connectors.meta import MetaConnector

        connectors["meta"] = MetaConnector(
            app_secret=settings.meta_app_secret.get_secret_value(),
            page_token=(
                settings.meta_page_token.get_secret_value() if settings.meta_page_token else ""
            ),
            graph_url=settings.meta_graph_url,
            page_id=settings.meta_page_id,
        )
    if settings.x_consumer_secret is not None:
        from bot.connectors.x import XConnector

        connectors["x"] = XConnector(
            consumer_secret=settings.x_consumer_secret.get_secret_value(),
            bearer_token=settings.x_bearer_token.get_secret_value()
            if settings.x_bearer_token
            else "",
            api_url=settings.x_api_url,
            account_id=settings.x_account_id,
        )
    return connectors


async def cipher_ctx(app: web.Application) -> AsyncIterator[None]:
    """The at-rest cipher: configured keys, or a key file kept under data_dir."""
    spec = await asyncio.to_thread(app[SETTINGS].encryption_key_spec)
    app[CIPHER] = Cipher.from_spec(spec)
    app[CONNECTORS] = build_connectors(app)
    yield


async def http_ctx(app: web.Application) -> AsyncIterator[None]:
    """One client session for every platform call."""
    session = ClientSession(timeout=ClientTimeout(total=15))
    app[HTTP] = session
    try:
        yield
    finally:
        # Closing waits for each connection's transport to report it closed: bounded.
        await bounded(session.close(), "http client session")


async def stop_intake(app: web.Application) -> None:
    """On shutdown: workers take no new receipts (an app that never started has none)."""
    if INTAKE_STOP in app:
        app[INTAKE_STOP].set()


async def workers_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the in-process triage workers; stop them gracefully, and boundedly, on shutdown.

    Workers get `worker_drain_s` to finish what they hold; those still busy then are
    cancelled and hand their receipts back for any worker to take at once.
    """
    settings = app[SETTINGS]
    connectors: dict[str, Connector] = app[CONNECTORS]
    stop = asyncio.Event()
    app[INTAKE_STOP] = stop
    workers = [
        Worker(
            redis=app[REDIS],
            cipher=app[CIPHER],
            connectors=connectors,
            session=app[HTTP],
            pool=app[NLP_POOL],
            metrics=app[METRICS],
            handover=app[HANDOVER],
            config=WorkerConfig(
                name=f"{socket.gethostname()}:{os.getpid()}:{n}",
                lease_ms=int(settings.worker_lease_s * 1000),
                attempts=settings.outbound_attempts,
            ),
        )
        for n in range(settings.workers)
    ]
    if workers:
        await workers[0].ensure_group()
    tasks = [asyncio.create_task(w.run(stop), name=w.config.name) for w in workers]
    try:
        yield
    finally:
        stop.set()
        if not await ended(tasks, worker_drain_s(settings.shutdown_grace_s)):
            await stop_tasks(tasks, "intake workers")
