"""The `ha` profile of docker/compose.yml: its services, its bots' Sentinel URL, and its
Redis and Sentinel configuration files really started (docker/redis/start.sh, hostnames
and ports swapped for local ones) with a WAIT that a replica answers."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from redis import Redis

from bot.embedded_redis import free_port
from bot.redis_client import open_redis, parse_sentinel_url
from bot.replication import Replication
from bot.settings import Settings
from tests.sentinel_set import Node, wait_until_answers

DOCKER = Path(__file__).resolve().parents[2] / "docker"
PASSWORD = "composetest0123"
HA = {"redis-primary", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yml").read_text())
    return loaded


def test_the_ha_profile_has_two_bots_a_primary_a_replica_and_three_sentinels() -> None:
    services = compose()["services"]
    in_ha = {name for name, spec in services.items() if "ha" in spec.get("profiles", [])}
    assert in_ha == HA | {"ha-bot-a", "ha-bot-b"}
    for bot in ("ha-bot-a", "ha-bot-b"):
        env = services[bot]["environment"]
        url = env["TRIAGE_REDIS_URL"].replace(
            "${TRIAGE_REDIS_PASSWORD:?set TRIAGE_REDIS_PASSWORD}", PASSWORD
        )
        target = parse_sentinel_url(url)
        assert target.sentinels == tuple((f"sentinel-{n}", 26379) for n in (1, 2, 3))
        assert (target.service, target.password) == ("mymaster", PASSWORD)
        settings = Settings(
            _env_file=None,
            redis_url=SecretStr(url),
            redis_wait_replicas=int(env["TRIAGE_REDIS_WAIT_REPLICAS"]),
            redis_wait_timeout_ms=int(env["TRIAGE_REDIS_WAIT_TIMEOUT_MS"]),
        )
        assert settings.redis_wait_replicas == 1


def local_conf(folder: Path, name: str, swaps: dict[str, str]) -> Path:
    """A copy of a docker/redis config file with the container's names and ports swapped
    for local ones; every other line is the file's own."""
    text = (DOCKER / "redis" / name).read_text()
    for container, local in swaps.items():
        assert container in text, container
        text = text.replace(container, local)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder


def started(node: Node, role: str, conf_dir: Path, data: Path, **env: str) -> Node:
    data.mkdir(parents=True, exist_ok=True)
    node.args = ["sh", str(DOCKER / "redis" / "start.sh"), role]
    environment = {
        **os.environ,
        "TRIAGE_REDIS_PASSWORD": PASSWORD,
        "REDIS_CONF_DIR": str(conf_dir),
        "REDIS_DATA_DIR": str(data),
        **env,
    }
    node.process = subprocess.Popen(
        node.args, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return node


@pytest.fixture
def ha_set(tmp_path: Path) -> Iterator[str]:
    """The profile's five Redis processes, local; yields the bots' URL for them."""
    nodes: list[Node] = []
    primary_port, replica_port = free_port(), free_port()
    try:
        for role, port in (("primary", primary_port), ("replica", replica_port)):
            conf = local_conf(
                tmp_path / f"conf-{role}",
                "redis.conf",
                {
                    "port 6379": f"port {port}",
                    "bind * -::*": "bind 127.0.0.1",
                    "dir /data": f"dir {tmp_path / role}",
                },
            )
            nodes.append(
                started(
                    Node(role, port, []),
                    role,
                    conf,
                    tmp_path / role,
                    REDIS_ANNOUNCE="127.0.0.1",
                    REDIS_PRIMARY=f"127.0.0.1 {primary_port}",
                )
            )
            wait_until_answers(port, PASSWORD)
        sentinel_ports = [free_port() for _ in range(3)]
        for n, port in enumerate(sentinel_ports):
            conf = local_conf(
                tmp_path / f"conf-sentinel-{n}",
                "sentinel.conf",
                {
                    "port 26379": f"port {port}\nbind 127.0.0.1",
                    "redis-primary 6379": f"127.0.0.1 {primary_port}",
                    "dir /data": f"dir {tmp_path / f'sentinel-{n}'}",
                },
            )
            nodes.append(
                started(Node(f"s{n}", port, []), "sentinel", conf, tmp_path / f"sentinel-{n}")
            )
            wait_until_answers(port, None)
        deadline = time.monotonic() + 15
        with Redis(port=sentinel_ports[0], socket_timeout=1) as sentinel:
            while True:  # the sentinels found the replica and each other
                master = sentinel.sentinel_master("mymaster")
                if master["num-slaves"] >= 1 and master["num-other-sentinels"] >= 2:
                    break
                assert time.monotonic() < deadline, master
                time.sleep(0.1)
        with Redis(port=primary_port, password=PASSWORD, socket_timeout=1) as primary:
            while True:  # writes are refused (NOREPLICAS) until the replica is in sync
                if primary.info("replication").get("min_slaves_good_slaves", 0) >= 1:
                    break
                assert time.monotonic() < deadline, "the replica never got in sync"
                time.sleep(0.1)
        hosts = ",".join(f"127.0.0.1:{p}" for p in sentinel_ports)
        yield f"redis+sentinel://:{PASSWORD}@{hosts}/mymaster/0"
    finally:
        for node in reversed(nodes):
            node.stop()


async def test_the_ha_profiles_redis_files_start_and_a_replica_answers_wait(ha_set: str) -> None:
    redis = open_redis(ha_set, socket_timeout_s=2, connect_timeout_s=1)
    try:
        await redis.set("triage:compose-check", "1")
        assert await Replication(1, 1000).confirm(redis) == 1
        # min-replicas-to-write is on: the primary would refuse writes without its replica.
        assert await redis.config_get("min-replicas-to-write") == {"min-replicas-to-write": "1"}
    finally:
        await redis.aclose()
