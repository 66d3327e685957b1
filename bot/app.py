"""The aiohttp application factory and `triagebot serve`."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.exposition import generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.appkeys import BATCHER, ENGINE, HANDOVER, METRICS, NLP_POOL, REDIS, SETTINGS
from bot.batcher import Overloaded, TriageBatcher
from bot.embedded_redis import EmbeddedRedis
from bot.escalation_ctx import escalation_ctx
from bot.faq_live import faq_ctx
from bot.logs import RUNNER_OPTIONS
from bot.metrics import Metrics
from bot.nlp_pool import NlpPool
from bot.openapi import openapi_handler
from bot.settings import Settings
from bot.shutdown import bounded, exit_after, http_drain_s
from bot.web.console import add_console_routes
from bot.web.faq_api import add_faq_api_routes
from bot.web.faq_console import add_faq_console_routes
from bot.web.private_page import add_private_page_routes
from bot.web.staff_api import add_staff_api_routes
from bot.webhooks import (
    cipher_ctx,
    http_ctx,
    meta_subscribe,
    receive,
    stop_intake,
    workers_ctx,
    x_crc,
)
from escalation import keys
from escalation.cases import Source
from nlu.engine import MAX_TEXT_CHARS, TriageEngine
from nlu.models import Decision

log = logging.getLogger("triagebot.http")
MAX_BODY_BYTES = 256 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


def _problem(status: type[web.HTTPException], detail: str) -> web.HTTPException:
    return status(text=json.dumps({"error": detail}), content_type="application/json")


def _busy(detail: str) -> web.HTTPException:
    return web.HTTPServiceUnavailable(
        text=json.dumps({"error": detail}),
        content_type="application/json",
        headers={"Retry-After": "1"},
    )


def _where(loc: tuple[int | str, ...]) -> str:
    """The invalid field's name when it is one of ours; a client's own keys are never echoed."""
    known = set(MessageIn.model_fields)
    parts = [str(p) for p in loc if isinstance(p, int) or p in known]
    return ".".join(parts) if len(parts) == len(loc) and parts else "body"


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every failure to a short JSON error; never echo the request body."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        # aiohttp's own errors (404, 405, 413…) as JSON too, with their status.
        return web.json_response({"error": exc.reason}, status=exc.status)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _where(tuple(first["loc"]))
        if first["type"] == "json_invalid":
            raise _problem(web.HTTPBadRequest, "body is not valid JSON") from None
        # pydantic's message can quote the input; keep only its type.
        raise _problem(web.HTTPUnprocessableEntity, f"{where}: invalid ({first['type']})") from None
    except Overloaded:
        raise _busy("too many messages waiting; retry shortly") from None
    except (RedisConnectionError, RedisTimeoutError):
        log.warning("redis unavailable on %s", request.path)
        raise _busy("storage temporarily unavailable; retry shortly") from None
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        raise _problem(web.HTTPInternalServerError, "internal error") from None


def _require_bearer(request: web.Request) -> None:
    expected = request.app[SETTINGS].api_token
    given = request.headers.get("Authorization", "")
    if expected is None:
        raise _problem(web.HTTPForbidden, "the API is disabled: TRIAGE_API_TOKEN is not set")
    token = given.removeprefix("Bearer ").strip() if given.startswith("Bearer ") else ""
    if not token or not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        raise _problem(web.HTTPUnauthorized, "missing or wrong bearer token")


async def post_message(request: web.Request) -> web.Response:
    """Triage one message and answer with its Decision (first one again for a repeat)."""
    _require_bearer(request)
    if request.content_type != "application/json":
        raise _problem(web.HTTPUnsupportedMediaType, "send application/json")
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


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: Redis answers and the engine is loaded."""
    try:
        await request.app[REDIS].ping()
    except Exception:
        raise _problem(web.HTTPServiceUnavailable, "redis is not reachable") from None
    return web.json_response(
        {"status": "ready", "faq_version": request.app[ENGINE].content.version}
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus metrics (ids and counts only; no message content in any label)."""
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    """Connect to TRIAGE_REDIS_URL, or start an embedded Redis under data_dir."""
    settings = app[SETTINGS]
    embedded: EmbeddedRedis | None = None
    if settings.redis_url is None:
        embedded = EmbeddedRedis(settings.data_dir / "redis")
        await asyncio.to_thread(embedded.start)
        url = embedded.url
    else:
        url = settings.redis_url.get_secret_value()
    # A blocking pool queues callers under a burst instead of failing them.
    pool = BlockingConnectionPool.from_url(url, max_connections=64, timeout=3)
    client: Redis = Redis(connection_pool=pool)
    try:
        await client.ping()
        app[REDIS] = client
        yield
    finally:
        await bounded(client.aclose(), "redis client")
        if embedded is not None:  # bounded itself: SIGKILL when SIGTERM is not enough
            await asyncio.to_thread(embedded.stop)


async def engine_ctx(app: web.Application) -> AsyncIterator[None]:
    """Load the NLU engine in a thread and give it a pool that keeps NLP off the loop."""
    settings = app[SETTINGS]
    app[ENGINE] = await asyncio.to_thread(TriageEngine, settings.engine_config())
    pool = NlpPool(app[ENGINE], settings.nlp_processes)
    await pool.warm_up()
    app[NLP_POOL] = pool
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
        await batcher.stop()
        # A batch still running in the pool is let finish, for a few seconds at most.
        await bounded(asyncio.to_thread(pool.shutdown), "nlp pool")


def create_app(settings: Settings) -> web.Application:
    """Build the application; nothing is opened until it starts."""
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
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


def event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (not on Windows): the same asyncio, less CPU a request."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_server(settings: Settings, **options: Any) -> None:
    """Serve until SIGTERM or SIGINT, then stop within `settings.shutdown_grace_s`.

    In-flight requests and intake work get most of that time to finish; what still runs
    then is cancelled (workers hand back the receipts they hold), and past the whole
    grace period the process exits regardless.
    """
    app = create_app(settings)

    async def last_resort(app: web.Application) -> None:
        exit_after(settings.shutdown_grace_s)

    app.on_shutdown.insert(0, last_resort)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        loop=event_loop(),
        shutdown_timeout=http_drain_s(settings.shutdown_grace_s),
        **RUNNER_OPTIONS,
        **options,
    )


def serve(settings: Settings) -> int:
    """`triagebot serve`: run until interrupted."""
    if settings.processes > 1:
        from bot.supervisor import supervise

        return supervise(settings)
    run_server(settings)
    return 0
