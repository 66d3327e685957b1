"""Outbound actions: each sent at most once, looked for before any resend, in order within
a message, a few at a time per platform account, and held back while a platform throttles.

A call that times out (or whose connection drops once the request is out) may have been
carried out: it is marked uncertain, and before it is sent again the connector reads back
whether it was (`Connector.confirm`). Where the platform cannot tell, the action kind
decides (`resend_unconfirmed`). Actions of different messages run side by side, so one
slow call holds up only the actions after it in its own message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiohttp import ClientSession
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.connectors.base import (
    ActionKind,
    Connector,
    InboundMessage,
    OutboundAction,
    OutboundError,
)
from bot.metrics import Metrics
from bot.replication import NotReplicated, Replication
from escalation import keys
from escalation.cases import CaseStore

log = logging.getLogger("triagebot.outbox")
# A platform asking for a longer pause than this is retried after this (and again later).
MAX_PAUSE_S = 60.0


def resend_unconfirmed(action: OutboundAction) -> bool:
    """Whether an action that may have gone out, and that the platform cannot confirm,
    is sent again.

    A hide is idempotent, and Meta takes one private reply per comment (a second is
    refused, not delivered): both are resent. A second public reply or message is worse
    for the person than a late or missing one, except the emergency safety reply: a
    missing one is worse than two.
    """
    if action.kind in (ActionKind.HIDE, ActionKind.PRIVATE_REPLY):
        return True
    return action.safety


@dataclass(slots=True)
class _Gate:
    """One platform account: how many calls may be in flight, and a throttle's end."""

    slots: asyncio.Semaphore
    resume_at: float = 0.0  # event-loop time before which no call goes out

    async def ready(self) -> None:
        wait = self.resume_at - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)
            await self.ready()  # the pause may have been extended meanwhile

    def pause(self, seconds: float) -> None:
        until = asyncio.get_running_loop().time() + min(seconds, MAX_PAUSE_S)
        self.resume_at = max(self.resume_at, until)


