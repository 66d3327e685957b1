"""End-to-end load on `triagebot serve`: the API at a fixed rate, webhooks alongside.

Starts the service as a child process (real HTTP, real Redis, one in-process worker),
plays the Graph API with a local server, sends an open-loop load (requests leave on
schedule whether or not earlier ones have answered), and prints figures:

    .venv/bin/python bench/service_load.py [--rate 300] [--seconds 20] [--webhook-rate 20]

With `--instances 2` it starts that many services on one Redis of its own (as behind a
load balancer) and sends request n to instance n mod N.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.embedded_redis import redis_server_binary
from escalation.crypto import new_key_spec

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT.parent / "shared" / "eval").glob("**/*.jsonl"))
TOKEN = "bench-token"
SECRET = "bench-meta-secret"


def texts(paths: list[Path] = SOURCES) -> list[str]:
    """Every message of the files, in a fixed shuffled order: the same mix all along the run."""
    found = [
        str(json.loads(line)["text"])
        for path in paths
        for line in path.read_text("utf-8").splitlines()
        if line.strip()
    ]
    random.Random(7).shuffle(found)
    return found or ["when are visiting hours?", "where do I park?", "my mrn is 8834120"]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tree(pid: int) -> list[int]:
    """A process and its descendants (server processes, embedded Redis)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def proc_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds, summed peak RSS MB) of the service's process tree, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = peak = 0.0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{member}/status").read_text().splitlines()
        except OSError:
            continue
        cpu += (int(fields[11]) + int(fields[12])) / ticks
        for line in status:
            if line.startswith("VmHWM:"):
                peak += int(line.split()[1]) / 1024
    return cpu, peak


def pct(samples: list[float], q: int) -> float:
    if len(samples) < 2:
        return samples[0] * 1000 if samples else float("nan")
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1000


def start_shared_redis() -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server of the bench's own (no persistence) that every instance shares."""
    port = free_port()
    process = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    return process, f"redis://127.0.0.1:{port}/0"


