"""Acknowledge only what enough replicas hold: WAIT after recording, before answering.

Redis replicates asynchronously, so a primary that fails over loses the writes its
replica had not received yet. WAIT blocks until the replicas have acknowledged every
write the *same connection* made before it; our writes go through a pool, so one
connection writes a probe and then WAITs in one pipeline. The replication stream is
ordered, so a replica that has the probe has every write that completed before it.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from escalation import keys


class NotReplicated(Exception):
    """Fewer replicas than required acknowledged in time: the caller should retry."""


@dataclass(frozen=True, slots=True)
class Replication:
    """How many replicas must hold a write before it is acknowledged, and for how long
    to wait for them."""

    replicas: int = 0
    timeout_ms: int = 500

    async def confirm(self, redis: Redis) -> int:
        """Wait until `replicas` replicas hold every write made so far; returns how many
        did. Raises NotReplicated when fewer did within the timeout. No-op at 0."""
        if self.replicas <= 0:
            return 0
        async with redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.REPLICATION_PROBE, b"1", ex=60)
            pipe.wait(self.replicas, self.timeout_ms)
            _, acknowledged = await pipe.execute()
        if int(acknowledged) < self.replicas:
            raise NotReplicated(f"{acknowledged} of {self.replicas} replicas")
        return int(acknowledged)
