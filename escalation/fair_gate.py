"""A limit on how much slow work runs at once, shared fairly between the callers' queues.

Password hashing is the case in point: argon2 takes tens of milliseconds and 64 MiB a
hash, so only a few run at a time. With one first-come queue a burst from one address
would make everyone else's login wait behind all of it; here each address has its own
queue and a freed slot goes to the next queue in turn, so a login from another address
waits for about one hash per busy address, however long the burst's queue is.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class FairGate:
    """At most `slots` holders at once; waiters are served round-robin by queue name."""

    def __init__(self, slots: int) -> None:
        self._free = slots
        # Queue names in turn order (a dict keeps insertion order: served ones go last).
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}

    @asynccontextmanager
    async def hold(self, queue: str) -> AsyncIterator[None]:
        """Wait for a slot in `queue`'s turn, and hold it for the block."""
        if self._free > 0 and not self._waiting:
            self._free -= 1
        else:
            granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(queue, deque()).append(granted)
            try:
                await granted
            except asyncio.CancelledError:
                # Granted just as it was cancelled: pass the slot on instead of losing it.
                if granted.done() and not granted.cancelled():
                    self._release()
                raise
        try:
            yield
        finally:
            self._release()

    def waiting(self) -> int:
        """How many callers wait for a slot."""
        return sum(1 for queue in self._waiting.values() for f in queue if not f.done())

    def _release(self) -> None:
        while self._waiting:
            name, queue = next(iter(self._waiting.items()))
            granted = queue.popleft()
            del self._waiting[name]
            if queue:
                self._waiting[name] = queue  # to the back of the turn order
            if not granted.done():  # a cancelled waiter is skipped
                granted.set_result(None)
                return
        self._free += 1
