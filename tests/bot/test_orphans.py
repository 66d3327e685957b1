"""SIGKILL a running `triagebot serve`: the processes it started die with it, none is orphaned."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.embedded_redis import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
    return state, int(ppid)


def descendants(root: int) -> set[int]:
    """Every living process below `root`."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = stat[1]
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"  # a zombie has ended, its parent not reaped it


@pytest.mark.parametrize(
    ("processes", "expected"),
    [
        ("1", 1),  # a server and its NLP process
        ("2", 4),  # the supervisor's two servers and their NLP processes
    ],
)
async def test_children_die_with_a_sigkilled_server(
    tmp_path: Path, redis_url: str, processes: str, expected: int
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "TRIAGE_PORT": str(port),
        "TRIAGE_REDIS_URL": redis_url,
        "TRIAGE_DATA_DIR": str(tmp_path),
        "TRIAGE_PROCESSES": processes,
        "TRIAGE_NLP_PROCESSES": "1",
        "TRIAGE_WORKERS": "0",
        "TRIAGE_SHUTDOWN_GRACE_S": "4",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", cwd=ROOT, env=env, stdout=out, stderr=out
        )
    children: set[int] = set()
    try:
        async with (
            asyncio.timeout(100),  # the models load in a few seconds; a slow host gets more
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
        ):
            # Ready once every server process answers, and every NLP process has started.
            while process.returncode is None:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as ready:
                        children = descendants(process.pid)
                        if ready.status == 200 and len(children) >= expected:
                            break
                except (aiohttp.ClientConnectionError, TimeoutError):
                    pass
                await asyncio.sleep(0.2)
        assert process.returncode is None, log.read_text()[-2000:]
        await asyncio.sleep(1)  # the second server may have answered before the first
        children = descendants(process.pid)
        assert len(children) >= expected
        process.send_signal(signal.SIGKILL)
        await process.wait()
        # Bounded: a graceful stop of the servers takes a few seconds, more on a busy host.
        for _ in range(300):
            if not any(alive(pid) for pid in children):
                break
            await asyncio.sleep(0.1)
        orphans = [pid for pid in children if alive(pid)]
        assert orphans == [], log.read_text()[-2000:]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        for pid in children:  # on a failure, leave no orphan behind for the other tests
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
