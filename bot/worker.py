"""Triage workers: consume receipts at least once, decide once, act at most once.

Each receipt is read through a Redis Streams consumer group. A worker that dies leaves
its receipts pending; after the lease any worker reclaims them (XAUTOCLAIM). The first
Decision stored for a message wins, and every outbound action is marked before it is
sent, so a redelivery or a reclaim never produces a second public reply.

A receipt is acknowledged once its message's actions are done (bot/outbox.py). Those run
in a task per message, so a worker reads on while a slow platform call is pending, and
the leases of the receipts it holds are renewed meanwhile, so no other worker takes them.
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
from functools import partial
from typing import Any, cast

from aiohttp import web
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
    FetchesText,
    InboundMessage,
    OutboundError,
)
from bot.intake import open_payload
from bot.metrics import Metrics
from bot.nlp_pool import NlpPool
from bot.outages import Episodes, storage_failure
from bot.outbox import Outbox
from bot.replication import NotReplicated
from bot.shutdown import ended, stop_tasks, worker_drain_s
from bot.triage import Triage, Triaged
from escalation import keys
from escalation.crypto import Cipher, CryptoError, ForeignKeyError
from escalation.handover import Handover
from nlu.models import Decision

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
    # Messages whose actions may be under way at once; past it the worker reads no more.
    in_flight: int = 64


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
        outbox: Outbox,
        pool: NlpPool,
        metrics: Metrics,
        config: WorkerConfig,
        handover: Handover,
    ) -> None:
        self.redis, self.cipher = redis, cipher
        self.connectors, self.outbox, self.pool = connectors, outbox, pool
        self.metrics, self.config, self.handover = metrics, config, handover
        self.triage = Triage(redis, handover, metrics, pool.triage_each, self._press)
        # Receipts read and not yet acknowledged: handed back if the worker is cancelled.
        self._held: set[bytes] = set()
        # One task per message whose actions are under way.
        self._acting: set[asyncio.Task[None]] = set()
        self._acting_ids: set[bytes] = set()  # their receipts
        self._renewed_at = 0.0
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
        """Work until `stop` is set, then let the actions under way finish; errors are
        logged and retried, never fatal. Cancelled, it hands back what it holds."""
        await self.ensure_group()
        try:
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
                        with contextlib.suppress(RedisError):  # else the next round tries
                            await self.ensure_group()
                        await asyncio.sleep(0.1)
                        continue
                    self._failed(exc)
                    await asyncio.sleep(1)
                except Exception:
                    log.exception("worker step failed", extra={"worker": self.config.name})
                    await asyncio.sleep(1)
            while self._acting:  # the caller bounds this wait (worker_drain_s)
                await asyncio.wait(set(self._acting), timeout=self._renew_every_s())
                with contextlib.suppress(RedisError):  # the lease still runs meanwhile
                    await self._renew_leases()
        except asyncio.CancelledError:
            for task in self._acting:
                task.cancel()
            if self._acting:
                await asyncio.wait(set(self._acting), timeout=HAND_BACK_S)
            await self.hand_back()
            raise

    def _failed(self, exc: RedisError) -> None:
        if storage_failure(exc) is None:
            log.error("worker step failed", exc_info=exc, extra={"worker": self.config.name})
        else:  # an outage: one line for it, not one a second
            self._outages.occurred(
                type(exc).__name__,
                "worker waits for redis (logged once an episode)",
                worker=self.config.name,
            )

    async def step(self) -> int:
        """Reclaim expired leases, read new receipts, triage them and start their actions;
        returns how many were started."""
        cfg = self.config
        await self._renew_leases()
        room = min(cfg.batch, cfg.in_flight - len(self._acting))
        if room <= 0:  # as many messages under way as allowed: wait for one to finish
            await asyncio.wait(
                set(self._acting),
                timeout=self._renew_every_s(),
                return_when=asyncio.FIRST_COMPLETED,
            )
            return 0
        if time.monotonic() - self._forgotten_at >= FORGET_EVERY_S:
            await self.forget_gone_consumers()
        claimed = await self.redis.xautoclaim(
            keys.INBOX, keys.INBOX_GROUP, cfg.name, cfg.lease_ms, "0-0", count=room
        )
        # Our own receipts under way are renewed, never expired; skipped all the same.
        entries = [e for e in claimed[1] if e[0] not in self._held]
        if len(entries) < room:
            fresh = await self.redis.xreadgroup(
                keys.INBOX_GROUP,
                cfg.name,
                {keys.INBOX: ">"},
                count=room - len(entries),
                block=None if entries else cfg.block_ms,
            )
            streams = cast(list[tuple[bytes, list[_Entry]]], fresh or [])
            for _, stream_entries in streams:
                entries.extend(stream_entries)
        batch = {entry_id for entry_id, _ in entries}
        self._held.update(batch)
        receipts = []
        try:
            for entry in entries:
                receipt = await self._open(entry)
                if receipt is not None:
                    receipts.append(receipt)
            if receipts:
                await self._process(receipts)
        except Exception:
            # Redis lost mid-batch (a failover): what of it has no actions under way is no
            # longer renewed as ours, so any worker, this one too, reclaims it after the lease.
            self._held.difference_update(batch - self._acting_ids)
            raise
        return len(receipts)

    async def acted(self) -> None:
        """Wait until the actions of every message started so far are done."""
        while self._acting:
            await asyncio.wait(set(self._acting))

    def _renew_every_s(self) -> float:
        return self.config.lease_ms / 3000

    async def _renew_leases(self) -> None:
        """Reset the idle time of the receipts still held (XCLAIM to ourselves), so a slow
        platform call does not let another worker take them over as abandoned."""
        loop = asyncio.get_running_loop()
        held: list[Any] = sorted(self._held)
        if not held or loop.time() - self._renewed_at < self._renew_every_s():
            return
        self._renewed_at = loop.time()
        await self.redis.xclaim(
            keys.INBOX, keys.INBOX_GROUP, self.config.name, 0, held, justid=True
        )

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

    async def _press(self, message_id: str, button: str, title: str) -> Decision | None:
        # Off the loop: reading the title's language is a (short) lingua pass.
        engine = self.pool.engine
        return await asyncio.to_thread(engine.answer_button, message_id, button, title)

    async def _fetch(self, receipts: Sequence[_Receipt]) -> list[_Receipt]:
        """Receipts of messages that came in as ids only, with their text fetched now.

        One the platform cannot answer now is left pending for a later try; one that is
        gone, or has no text, is acknowledged and counted as ignored."""
        ready: list[_Receipt] = []
        for receipt in receipts:
            message = receipt.message
            connector = self.connectors.get(message.platform)
            if not message.fetch or not isinstance(connector, FetchesText):
                ready.append(receipt)
                continue
            try:
                found = await connector.fetch_text(self.outbox.session, message)
            except OutboundError as exc:
                if exc.retryable:
                    self._held.discard(receipt.entry_id)  # reclaimed after the lease
                    continue
                found = None
            if found is None:
                self.metrics.webhook_items_ignored.labels(
                    platform=message.platform, kind="fetch_empty"
                ).inc()
                log.info(
                    "fetched message has no text",
                    extra={"platform": message.platform, "message_id": message.message_id},
                )
                await self._ack(receipt.entry_id)
                continue
            ready.append(_Receipt(receipt.entry_id, found))
        return ready

    async def _process(self, receipts: Sequence[_Receipt]) -> None:
        receipts = await self._fetch(receipts)
        if not receipts:
            return
        triaged = await self.triage.run([r.message for r in receipts])
        for receipt, done in zip(receipts, triaged, strict=True):
            if done is None:
                # The NLP died on each try of it: left pending, it is reclaimed after the
                # lease and tried again, and the others in the batch go on meanwhile.
                self._held.discard(receipt.entry_id)
                continue
            task = asyncio.create_task(self._act(receipt, done))
            self._acting.add(task)
            self._acting_ids.add(receipt.entry_id)
            task.add_done_callback(self._acting.discard)
            task.add_done_callback(partial(_forget, self._acting_ids, receipt.entry_id))

    async def _act(self, receipt: _Receipt, done: Triaged) -> None:
        """Send one message's actions in order, then acknowledge its receipt."""
        message, decision = done.message, done.decision
        connector = self.connectors.get(message.platform)
        try:
            # In a conversation staff own, the bot stays quiet except for safety replies.
            if connector is not None and (not done.routed.quiet or decision.action == "emergency"):
                planned = connector.plan(message, decision, done.routed.invite)
                if done.unchanged:
                    # An edit that changes nothing triaged says nothing new; a hide holds.
                    planned = [a for a in planned if a.kind is ActionKind.HIDE]
                await self.outbox.deliver(connector, message, planned)
            await self._ack(receipt.entry_id)
        except asyncio.CancelledError:
            raise
        except NotReplicated:
            # Left pending, tried again after the lease (what was sent stays marked):
            # sending with a mark no replica holds could send twice.
            self._held.discard(receipt.entry_id)
            self._outages.occurred(
                "action_mark_not_replicated",
                "action marks not yet on a replica; actions wait (logged once an episode)",
                worker=self.config.name,
            )
        except Exception as exc:
            # Left pending and no longer renewed: reclaimed after the lease, where the
            # actions marked already are not sent again.
            self._held.discard(receipt.entry_id)
            if isinstance(exc, RedisError):
                self._failed(exc)
            else:
                log.exception(
                    "acting on a message failed",
                    extra={"worker": self.config.name, "message_id": message.message_id},
                )

    async def _ack(self, entry_id: bytes) -> None:
        # Acknowledge and delete: the encrypted receipt is not kept once handled.
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(keys.INBOX, keys.INBOX_GROUP, entry_id)
            pipe.xdel(keys.INBOX, entry_id)
            await pipe.execute()
        self._held.discard(entry_id)


def _forget(ids: set[bytes], entry_id: bytes, _: object) -> None:
    ids.discard(entry_id)


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
    # One outbox for all the process's workers: the bound on calls per account is theirs.
    outbox = Outbox(
        redis=app[REDIS],
        session=app[HTTP],
        metrics=app[METRICS],
        cases=app[HANDOVER].cases,
        concurrency=settings.action_concurrency,
        attempts=settings.outbound_attempts,
        settle_s=settings.platform_timeout_s,
        replication=app[REPLICATION],
    )
    workers = [
        Worker(
            redis=app[REDIS],
            cipher=app[CIPHER],
            connectors=connectors,
            outbox=outbox,
            pool=app[NLP_POOL],
            metrics=app[METRICS],
            handover=app[HANDOVER],
            config=WorkerConfig(
                name=f"{instance}:{n}",
                lease_ms=int(settings.worker_lease_s * 1000),
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
