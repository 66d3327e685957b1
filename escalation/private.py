"""Private-channel links: an unguessable token that opens one case's secure chat page.

The token (192 random bits) is sent to the person only; Redis keeps its SHA-256 digest,
so reading the database does not yield working links. Failed lookups are counted per
client, and a client that keeps guessing is refused for the rest of the minute.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable

from redis.asyncio import Redis

from escalation import keys

TOKEN_BYTES = 24


# KEYS: an attempts counter. ARGV: its window (s). The attempt's number in the window.
_RESERVE = """
local n = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


async def reserve_attempt(redis: Redis, counter: str, window_s: int) -> int:
    """Count one attempt in one step and return its number in the window.

    Taken before the attempt is checked (a password, a link lookup): a burst sent at once
    is counted as it arrives, so no more than the limit are ever checked.
    """
    return int(await redis.eval(_RESERVE, 1, counter, window_s))


# KEYS: the message's link marker, the new link. ARGV: case id, link ttl.
# The old link's key is read from the marker (one Redis, no cluster: keys may be computed).
_REISSUE = """
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
redis.call('DEL', old)
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[1], KEYS[2], 'EX', ARGV[2])
return 1
"""


# KEYS: an attempts counter. Its count less one, its window unchanged; a counter whose
# window has ended stays gone (a DECR would bring it back without an expiry).
_GIVE_BACK = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
"""


async def give_back_attempt(redis: Redis, counter: str) -> None:
    """Uncount one attempt reserved in `counter` (it succeeded)."""
    await redis.eval(_GIVE_BACK, 1, counter)


class TooManyGuesses(Exception):
    """A client has failed too many lookups this minute."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class PrivateLinks:
    """Issues and resolves the tokens of `/p/{token}` links."""

    def __init__(
        self,
        redis: Redis,
        *,
        ttl_s: int,
        guesses_per_min: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis, self.ttl_s, self.guesses_per_min, self.clock = (
            redis,
            ttl_s,
            guesses_per_min,
            clock,
        )

    async def issue(self, case_id: str) -> str:
        """A new token bound to the case, valid for `ttl_s`."""
        token, (key, ttl) = self.prepare()
        await self.redis.set(key, case_id, ex=ttl)
        return token

    async def reissue(self, channel: str, message_id: str, case_id: str) -> str | None:
        """A new token for the case an API message opened, the message's old link revoked
        in the same step; None when the message opened no case with a remembered link."""
        token, (key, ttl) = self.prepare()
        marker = keys.message_link(channel, message_id)
        done = await self.redis.eval(_REISSUE, 2, marker, key, case_id, ttl)
        return token if done else None

    def prepare(self) -> tuple[str, tuple[str, int]]:
        """A new token and the (key, ttl) under which its case id is to be stored: for
        storing it in the same step as the case it opens."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        return token, (keys.private_link(_digest(token)), self.ttl_s)

    async def case_for(self, token: str, client: str) -> str | None:
        """The case a token opens, or None (unknown or expired); raises TooManyGuesses."""
        window = int(self.clock() // 60)
        # An IP address identifies a person too: only its digest is kept.
        guesses = keys.private_link_guesses(_digest(client)[:16], window)
        # Counted before the lookup and given back when it finds a case: a burst of
        # guesses sent at once gets no more lookups than the limit.
        if await reserve_attempt(self.redis, guesses, 120) > self.guesses_per_min:
            raise TooManyGuesses
        case_id = None
        if 20 <= len(token) <= 64:  # shape check before touching Redis
            found = await self.redis.get(keys.private_link(_digest(token)))
            case_id = found.decode() if isinstance(found, bytes) else found
        if case_id is not None:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.decr(guesses)
                pipe.expire(guesses, 120)  # never a counter without an end
                await pipe.execute()
        return case_id