@dataclass(slots=True)
class Outbox:
    """Sends planned actions for every worker of a process; shared, so that the bound on
    calls per account holds across workers."""

    redis: Redis
    session: ClientSession
    metrics: Metrics
    cases: CaseStore
    concurrency: int = 4
    attempts: int = 5
    backoff_s: float = 0.5
    # How long after an unanswered call it is read back: a platform slow to answer may be
    # slow to carry the call out too, and a read-back too early would resend it.
    settle_s: float = 0.0
    # Under Sentinel, a platform call goes out only once its "about to send" mark is on
    # a replica (TRIAGE_REDIS_WAIT_REPLICAS): a failover that lost it could send twice.
    replication: Replication = field(default_factory=Replication)
    _gates: dict[tuple[str, str], _Gate] = field(default_factory=dict)

    def _gate(self, action: OutboundAction) -> _Gate:
        key = (action.platform, action.account_id or "")
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = _Gate(asyncio.Semaphore(self.concurrency))
        return gate

    async def deliver(
        self, connector: Connector, message: InboundMessage, actions: Sequence[OutboundAction]
    ) -> None:
        """Send a message's actions one after another, in the planned order."""
        for index, action in enumerate(actions):
            await self._act(connector, message, index, action)

    async def _act(
        self, connector: Connector, message: InboundMessage, index: int, action: OutboundAction
    ) -> None:
        """Send one action at most once, retrying 429/5xx with exponential backoff (or the
        wait the platform asks for), and looking before resending an unanswered call."""
        state_key = keys.actions(message.platform, message.dedupe_id)
        unanswered = await self._mark(state_key, str(index))
        if unanswered is None:
            return  # sent, or given up on, by an earlier attempt: never twice
        try:
            # The mark on a replica before the call: a primary demoted in a manual failover
            # takes writes until Sentinel reconfigures it, and the promoted one never sees them.
            await self.replication.confirm(self.redis)
        except NotReplicated:
            await self.redis.hdel(state_key, str(index))  # not sent: free to try again
            raise
        except RedisError:
            # Cut off during the WAIT (the primary died): the mark most likely reached the
            # replica (that takes a millisecond), where a retry would find it and skip the
            # action, so it is sent now rather than never.
            log.warning("action mark unconfirmed; sending", extra={"platform": message.platform})
        gate = self._gate(action)
        attempt = 0
        error: OutboundError | None = None
        while True:
            if unanswered:
                async with gate.slots:
                    await gate.ready()
                    done = await connector.confirm(self.session, action)
                if done:
                    self._count(message, action, "confirmed")
                    await self.redis.hset(state_key, str(index), "sent")
                    return
                if done is None and not resend_unconfirmed(action):
                    await self._give_up(
                        message,
                        index=index,
                        action=action,
                        error=None,
                        attempts=attempt,
                        unanswered=True,
                    )
                    return
                if attempt >= self.attempts:
                    await self._give_up(
                        message,
                        index=index,
                        action=action,
                        error=error,
                        attempts=attempt,
                        unanswered=done is None,
                    )
                    return
            attempt += 1
            error = None
            async with gate.slots:
                await gate.ready()
                try:
                    await connector.send(self.session, action)
                except OutboundError as exc:
                    error = exc
            if error is None:
                self._count(message, action, "sent")
                await self.redis.hset(state_key, str(index), "sent")
                return
            self._count(message, action, "unanswered" if error.uncertain else "error")
            if error.uncertain and not unanswered:
                unanswered = True  # from here on it may be done: look before resending
                await self.redis.hset(state_key, str(index), "uncertain")
            if error.retry_after_s is not None:
                gate.pause(error.retry_after_s)  # the whole account waits, not only this call
            if not error.retryable or (attempt >= self.attempts and not unanswered):
                await self._give_up(
                    message,
                    index=index,
                    action=action,
                    error=error,
                    attempts=attempt,
                    unanswered=unanswered,
                )
                return
            asked = min(error.retry_after_s or 0.0, MAX_PAUSE_S)
            settle = self.settle_s if unanswered else 0.0
            await asyncio.sleep(max(self.backoff_s * 2 ** (attempt - 1), asked, settle))

    async def _mark(self, state_key: str, field: str) -> bool | None:
        """Mark an action as about to be sent. False: first time; True: an earlier attempt
        was cut off after marking it (its worker or its Redis died), so the call may have
        gone out and is read back before any resend; None: done with already."""
        first = bool(await self.redis.hsetnx(state_key, field, "pending"))
        if not first:
            mark = await self.redis.hget(state_key, field)
            if mark not in (b"pending", b"uncertain", "pending", "uncertain"):
                return None
        await self.redis.expire(state_key, keys.DEDUPE_TTL_S)
        return not first

    def _count(self, message: InboundMessage, action: OutboundAction, result: str) -> None:
        self.metrics.outbound.labels(
            platform=message.platform, kind=action.kind, result=result
        ).inc()

    async def _give_up(
        self,
        message: InboundMessage,
        *,
        index: int,
        action: OutboundAction,
        error: OutboundError | None,
        attempts: int,
        unanswered: bool,
    ) -> None:
        """Record the action as failed (or unconfirmed) and tell staff on the case."""
        status = error.status if error is not None else None
        state = f"failed:{status}" if error is not None else "unconfirmed"
        await self.redis.hset(keys.actions(message.platform, message.dedupe_id), str(index), state)
        if error is None:
            note = (
                f"Sent {action.kind} on {message.platform} without an answer, and the "
                "platform could not confirm it: not sent again, to avoid a duplicate. "
                "Please check it there."
            )
        else:
            note = (
                f"Could not {action.kind} on {message.platform} "
                f"(status {status}, {attempts} attempts)."
            )
            if unanswered:
                note += " An earlier attempt got no answer and may have gone out."
        case_id = await self.cases.case_of_message(message.platform, message.dedupe_id)
        if case_id is not None:  # staff see it where they work
            await self.cases.note(case_id, "triagebot", note)
        log.warning(
            "outbound action failed" if error is not None else "outbound action unconfirmed",
            extra={
                "platform": message.platform,
                "message_id": message.message_id,
                "kind": str(action.kind),
                "status": status,
                "attempts": attempts,
                "unanswered": unanswered,
            },
        )
