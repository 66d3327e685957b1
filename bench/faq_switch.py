"""How fast an approved FAQ answer, and then a rollback, reaches every server process.

Starts `triagebot serve` as a child process (several server processes sharing the port,
each with its own NLP process), creates an editor and a compliance user, proposes a new
parking answer through the staff API and approves it. From the moment the approval
returns it asks a parking question again and again, each on a fresh connection (so the
kernel spreads them over every server process), until N answers in a row carry the new
answer; then the same for a rollback. Prints figures:

    .venv/bin/python bench/faq_switch.py [--processes 2] [--nlp-processes 1] [--streak 40]

TRIAGE_REDIS_URL is used when set, else an embedded Redis in a temporary folder.
Exits non-zero when a switch takes longer than 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, suppress
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
PASSWORD = "bench password 123"
QUESTION = "where can i park my car?"
LIMIT_S = 2.0
GIVE_UP_S = 30.0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def add_staff(redis_url: str) -> None:
    """An editor and a compliance user, made directly in the store."""
    from redis.asyncio import Redis

    from escalation.staff import StaffStore, UserExists

    client: Redis = Redis.from_url(redis_url)
    staff = StaffStore(client, session_idle_s=900, token_ttl_s=3600)
    for name, role in (("bench-editor", "faq_editor"), ("bench-compliance", "compliance")):
        with suppress(UserExists):
            await staff.add(name, role, PASSWORD)
    await client.aclose()


async def staff_headers(session: aiohttp.ClientSession, base: str, name: str) -> dict[str, str]:
    async with session.post(
        f"{base}/v1/auth/token", json={"username": name, "password": PASSWORD}
    ) as response:
        response.raise_for_status()
        return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def ask(base: str) -> tuple[str, str]:
    """(reply, faq_version) of one parking question, on a connection of its own."""
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        body = {"message_id": secrets.token_hex(8), "author_id": "bench", "text": QUESTION}
        async with session.post(
            f"{base}/v1/messages", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            response.raise_for_status()
            decision = await response.json()
    return str(decision["reply"]), str(decision["faq_version"])


async def watch_switch(base: str, version: str, streak: int) -> tuple[float, float, int, int]:
    """(seconds to the first answer from `version`, seconds from which every answer was,
    old answers seen after the first new one, requests sent), from now."""
    start = time.perf_counter()
    first: float | None = None
    run_started = 0.0
    run = stale_after_first = sent = 0
    while run < streak:
        sent_at = time.perf_counter() - start
        if sent_at > GIVE_UP_S:
            sys.exit(f"no switch to {version} within {GIVE_UP_S:.0f} s")
        _, got = await ask(base)
        sent += 1
        if got == version:
            if first is None:
                first = time.perf_counter() - start
            if run == 0:
                run_started = time.perf_counter() - start
            run += 1
        else:
            stale_after_first += first is not None
            run = 0
    assert first is not None
    return first, run_started, stale_after_first, sent


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2, help="server processes")
    parser.add_argument("--nlp-processes", type=int, default=1, help="NLP processes per server")
    parser.add_argument("--streak", type=int, default=40, help="new answers in a row to stop at")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bot.embedded_redis import EmbeddedRedis

    with ExitStack() as stack:
        redis_url = os.environ.get("TRIAGE_REDIS_URL")
        if not redis_url:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="faq-switch-redis-"))
            redis_url = stack.enter_context(EmbeddedRedis(Path(folder))).url
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="faq-switch-"))
        await add_staff(redis_url)
        port = free_port()
        env = {
            **os.environ,
            "TRIAGE_PORT": str(port),
            "TRIAGE_DATA_DIR": data_dir,
            "TRIAGE_REDIS_URL": redis_url,
            "TRIAGE_API_TOKEN": TOKEN,
            "TRIAGE_PROCESSES": str(args.processes),
            "TRIAGE_NLP_PROCESSES": str(args.nlp_processes),
            "TRIAGE_LOG_LEVEL": "WARNING",
        }
        exe = Path(sys.executable).with_name("triagebot")
        server = subprocess.Popen([str(exe), "serve"], env=env, stdout=subprocess.DEVNULL)
        try:
            return await run_bench(f"http://127.0.0.1:{port}", args.streak, args.processes)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0


async def run_bench(base: str, streak: int, processes: int) -> int:
    async with aiohttp.ClientSession() as session:
        for _ in range(1200):
            try:
                async with session.get(f"{base}/readyz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        else:
            sys.exit("the service did not start")
        # Every server process must be up before the clock matters: wait for a few answers.
        before_reply, before_version = await ask(base)
        for _ in range(10 * processes):
            await ask(base)
        editor = await staff_headers(session, base, "bench-editor")
        compliance = await staff_headers(session, base, "bench-compliance")
        new_answer = f"Parking is free in Garage C from today ({secrets.token_hex(3)})."
        async with session.post(
            f"{base}/v1/faq/drafts",
            json={"reason": "bench", "answers": {"parking": new_answer}},
            headers=editor,
        ) as response:
            response.raise_for_status()
            draft = (await response.json())["draft"]
        # Compliance decides after reading the evaluation; waiting for it also keeps its
        # CPU use out of the switch's figures.
        for _ in range(600):
            async with session.get(f"{base}/v1/faq/drafts/{draft['id']}", headers=editor) as got:
                evaluation = (await got.json())["draft"]["evaluation"] or {}
            if evaluation.get("stage") in ("done", "failed"):
                break
            await asyncio.sleep(0.5)
        print(f"{processes} server processes; live version {before_version}")
        print(f"draft evaluation: {evaluation.get('stage')}, flags {evaluation.get('flags')}")

        failed = False
        async with session.post(
            f"{base}/v1/faq/drafts/{draft['id']}/approve", headers=compliance
        ) as response:
            response.raise_for_status()
            approved = (await response.json())["version"]
        failed |= report("approve", approved, await watch_switch(base, approved, streak), streak)
        reply, _ = await ask(base)
        assert reply == new_answer, "the approved answer is not the one served"

        async with session.post(f"{base}/v1/faq/rollback", headers=compliance) as response:
            response.raise_for_status()
            rolled = (await response.json())["version"]
        failed |= report("rollback", rolled, await watch_switch(base, rolled, streak), streak)
        reply, _ = await ask(base)
        assert reply == before_reply, "the rollback did not restore the answer"
    return 1 if failed else 0


def report(what: str, version: str, figures: tuple[float, float, int, int], streak: int) -> bool:
    """Print one switch's figures; True when it took longer than the limit."""
    first, settled, stale, sent = figures
    print(
        f"{what:>8} -> {version}: first new answer {first * 1000:6.0f} ms, "
        f"every answer new from {settled * 1000:6.0f} ms "
        f"({stale} old answers after the first new one; {sent} requests, last {streak} all new)"
    )
    over = settled > LIMIT_S
    if over:
        print(f"{what}: switch took over {LIMIT_S:.0f} s")
    return over


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
