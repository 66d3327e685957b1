"""Triage workers: consume receipts at least once, decide once, act at most once.

Each receipt is read through a Redis Streams consumer group. A worker that dies leaves
its receipts pending; after the lease any worker reclaims them (XAUTOCLAIM). The first
Decision stored for a message wins, and every outbound action is marked before it is
sent, so a redelivery or a reclaim never produces a second public reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import ClientSession, web
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bot.appkeys import (
    CIPHER,
    CONNECTORS,
    HANDOVER,
    HTTP,
    METRICS,
    NLP_POOL,
    REDIS,
    REPLICATION,
    SETTINGS,
)
from bot.connectors.base import (
    ActionKind,
    Connector,
    InboundMessage,
    OutboundAction,
    OutboundError,
)
from bot.intake import open_payload
from bot.metrics import Metrics
from bot.nlp_pool import NlpPool
from bot.outages import Episodes, storage_failure
from bot.replication import NotReplicated, Replication
from bot.shutdown import ended, stop_tasks, worker_drain_s
from bot.triage import Triage
from escalation import keys
from escalation.crypto import Cipher, CryptoError, ForeignKeyError
from escalation.handover import Handover

log = logging.getLogger("triagebot.worker")
# A cancelled worker's last Redis call: handing back what it held.
HAND_BACK_S = 2.0
# Deliveries of a receipt this instance cannot open (another key) before it is dropped:
# with a 30 s lease, ten minutes for an instance that holds the key to take it.
FOREIGN_KEY_DELIVERIES = 20
# A consumer that has held nothing and read nothing for this long belonged to an instance
# that is gone (each start is a new consumer name): forgotten, checked once a minute.
FORGET_CONSUMER_MS = 3_600_000
FORGET_EVERY_S = 60.0
# Deletes such consumers in one step, so that none can take an entry between the look
# and the delete (XGROUP DELCONSUMER drops a consumer's pending entries with it).
# KEYS: stream. ARGV: group, idle ms, own name. Returns how many were forgotten.
_FORGET = """
local gone = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
  if info['pending'] == 0 and info['idle'] > tonumber(ARGV[2]) and info['name'] ~= ARGV[3] then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    gone = gone + 1
  end
end
return gone
"""
# Set when shutdown begins: workers finish the receipts they hold and take no more.
INTAKE_STOP = web.AppKey("intake_stop", asyncio.Event)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How a worker reads, leases and retries."""

    name: str
    batch: int = 32
    lease_ms: int = 30_000
    forget_after_ms: int = FORGET_CONSUMER_MS
    block_ms: int = 1_000
    attempts: int = 5
    backoff_s: float = 0.5


