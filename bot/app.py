"""The aiohttp application factory: its routes and the cleanup contexts that open and close
what the service holds (Redis, the NLU engine and pool, the cipher, HTTP sessions, workers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import ClientSession, ClientTimeout, web

from bot.appkeys import (
    BATCHER,
    CIPHER,
    CONNECTORS,
    ENGINE,
    HTTP,
    METRICS,
    NLP_POOL,
    REDIS,
    REPLICATION,
    SETTINGS,
)
from bot.batcher import TriageBatcher
from bot.connectors.base import Connector
from bot.embedded_redis import EmbeddedRedis, for_data_dir
from bot.escalation_ctx import escalation_ctx
from bot.faq_live import faq_ctx
from bot.metrics import Metrics
from bot.nlp_pool import NlpPool
from bot.redis_client import follow_primary, open_redis
from bot.replication import Replication
from bot.settings import Settings
from bot.shutdown import bounded, stop_tasks
from bot.web.console import add_console_routes
from bot.web.errors import error_middleware
from bot.web.faq_api import add_faq_api_routes
from bot.web.faq_console import add_faq_console_routes
from bot.web.limits import body_deadline
from bot.web.messages import MAX_BODY_BYTES, MessageIn, post_message
from bot.web.openapi import openapi_handler
from bot.web.ops import healthz, metrics, readyz
from bot.web.private_page import add_private_page_routes
from bot.web.security_headers import security_headers
from bot.web.staff_api import add_staff_api_routes
from bot.web.webhooks import meta_subscribe, receive, x_crc
from bot.worker import stop_intake, workers_ctx
from escalation.crypto import Cipher
from nlu.engine import TriageEngine


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    """Connect to TRIAGE_REDIS_URL (a Redis or a Sentinel set), or start an embedded Redis
    under data_dir."""
    settings = app[SETTINGS]
    embedded: EmbeddedRedis | None = None
    if settings.redis_url is None:
        embedded = await asyncio.to_thread(for_data_dir, settings.data_dir)
        await asyncio.to_thread(embedded.start)
        url = embedded.url
    else:
        url = settings.redis_url.get_secret_value()
    client = open_redis(
        url,
        socket_timeout_s=settings.redis_socket_timeout_s,
        connect_timeout_s=settings.redis_connect_timeout_s,
    )
    follower: asyncio.Task[None] | None = None
    try:
        await client.ping()
        app[REDIS] = client
        follower = asyncio.create_task(follow_primary(client), name="redis-follow-primary")
        yield
    finally:
        if follower is not None:
            await stop_tasks([follower], "redis primary follower")
        await bounded(client.aclose(), "redis client")
        if embedded is not None:  # bounded itself: SIGKILL when SIGTERM is not enough
            await asyncio.to_thread(embedded.stop)


async def engine_ctx(app: web.Application) -> AsyncIterator[None]:
    """Load the NLU engine in a thread and give it a pool that keeps NLP off the loop."""
    settings = app[SETTINGS]
    app[ENGINE] = await asyncio.to_thread(TriageEngine, settings.engine_config())
    pool = NlpPool(app[ENGINE], settings.nlp_processes, attempts=settings.nlp_attempts)
    await pool.warm_up()
    app[NLP_POOL] = pool
    # A process that dies while idle is replaced too, not only when a batch finds it dead.
    watcher = asyncio.create_task(pool.watch(), name="nlp-pool-watch")
    batcher = TriageBatcher(
        pool,
        max_wait_s=settings.batch_wait_ms / 1000,
        observe=app[METRICS].batch_size.observe,
    )
    app[BATCHER] = batcher
    batcher.start()
    try:
        yield
    finally:
        await stop_tasks([watcher], "nlp pool watcher")
        await batcher.stop()
        # A batch still running in the pool is let finish, for a few seconds at most.
        await bounded(asyncio.to_thread(pool.shutdown), "nlp pool")


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
            get_started=settings.meta_get_started_payload,
            timeout_s=settings.platform_timeout_s,
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
            timeout_s=settings.platform_timeout_s,
        )
    return connectors


def create_app(settings: Settings) -> web.Application:
    """Build the application; nothing is opened until it starts."""
    app = web.Application(
        middlewares=[
            error_middleware(MessageIn.model_fields),
            body_deadline(settings.body_timeout_s),
        ],
        client_max_size=MAX_BODY_BYTES,
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[REPLICATION] = Replication(settings.redis_wait_replicas, settings.redis_wait_timeout_ms)
    app.on_response_prepare.append(security_headers(hsts=settings.cookie_secure))
    # Cleanup contexts close in reverse order, each step bounded (bot.shutdown); intake
    # workers start finishing as soon as shutdown begins, beside in-flight requests.
    app.on_shutdown.append(stop_intake)
    app.cleanup_ctx.extend(
        [redis_ctx, engine_ctx, faq_ctx, cipher_ctx, http_ctx, escalation_ctx, workers_ctx]
    )
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi_handler)
    app.router.add_post("/v1/messages", post_message)
    app.router.add_get("/webhooks/meta", meta_subscribe)
    app.router.add_get("/webhooks/x", x_crc)
    app.router.add_post("/webhooks/{platform:meta|x}", receive)
    add_staff_api_routes(app)
    add_private_page_routes(app)
    add_console_routes(app)
    add_faq_api_routes(app)
    add_faq_console_routes(app)
    return app
