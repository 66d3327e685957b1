"""A real Redis Sentinel set for tests: a primary, a replica and three sentinels, each a
redis-server process on a free port with its files in one folder, all stopped (SIGKILL
after a bound) when the set is closed."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from redis import Redis

from bot.embedded_redis import free_port, redis_server_binary

SERVICE = "mymaster"
PASSWORD = "sentinel-set-password"
STOP_S = 5.0


@dataclass
class Node:
    """One redis-server process (a data node or a sentinel) and how to start it again."""

    name: str
    port: int
    args: list[str]
    process: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> None:
        # The binary comes from PATH or our own dependency; the arguments are ours.
        self.process = subprocess.Popen(
            [*self.args, *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_S)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_S)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None


def wait_until_answers(port: int, password: str | None, timeout_s: float = 10.0) -> None:
    """Until the server on `port` answers PING (bounded)."""
    deadline = time.monotonic() + timeout_s
    with Redis(port=port, password=password, socket_timeout=0.5) as client:
        while True:
            try:
                if client.ping():
                    return
            except Exception:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)


@dataclass
class SentinelSet:
    """Primary, replica and three sentinels under `folder`; `url` names them."""

    folder: Path
    primary: Node = field(init=False)
    replica: Node = field(init=False)
    sentinels: list[Node] = field(init=False)

    def __post_init__(self) -> None:
        binary = redis_server_binary()
        self.folder.mkdir(parents=True, exist_ok=True)

        def data_node(name: str) -> Node:
            port = free_port()
            folder = self.folder / name
            folder.mkdir(exist_ok=True)
            args = [
                binary,
                "--bind", "127.0.0.1",
                "--port", str(port),
                "--dir", str(folder),
                "--appendonly", "yes",
                "--save", "",
                "--requirepass", PASSWORD,
                "--masterauth", PASSWORD,  # a demoted primary must reach the new one
                "--repl-diskless-sync-delay", "0",  # as docker/redis/redis.conf
                "--loglevel", "warning",
                "--logfile", str(folder / "redis.log"),
            ]  # fmt: skip
            return Node(name, port, args)

        self.primary, self.replica = data_node("primary"), data_node("replica")
        self.sentinels = []
        for n in range(3):
            port = free_port()
            conf = self.folder / f"sentinel-{n}.conf"  # a sentinel rewrites its config file
            conf.write_text(
                sentinel_conf(port, "127.0.0.1", self.primary.port, PASSWORD, self.folder)
            )
            self.sentinels.append(Node(f"sentinel-{n}", port, [binary, str(conf), "--sentinel"]))

    @property
    def url(self) -> str:
        """The redis+sentinel:// URL of the set."""
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://:{quote(PASSWORD)}@{hosts}/{SERVICE}/0"

    def start(self, timeout_s: float = 15.0) -> None:
        """Start every process; return once the sentinels know the primary and its replica."""
        self.primary.start()
        wait_until_answers(self.primary.port, PASSWORD)
        self.replica.start("--replicaof", "127.0.0.1", str(self.primary.port))
        wait_until_answers(self.replica.port, PASSWORD)
        for sentinel in self.sentinels:
            sentinel.start()
        deadline = time.monotonic() + timeout_s
        for sentinel in self.sentinels:
            wait_until_answers(sentinel.port, None)
            with Redis(port=sentinel.port, socket_timeout=0.5) as client:
                while True:  # a failover needs the sentinels to know the replica, in sync
                    replicas = client.sentinel_slaves(SERVICE)
                    peers = client.sentinel_master(SERVICE).get("num-other-sentinels", 0)
                    if any(r.get("master-link-status") == "ok" for r in replicas) and peers >= 2:
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError("the sentinels did not find the replica and peers")
                    time.sleep(0.1)

    def primary_port(self) -> int:
        """The primary's port as the first sentinel that answers names it."""
        for sentinel in self.sentinels:
            try:
                with Redis(port=sentinel.port, socket_timeout=0.5) as client:
                    _, port = client.sentinel_get_master_addr_by_name(SERVICE)
                    return int(port)
            except Exception:
                continue
        raise ConnectionError("no sentinel answers")

    def wait_for_new_primary(self, old_port: int, timeout_s: float = 20.0) -> int:
        """Until the sentinels name a primary other than `old_port` (bounded); its port."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            port = self.primary_port()
            if port != old_port:
                return port
            time.sleep(0.1)
        raise TimeoutError("no failover within the bound")

    def node_on(self, port: int) -> Node:
        return next(n for n in (self.primary, self.replica) if n.port == port)

    def data_client(self, port: int) -> Redis:
        """A direct client of one data node."""
        return Redis(port=port, password=PASSWORD, socket_timeout=2)

    def close(self) -> None:
        for node in [*self.sentinels, self.replica, self.primary]:
            node.stop()

    def __enter__(self) -> SentinelSet:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def sentinel_conf(
    port: int, primary_host: str, primary_port: int, password: str, folder: Path | None = None
) -> str:
    """A sentinel's configuration: quorum 2 of 3, a primary down after 1 s of silence."""
    lines = [
        f"port {port}",
        "bind 127.0.0.1",
        *([f"dir {folder}"] if folder else []),
        f"sentinel monitor {SERVICE} {primary_host} {primary_port} 2",
        f"sentinel auth-pass {SERVICE} {password}",
        f"sentinel down-after-milliseconds {SERVICE} 1000",
        f"sentinel failover-timeout {SERVICE} 5000",
        f"sentinel parallel-syncs {SERVICE} 1",
        "loglevel warning",
        *([f"logfile {folder / f'sentinel-{port}.log'}"] if folder else []),
    ]
    return "\n".join(lines) + "\n"