_Entry = tuple[bytes, dict[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class _Receipt:
    entry_id: bytes
    message: InboundMessage


class Worker:
    """One consumer of the inbox stream."""

    def __init__(
        self,
        *,
        redis: Redis,
        cipher: Cipher,
        connectors: Mapping[str, Connector],
        session: ClientSession,
        pool: NlpPool,
        metrics: Metrics,
        config: WorkerConfig,
        handover: Handover,
        replication: Replication | None = None,
    ) -> None:
        self.redis, self.cipher = redis, cipher
        self.connectors, self.session, self.pool = connectors, session, pool
        self.metrics, self.config, self.handover = metrics, config, handover
        self.replication = replication or Replication()
        self.triage = Triage(redis, handover, metrics, pool.triage_each)
        # Receipts read and not yet acknowledged: handed back if the worker is cancelled.
        self._held: set[bytes] = set()
        self._outages = Episodes(log)
        self._ids = {"worker": config.name}
        self._forgotten_at = -FORGET_EVERY_S

    async def ensure_group(self) -> None:
        """Create the consumer group (and stream) if this is the first worker ever."""
        try:
            await self.redis.xgroup_create(keys.INBOX, keys.INBOX_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; errors are logged and retried, never fatal."""
        await self.ensure_group()
        while not stop.is_set():
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except RedisError as exc:
                if isinstance(exc, ResponseError) and str(exc).startswith("NOGROUP"):
                    # A primary promoted before the group reached it (replication is
                    # asynchronous): make it again; pending entries it never had are
                    # redelivered by the platforms, deduplicated where they were seen.
                    self._outages.occurred(
                        "nogroup", "consumer group missing; creating it again", **self._ids
                    )
                    with contextlib.suppress(RedisError):  # else the next round tries again
                        await self.ensure_group()
                    await asyncio.sleep(0.1)
                    continue
                if storage_failure(exc) is None:
                    log.exception("worker step failed", extra={"worker": self.config.name})
                else:  # an outage: one line for it, not one a second
                    self._outages.occurred(
                        type(exc).__name__,
                        "worker waits for redis (logged once an episode)",
                        worker=self.config.name,
                    )
                await asyncio.sleep(1)
            except Exception:
                log.exception("worker step failed", extra={"worker": self.config.name})
                await asyncio.sleep(1)

    async def step(self) -> int:
        """Reclaim expired leases, read new receipts, process them; returns how many."""
        cfg = self.config
        if time.monotonic() - self._forgotten_at >= FORGET_EVERY_S:
            await self.forget_gone_consumers()
        claimed = await self.redis.xautoclaim(
            keys.INBOX, keys.INBOX_GROUP, cfg.name, cfg.lease_ms, "0-0", count=cfg.batch
        )
        entries = list(claimed[1])
        if len(entries) < cfg.batch:
            fresh = await self.redis.xreadgroup(
                keys.INBOX_GROUP,
                cfg.name,
                {keys.INBOX: ">"},
                count=cfg.batch - len(entries),
                block=None if entries else cfg.block_ms,
            )
            streams = cast(list[tuple[bytes, list[_Entry]]], fresh or [])
            for _, stream_entries in streams:
                entries.extend(stream_entries)
        self._held.update(entry_id for entry_id, _ in entries)
        try:
            receipts = []
            for entry in entries:
                receipt = await self._open(entry)
                if receipt is not None:
                    receipts.append(receipt)
            if receipts:
                await self._process(receipts)
        except asyncio.CancelledError:
            await self.hand_back()
            raise
        return len(receipts)

    async def forget_gone_consumers(self) -> int:
        """Delete the consumers of instances gone long ago (nothing pending); how many."""
        self._forgotten_at = time.monotonic()
        cfg = self.config
        gone = int(
            await self.redis.eval(
                _FORGET, 1, keys.INBOX, keys.INBOX_GROUP, cfg.forget_after_ms, cfg.name
            )
        )
        if gone:
            log.info("consumers of gone instances forgotten", extra={**self._ids, "gone": gone})
        return gone

    async def hand_back(self) -> None:
        """Make the receipts this worker holds claimable by any worker now, not after the
        lease: their idle time is set to the lease, which XAUTOCLAIM takes as expired.

        Actions already marked stay marked, so a receipt taken over never acts twice.
        """
        held: list[Any] = sorted(self._held)
        if not held:
            return
        cfg = self.config
        try:
            async with asyncio.timeout(HAND_BACK_S):
                await self.redis.xclaim(
                    keys.INBOX, keys.INBOX_GROUP, cfg.name, 0, held, idle=cfg.lease_ms, justid=True
                )
        except Exception:  # their lease still hands them over, only later
            log.warning("could not hand back receipts", extra={"worker": cfg.name})
            return
        self._held.difference_update(held)
        log.info("receipts handed back", extra={"worker": cfg.name, "receipts": len(held)})

    async def _open(self, entry: _Entry) -> _Receipt | None:
        entry_id, fields = entry
        try:
            platform = fields[b"platform"].decode()
            message_id = fields[b"id"].decode()
            message = open_payload(self.cipher, platform, message_id, fields[b"payload"])
        except ForeignKeyError:
            # Recorded by an instance with other keys (TRIAGE_ENCRYPTION_KEYS not the same
            # everywhere): left pending for one that holds them, dropped only when no one
            # took it in many leases.
            pending = await self.redis.xpending_range(
                keys.INBOX, keys.INBOX_GROUP, min=entry_id, max=entry_id, count=1
            )
            if pending and int(pending[0]["times_delivered"]) < FOREIGN_KEY_DELIVERIES:
                self._outages.occurred(
                    "foreign_key",
                    "receipt sealed with a key this instance lacks: left for another one; "
                    "set the same TRIAGE_ENCRYPTION_KEYS on every instance",
                    worker=self.config.name,
                )
                self._held.discard(entry_id)
                return None
            log.error("dropping unreadable receipt", extra={"entry": entry_id.decode()})
            self.metrics.receipts_dropped.inc()
            await self._ack(entry_id)
            return None
        except (KeyError, UnicodeDecodeError, CryptoError, ValueError):
            # Unreadable receipts cannot be processed by anyone: acknowledge and count them.
            log.error("dropping unreadable receipt", extra={"entry": entry_id.decode()})
            self.metrics.receipts_dropped.inc()
            await self._ack(entry_id)
            return None
        return _Receipt(entry_id, message)

    async def _process(self, receipts: Sequence[_Receipt]) -> None:
        triaged = await self.triage.run([r.message for r in receipts])
        for receipt, done in zip(receipts, triaged, strict=True):
            if done is None:
                # The NLP died on each try of it: left pending, it is reclaimed after the
                # lease and tried again, and the others in the batch go on meanwhile.
                self._held.discard(receipt.entry_id)
                continue
            message, decision = done.message, done.decision
            connector = self.connectors.get(message.platform)
            # In a conversation staff own, the bot stays quiet except for safety replies.
            if connector is not None and (not done.routed.quiet or decision.action == "emergency"):
                planned = connector.plan(message, decision, done.routed.invite)
                if done.unchanged:
                    # An edit that changes nothing triaged says nothing new; a hide holds.
                    planned = [a for a in planned if a.kind is ActionKind.HIDE]
                try:
                    for index, action in enumerate(planned):
                        await self._act(connector, message, index, action)
                except NotReplicated:
                    # Left pending, tried again after the lease (what was sent stays
                    # marked): sending with a mark no replica holds could send twice.
                    self._outages.occurred(
                        "action_mark_not_replicated",
                        "action marks not yet on a replica; actions wait (logged once an episode)",
                        worker=self.config.name,
                    )
                    self._held.discard(receipt.entry_id)
                    continue
            await self._ack(receipt.entry_id)

    async def _act(
        self, connector: Connector, message: InboundMessage, index: int, action: OutboundAction
    ) -> None:
        """Send one action at most once, retrying 429/5xx with exponential backoff."""
        state_key = keys.actions(message.platform, message.dedupe_id)
        if not await self.redis.hsetnx(state_key, str(index), "pending"):
            return  # marked by an earlier attempt: never send twice
        await self.redis.expire(state_key, keys.DEDUPE_TTL_S)
        try:
            # The mark on a replica before the call: a failover that lost it would let a
            # later attempt send again (a primary demoted in a manual failover takes
            # writes until Sentinel reconfigures it, and the promoted one never sees them).
            await self.replication.confirm(self.redis)
        except NotReplicated:
            await self.redis.hdel(state_key, str(index))  # not sent: free to try again
            raise
        except RedisError:
            # Cut off during the WAIT (the primary died): the mark most likely reached the
            # replica (that takes a millisecond), where a retry would find it and skip the
            # action, so it is sent now rather than never.
            log.warning("action mark unconfirmed; sending", extra=self._ids)
        cfg = self.config
        for attempt in range(1, cfg.attempts + 1):
            try:
                await connector.send(self.session, action)
            except OutboundError as exc:
                self.metrics.outbound.labels(
                    platform=message.platform, kind=action.kind, result="error"
                ).inc()
                if exc.retryable and attempt < cfg.attempts:
                    await asyncio.sleep(cfg.backoff_s * 2 ** (attempt - 1))
                    continue
                await self.redis.hset(state_key, str(index), f"failed:{exc.status}")
                case_id = await self.handover.cases.case_of_message(
                    message.platform, message.dedupe_id
                )
                if case_id is not None:  # staff see it where they work
                    await self.handover.cases.note(
                        case_id,
                        "triagebot",
                        f"Could not {action.kind} on {message.platform} "
                        f"(status {exc.status}, {attempt} attempts).",
                    )
                log.warning(
                    "outbound action failed",
                    extra={
                        "platform": message.platform,
                        "message_id": message.message_id,
                        "kind": str(action.kind),
                        "status": exc.status,
                        "attempts": attempt,
                    },
                )
                return
            self.metrics.outbound.labels(
                platform=message.platform, kind=action.kind, result="sent"
            ).inc()
            await self.redis.hset(state_key, str(index), "sent")
            return

    async def _ack(self, entry_id: bytes) -> None:
        # Acknowledge and delete: the encrypted receipt is not kept once handled.
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(keys.INBOX, keys.INBOX_GROUP, entry_id)
            pipe.xdel(keys.INBOX, entry_id)
            await pipe.execute()
        self._held.discard(entry_id)


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
    # Unique per start: two live instances never share a consumer name, not even
    # containers with one hostname and pid 1, nor two apps in one process.
    instance = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    workers = [
        Worker(
            redis=app[REDIS],
            cipher=app[CIPHER],
            connectors=connectors,
            session=app[HTTP],
            pool=app[NLP_POOL],
            metrics=app[METRICS],
            handover=app[HANDOVER],
            replication=app[REPLICATION],
            config=WorkerConfig(
                name=f"{instance}:{n}",
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
