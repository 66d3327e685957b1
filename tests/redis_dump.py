"""Everything a Redis database holds, as bytes: for proving what is never stored in clear."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis


async def every_byte(redis: Redis) -> bytes:
    """Every key name and every value of every type (strings, hashes, lists, sets, sorted
    sets, streams), concatenated."""
    parts: list[bytes] = []

    def add(value: Any) -> None:
        if isinstance(value, bytes):
            parts.append(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                add(item)
        elif isinstance(value, dict):
            for key, item in value.items():
                add(key)
                add(item)
        elif value is not None:
            parts.append(str(value).encode())

    async for key in redis.scan_iter(count=1000):
        add(key)
        kind = (await redis.type(key)).decode()
        if kind == "string":
            add(await redis.get(key))
        elif kind == "hash":
            add(await redis.hgetall(key))
        elif kind == "list":
            add(await redis.lrange(key, 0, -1))
        elif kind == "set":
            add(list(await redis.smembers(key)))
        elif kind == "zset":
            add(await redis.zrange(key, 0, -1, withscores=True))
        elif kind == "stream":
            add(await redis.xrange(key))
        else:
            raise AssertionError(f"unexpected Redis type {kind}")
    return b"\n".join(parts)
