"""A login burst from one address, and how long a real login from another address takes.

Starts `triagebot serve` as a child process (real HTTP, embedded Redis, 127.0.0.1 as its
trusted proxy so that X-Forwarded-For names the client), sends `--guesses` wrong
passwords at once from one address, each for another username, and while they are in
flight a valid login from a second address. Prints the figures (the goal: the valid
login answers in under 2 s):

    .venv/bin/python bench/login_burst.py [--guesses 300] [--per-address 30]

`--per-address` is TRIAGE_LOGIN_FAILURES_PER_ADDRESS: set it above `--guesses` to see the
fair hashing queue alone, with every guess checked.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

PASSWORD = "bench correct horse battery"
STAFF = "benchstaff"
GUESSER, COLLEAGUE = "203.0.113.7", "198.51.100.20"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def login(
    session: aiohttp.ClientSession, base: str, username: str, password: str, client: str
) -> tuple[int, float]:
    """Status and seconds of one `POST /v1/auth/token` sent as `client`."""
    started = time.perf_counter()
    async with session.post(
        f"{base}/v1/auth/token",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": client},
    ) as response:
        await response.read()
        return response.status, time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guesses", type=int, default=300)
    parser.add_argument("--per-address", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3, help="valid logins timed, one a burst")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="triage-bench-")
    env = {
        **os.environ,
        "TRIAGE_PORT": str(free_port()),
        "TRIAGE_DATA_DIR": data_dir,
        "TRIAGE_TRUSTED_PROXIES": "127.0.0.1",
        "TRIAGE_LOGIN_FAILURES_PER_ADDRESS": str(args.per_address),
        "TRIAGE_WORKERS": "0",
        "TRIAGE_LOG_LEVEL": "WARNING",
    }
    exe = Path(sys.executable).with_name("triagebot")
    await asyncio.to_thread(
        subprocess.run,
        [str(exe), "staff", "add", STAFF, "--role", "agent", "--password-stdin"],
        input=f"{PASSWORD}\n".encode(),
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    server = subprocess.Popen([str(exe), "serve"], env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{env['TRIAGE_PORT']}"
    valid: list[float] = []
    statuses: Counter[int] = Counter()
    bursts: list[float] = []
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            for _ in range(600):
                try:
                    async with session.get(f"{base}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                sys.exit("the service did not start")
            alone = [(await login(session, base, STAFF, PASSWORD, COLLEAGUE))[1] for _ in range(3)]
            for round_ in range(args.rounds):
                guesser = f"{GUESSER[:-1]}{round_ + 1}"  # a fresh address: a fresh allowance
                started = time.perf_counter()
                burst = [
                    asyncio.ensure_future(
                        login(session, base, f"guess{round_}x{n}", "wrong password!", guesser)
                    )
                    for n in range(args.guesses)
                ]
                await asyncio.sleep(0.05)  # the burst is queued before the colleague asks
                status, seconds = await login(session, base, STAFF, PASSWORD, COLLEAGUE)
                if status != 200:
                    sys.exit(f"the valid login got {status}")
                valid.append(seconds)
                statuses.update(s for s, _ in await asyncio.gather(*burst))
                bursts.append(time.perf_counter() - started)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)

    print(
        f"{args.rounds} bursts of {args.guesses} wrong passwords from one address, each for "
        f"another username; per-address allowance {args.per_address}; {os.cpu_count()} cores"
    )
    print(
        f"burst answers: {statuses[401]} checked (401), {statuses[429]} refused before "
        f"hashing (429), other {sum(statuses.values()) - statuses[401] - statuses[429]}; "
        f"a burst took {statistics.mean(bursts):.2f} s on average"
    )
    print(f"valid login from another address, alone: median {statistics.median(alone):.3f} s")
    print(
        f"valid login from another address during a burst: median "
        f"{statistics.median(valid):.3f} s, worst {max(valid):.3f} s (goal < 2 s)"
    )


if __name__ == "__main__":
    asyncio.run(main())