async def ready(session: aiohttp.ClientSession, base: str) -> bool:
    """Whether the service at `base` answers /readyz within a minute."""
    for _ in range(600):
        try:
            async with session.get(f"{base}/readyz") as response:
                if response.status == 200:
                    return True
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    return False


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=300.0, help="API messages per second")
    parser.add_argument("--webhook-rate", type=float, default=20.0, help="webhooks per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--files", nargs="*", type=Path, default=SOURCES, help="JSON Lines messages to send"
    )
    parser.add_argument("--workers", type=int, default=1, help="intake workers per process")
    parser.add_argument("--processes", type=int, default=1, help="server processes")
    parser.add_argument(
        "--instances", type=int, default=1, help="services sharing one Redis (round robin)"
    )
    parser.add_argument("--nlp-processes", type=int, default=2, help="NLP processes per server")
    parser.add_argument(
        "--batch-wait-ms", type=float, default=5.0, help="TRIAGE_BATCH_WAIT_MS of the service"
    )
    args = parser.parse_args()

    graph_calls = 0

    async def graph(request: web.Request) -> web.Response:
        nonlocal graph_calls
        graph_calls += 1
        return web.json_response({"id": "ok"})

    graph_app = web.Application()
    graph_app.router.add_post("/v21.0/{path:.*}", graph)
    graph_runner = web.AppRunner(graph_app, access_log=None)
    await graph_runner.setup()
    graph_port = free_port()
    await web.TCPSite(graph_runner, "127.0.0.1", graph_port).start()

    shared = start_shared_redis() if args.instances > 1 else None
    env = {
        **os.environ,
        "TRIAGE_API_TOKEN": TOKEN,
        "TRIAGE_META_APP_SECRET": SECRET,
        "TRIAGE_META_PAGE_TOKEN": "bench",
        "TRIAGE_META_GRAPH_URL": f"http://127.0.0.1:{graph_port}/v21.0",
        "TRIAGE_WORKERS": str(args.workers),
        "TRIAGE_PROCESSES": str(args.processes),
        "TRIAGE_NLP_PROCESSES": str(args.nlp_processes),
        "TRIAGE_BATCH_WAIT_MS": str(args.batch_wait_ms),
        "TRIAGE_LOG_LEVEL": "WARNING",
    }
    if shared is not None:
        # One Redis and one set of keys: any instance can open what another recorded.
        env["TRIAGE_REDIS_URL"] = shared[1]
        env["TRIAGE_ENCRYPTION_KEYS"] = new_key_spec()
    servers, bases = [], []
    for _ in range(args.instances):
        port = free_port()
        data_dir = tempfile.mkdtemp(prefix="triage-bench-")
        instance_env = {**env, "TRIAGE_PORT": str(port), "TRIAGE_DATA_DIR": data_dir}
        exe = Path(sys.executable).with_name("triagebot")
        servers.append(
            subprocess.Popen([str(exe), "serve"], env=instance_env, stdout=subprocess.DEVNULL)
        )
        bases.append(f"http://127.0.0.1:{port}")
    base = bases[0]  # its metrics are printed: one process's NLP batches
    corpus = texts(args.files)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        for each in bases:
            if not await ready(session, each):
                for started_server in servers:
                    started_server.kill()
                sys.exit("the service did not start")
        cpu0 = sum(proc_stats(each.pid)[0] for each in servers)

        api_lat: list[float] = []
        hook_lat: list[float] = []
        errors = 0

        async def api_call(n: int) -> None:
            nonlocal errors
            # A different person each time: one person's messages all join their one case.
            body = {"message_id": f"b{n}", "author_id": f"p{n}", "text": corpus[n % len(corpus)]}
            started = time.perf_counter()
            try:
                async with session.post(
                    f"{bases[n % len(bases)]}/v1/messages",
                    json=body,
                    headers={"Authorization": f"Bearer {TOKEN}"},
                ) as response:
                    await response.read()
                    errors += response.status != 200
            except aiohttp.ClientError:  # refused or reset under overload: counted, not fatal
                errors += 1
                return
            api_lat.append(time.perf_counter() - started)

        async def hook_call(n: int) -> None:
            nonlocal errors
            value = {
                "item": "comment", "verb": "add", "comment_id": f"bc{n}", "post_id": "1_2",
                "from": {"id": str(10_000 + n), "name": "x"},
                "message": corpus[(n * 7) % len(corpus)],
            }  # fmt: skip
            raw = json.dumps(
                {
                    "object": "page",
                    "entry": [{"id": "1", "changes": [{"field": "feed", "value": value}]}],
                }
            ).encode()
            sig = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
            started = time.perf_counter()
            try:
                async with session.post(
                    f"{bases[n % len(bases)]}/webhooks/meta",
                    data=raw,
                    headers={"X-Hub-Signature-256": sig, "Content-Type": "application/json"},
                ) as response:
                    await response.read()
                    errors += response.status != 200
            except aiohttp.ClientError:
                errors += 1
                return
            hook_lat.append(time.perf_counter() - started)

        async def schedule(rate: float, call: object) -> None:
            tasks = []
            start = time.perf_counter()
            n = 0
            while (elapsed := time.perf_counter() - start) < args.seconds:
                due = n / rate
                if due > elapsed:
                    await asyncio.sleep(due - elapsed)
                tasks.append(asyncio.create_task(call(n)))  # type: ignore[operator]
                n += 1
            await asyncio.gather(*tasks)

        started = time.perf_counter()
        await asyncio.gather(schedule(args.rate, api_call), schedule(args.webhook_rate, hook_call))
        wall = time.perf_counter() - started
        stats = [proc_stats(each.pid) for each in servers]
        cpu1, peak = sum(c for c, _ in stats), sum(p for _, p in stats)
        async with session.get(f"{base}/metrics") as response:
            batches = [
                line for line in (await response.text()).splitlines()
                if line.startswith("triage_batch_size_")
            ]  # fmt: skip
    for each in servers:
        each.terminate()
    for each in servers:
        each.wait()
    if shared is not None:
        shared[0].terminate()
        shared[0].wait()
    await graph_runner.cleanup()

    print(
        f"service: {args.instances} instance(s) on "
        f"{'one shared Redis' if shared else 'an embedded Redis'}, "
        f"{args.processes} server process(es), {args.nlp_processes} NLP process(es) "
        f"each, {args.workers} intake worker(s) each, batch wait {args.batch_wait_ms:g} ms; "
        f"load for {args.seconds:.0f} s on {os.cpu_count()} cores (load generator included)"
    )
    print(
        f"messages: {len(corpus)} from {len(args.files)} file(s), shuffled, "
        f"mean {statistics.mean(map(len, corpus)):.0f} chars"
    )
    print(
        f"API      {len(api_lat)} requests, {len(api_lat) / wall:.1f} msg/s sustained, "
        f"p50 {pct(api_lat, 50):.1f} ms, p99 {pct(api_lat, 99):.1f} ms"
    )
    print(
        f"webhooks {len(hook_lat)} requests, ack p50 {pct(hook_lat, 50):.1f} ms, "
        f"p99 {pct(hook_lat, 99):.1f} ms; {graph_calls} Graph API calls made by the worker"
    )
    print("one process's NLP batches:", " ".join(b.split("{")[-1] for b in batches))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"load generator CPU {100 * (usage.ru_utime + usage.ru_stime) / wall:.0f}% of one core")
    print(
        f"errors {errors}; service CPU {100 * (cpu1 - cpu0) / wall:.0f}% of one core; "
        f"service peak RSS {peak:.0f} MB (every instance's processes, an embedded Redis included)"
    )


if __name__ == "__main__":
    asyncio.run(main())
