"""Keep every engine of this process on the live FAQ version, within a second of a change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from redis.exceptions import RedisError

from bot.appkeys import ENGINE, FAQ, NLP_POOL, REDIS, SETTINGS
from bot.nlp_pool import NlpPool
from bot.outages import Episodes, storage_failure
from bot.shutdown import stop_tasks
from escalation import keys
from escalation.faq.store import FaqStore
from nlu.engine import TriageEngine

log = logging.getLogger("triagebot.faq")
POLL_S = 0.25


async def follow_live(store: FaqStore, engine: TriageEngine, pool: NlpPool) -> None:
    """Apply the live version and notice whenever either changes."""
    seen: tuple[str | None, bytes | str | None] | None = None
    outages = Episodes(log)
    while True:
        try:
            current = (await store.live_id(), await store.redis.get(keys.FAQ_NOTICE))
            if current != seen:
                live = await store.live_state()
                if live is not None:
                    pool.live = live  # pool processes switch with their next batch
                    # Retraining (when the version changed) runs off the event loop.
                    await asyncio.to_thread(engine.use_live, live)
                    log.info("faq version live", extra={"faq_version": live.version.version})
                seen = current
        except asyncio.CancelledError:
            raise
        except RedisError as exc:
            if storage_failure(exc) is None:
                log.exception("could not follow the live FAQ version")
            else:  # an outage or a failover: a line an episode, not a traceback 4 times a second
                outages.occurred(type(exc).__name__, "faq follower waits for redis")
        except Exception:
            log.exception("could not follow the live FAQ version")
        await asyncio.sleep(POLL_S)


async def faq_ctx(app: web.Application) -> AsyncIterator[None]:
    """Seed the FAQ store from the content files on first start, then follow it."""
    store = FaqStore(app[REDIS])
    app[FAQ] = store
    live = await store.seed(app[SETTINGS].faq_dir)
    state = await store.live_state()
    if state is not None:
        # The main engine trains first (and caches the model); the pool processes then
        # switch while warming up, before the service says it is ready.
        await asyncio.to_thread(app[ENGINE].use_live, state)
        app[NLP_POOL].live = state
        await app[NLP_POOL].warm_up()
    log.info("faq version live", extra={"faq_version": live.version})
    task = asyncio.create_task(follow_live(store, app[ENGINE], app[NLP_POOL]), name="faq-live")
    try:
        yield
    finally:
        await stop_tasks([task], "faq follower")
