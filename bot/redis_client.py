"""The one place a Redis client is made: a plain `redis://` URL, or a Sentinel set.

A Sentinel URL names the sentinels and the monitored primary's name:

    redis+sentinel://[[user]:password@]host1:26379,host2:26379,host3:26379/mymaster[/db]
        [?sentinel_password=...]

The password authenticates to the primary and replicas; sentinels that require their own
(`requirepass` in sentinel.conf) take `sentinel_password`. The port defaults to 26379.

redis-py's `Sentinel.master_for` asks the sentinels for the primary before each new
connection. After a failover, a command on a connection to the demoted primary gets
READONLY, which redis-py turns into a ConnectionError after dropping the connection, and
Sentinel itself kills the demoted primary's client connections; the next command asks the
sentinels again and reaches the new primary. Until one is elected, connecting raises
MasterNotFoundError (a ConnectionError). Either way callers see a ConnectionError: the
API answers 503 with Retry-After and workers retry (bot.outages).

redis-py moves on an error only. After a manual failover (SENTINEL FAILOVER, an upgrade)
the old primary goes on answering, as a primary, until Sentinel reconfigures it some
seconds later, and writes made there then are lost. `follow_primary` asks the sentinels
every second and moves every connection as soon as they name another primary.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

log = logging.getLogger("triagebot.redis")
SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379
# host, host:port, [v6] or [v6]:port
_ADDRESS = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]+))(?::(?P<port>\d+))?$")


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    """What a `redis+sentinel://` URL names (its repr hides the passwords)."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None

    def __repr__(self) -> str:
        hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
        return f"SentinelTarget({hosts}/{self.service}/{self.db})"


def parse_sentinel_url(url: str) -> SentinelTarget:
    """The sentinels, service name and db of a `redis+sentinel://` URL (ValueError if bad)."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        raise ValueError(f"not a {SENTINEL_SCHEME}:// URL")
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    username = password = None
    if userinfo:
        user, _, secret = userinfo.partition(":")
        username, password = unquote(user) or None, unquote(secret) or None
    sentinels: list[tuple[str, int]] = []
    for item in hostlist.split(","):
        address = _ADDRESS.match(item.strip())
        if address is None:
            raise ValueError("a sentinel address is not host[:port]")
        port = address["port"]
        sentinels.append((address["v6"] or address["host"], int(port) if port else SENTINEL_PORT))
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise ValueError("the path must be /<service name>[/<db>]")
    if len(path) == 2 and not path[1].isdigit():
        raise ValueError("the db must be a number")
    query = parse_qs(parts.query)
    sentinel_password = query.get("sentinel_password", [None])[0]
    return SentinelTarget(
        sentinels=tuple(sentinels),
        service=unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        username=username,
        password=password,
        sentinel_password=sentinel_password,
    )


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool that, like the plain one, queues callers under a burst."""


class _SentinelRedis(Redis):
    """A client of the primary that also closes its connections to the sentinels."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        pool = self.connection_pool
        if self.auto_close_connection_pool and isinstance(pool, SentinelConnectionPool):
            await pool.sentinel_manager.aclose()


def open_redis(
    url: str,
    *,
    socket_timeout_s: float | None = None,
    connect_timeout_s: float | None = None,
    max_connections: int = 64,
    pool_timeout_s: float = 3.0,
) -> Redis:
    """A client for `url` (redis://, rediss://, unix:// or redis+sentinel://); its
    `aclose()` closes everything it opened. Nothing connects until the first command."""
    timeouts: dict[str, Any] = {
        "socket_timeout": socket_timeout_s,
        "socket_connect_timeout": connect_timeout_s,
    }
    if not url.startswith(f"{SENTINEL_SCHEME}://"):
        # A blocking pool queues callers under a burst instead of failing them.
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=pool_timeout_s, **timeouts
        )
        return Redis.from_pool(pool)
    target = parse_sentinel_url(url)
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(target.sentinels),
        sentinel_kwargs={**timeouts, "password": target.sentinel_password},
    )
    client: Redis = sentinel.master_for(
        target.service,
        redis_class=_SentinelRedis,
        connection_pool_class=_BlockingSentinelPool,
        db=target.db,
        username=target.username,
        password=target.password,
        max_connections=max_connections,
        timeout=pool_timeout_s,
        # A new connection is PINGed: one to a primary that is going away fails at once.
        check_connection=True,
        **timeouts,
    )
    return client


async def follow_primary(client: Redis, every_s: float = 1.0) -> None:
    """Forever, for a Sentinel client: when the sentinels name a new primary, close the
    idle connections to the old one and have those in use reconnect once released. A
    client of one Redis returns at once."""
    pool = client.connection_pool
    if not isinstance(pool, SentinelConnectionPool):
        return
    while True:
        before = pool.master_address
        try:
            # Disconnects the idle connections itself when the address changed.
            now = await pool.get_master_address()  # type: ignore[no-untyped-call]
        except asyncio.CancelledError:
            raise
        except Exception:  # no sentinel answers, no primary yet: commands say so too
            now = before
        if before is not None and now != before:
            await pool.update_active_connections_for_reconnect()  # type: ignore[no-untyped-call]
            log.warning("redis primary moved; connections follow it")
        await asyncio.sleep(every_s)
