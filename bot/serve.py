"""`triagebot serve`: one server process, or several: one port, one Redis, N engines.

The NLP is CPU-bound and Python runs one thread of it at a time, so a host with several
cores serves more by running several processes. They share the listening port
(SO_REUSEPORT, the kernel spreads connections), the Redis and the key file; the parent
starts the embedded Redis once, restarts a child that dies, and stops everything on
SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import time
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from bot.app import create_app
from bot.embedded_redis import EmbeddedRedis, for_data_dir
from bot.lifeline import die_with_parent
from bot.logs import RUNNER_OPTIONS
from bot.settings import Settings
from bot.shutdown import exit_after, http_drain_s

log = logging.getLogger("triagebot.supervisor")


def _child(settings: Settings) -> None:
    # A SIGTERM, so that a server whose supervisor was killed still stops gracefully.
    die_with_parent(signal.SIGTERM)
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    run_server(settings, reuse_port=True, print=None)


def supervise(settings: Settings) -> int:
    """Run `settings.processes` servers until SIGTERM / SIGINT."""
    embedded: EmbeddedRedis | None = None
    if settings.redis_url is None:
        embedded = for_data_dir(settings.data_dir)
        embedded.start()
        settings = settings.model_copy(update={"redis_url": SecretStr(embedded.url)})
    # The key file (when no keys are configured) is created here, once, so that the
    # children do not race to create it.
    settings.encryption_key_spec()

    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    context = multiprocessing.get_context("spawn")

    def spawn() -> BaseProcess:
        process = context.Process(target=_child, args=(settings,), daemon=False)
        process.start()
        return process

    children = [spawn() for _ in range(settings.processes)]
    log.info("serving", extra={"port": settings.port, "processes": settings.processes})
    try:
        while not stopping:
            for i, child in enumerate(children):
                if not child.is_alive() and not stopping:
                    log.warning("restarting a server process", extra={"exitcode": child.exitcode})
                    children[i] = spawn()
            time.sleep(0.5)
    finally:
        # Each child stops within the grace period on SIGTERM (and exits on its own past
        # it); one that has not by then is killed, so the whole stop stays bounded.
        for child in children:
            if child.is_alive():
                child.terminate()
        deadline = time.monotonic() + settings.shutdown_grace_s + 1
        for child in children:
            child.join(timeout=max(deadline - time.monotonic(), 0))
            if child.is_alive():
                log.error("a server process overran its grace period", extra={"pid": child.pid})
                child.kill()
                child.join(timeout=5)
        if embedded is not None:
            embedded.stop(timeout=3)
    return 0


def event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (not on Windows): the same asyncio, less CPU a request."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def server_options(settings: Settings) -> dict[str, Any]:
    """What `web.AppRunner` is given: safe logging, and the deadline for a request's headers."""
    return {
        **RUNNER_OPTIONS,
        # aiohttp closes a connection that has not sent a whole request this long after it
        # opened or after its last answer (a slowloris), and an idle keep-alive one.
        "keepalive_timeout": settings.header_timeout_s,
        # After an early answer (408, 413) the rest of a body is read and dropped for this
        # long at most, so that the client sees the answer; a slow client is not waited for.
        "lingering_time": 2.0,
    }


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
        **server_options(settings),
        **options,
    )


def serve(settings: Settings) -> int:
    """`triagebot serve`: run until interrupted."""
    if settings.processes > 1:
        return supervise(settings)
    run_server(settings)
    return 0
