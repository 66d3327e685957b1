"""Redis outages: which errors mean Redis cannot serve for now, and logging them once an
episode rather than once a request (under an outage every request fails alike)."""

from __future__ import annotations

import logging
import time
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import (
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)
from redis.exceptions import TimeoutError as RedisTimeoutError


def storage_failure(exc: RedisError) -> tuple[str, int] | None:
    """(kind, seconds a client should wait) when Redis cannot serve for now; None for an
    error of ours (a wrong command, a script bug), which is a bug to report in full."""
    # redis-py maps an "OOM ..." reply to OutOfMemoryError; an older Redis wraps one met
    # inside a script in an "ERR Error running script ..." reply that still names it.
    if isinstance(exc, OutOfMemoryError) or (
        isinstance(exc, ResponseError) and "OOM command not allowed" in str(exc)
    ):
        return "redis_out_of_memory", 5
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return "redis_unreachable", 2
    # A failover under way: the primary was demoted (READONLY; redis-py's Sentinel pool
    # turns it into a ConnectionError, a plain URL does not), a blocked read was cut off
    # (UNBLOCKED), a replica has no primary yet (MASTERDOWN), or the primary refuses
    # writes while too few replicas are connected (NOREPLICAS, min-replicas-to-write).
    # Inside a script these come wrapped in "ERR Error running script ...".
    if isinstance(exc, ReadOnlyError | MasterDownError) or (
        isinstance(exc, ResponseError) and any(code in str(exc) for code in _FAILOVER)
    ):
        return "redis_failover", 2
    return None


_FAILOVER = ("READONLY", "UNBLOCKED", "MASTERDOWN", "NOREPLICAS")


class Episodes:
    """Logs a failure that repeats once per episode: an episode ends after `quiet_s`
    without that failure, and the next occurrence is logged again."""

    def __init__(self, logger: logging.Logger, quiet_s: float = 60.0) -> None:
        self.logger, self.quiet_s = logger, quiet_s
        self._last: dict[str, float] = {}

    def occurred(self, kind: str, message: str, **extra: Any) -> bool:
        """Note one occurrence; True when it began an episode (and was logged)."""
        now = time.monotonic()
        last, self._last[kind] = self._last.get(kind), now
        if last is not None and now - last < self.quiet_s:
            return False
        self.logger.warning(message, extra={"kind": kind, **extra})
        return True
