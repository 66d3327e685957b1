"""Faults under steady load: two instances, a Sentinel set, a Graph API that records calls.

Starts a Redis primary, a replica and three sentinels (tests/sentinel_set.py), a local
server playing the Graph API (records every POST, answers read-backs, and in one phase
answers 10 % of first tries after the bot's platform timeout, having carried them out),
and two `triagebot serve` instances on the Sentinel URL with `WAIT 1`. Drives API
messages and signed Meta comments over both (a client retries a 5xx, a timeout or a
refused connection on the other instance, as behind a load balancer), and injects one
fault a phase: SIGKILL of an NLP child of A, SIGKILL of B (restarted), SIGKILL of the
Redis primary (restarted as a replica), SIGSTOP of the primary for 10 s, `SENTINEL
FAILOVER`, a slow platform. Then re-posts every acknowledged API message, reads Redis
and the platform's record, and prints per phase: acknowledged, lost, decided twice,
cases twice, actions sent twice, the statuses clients saw and the time until each
instance answered normally again. Exits 1 if anything was lost or done twice.

    PYTHONPATH=. .venv/bin/python bench/fault_injection.py [--rate 4] [--duration 30]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from redis import Redis

from bot.embedded_redis import free_port
from escalation import keys
from escalation.crypto import new_key_spec
from tests.sentinel_set import SERVICE, SentinelSet

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-meta-secret"
TOKEN = "bench-api-token-0123456789"
PAGE_ID = "104857362918273"
PLATFORM_TIMEOUT_S = 3.0  # the bot's; a late answer comes 2 s after it
CLIENT_TIMEOUT_S = 5.0
GIVE_UP_S = 90.0  # a client stops retrying one message after this
FAULT_AT_S = 2.0  # into each phase
TEXTS = [
    "where do I park for the outpatient clinic?",
    "what are visiting hours on the weekend?",
    "I'm Harold Finch, DOB 04/02/1960, my chemo on 4 west got cancelled again",
    "how do I get a copy of my medical records?",
    "my mrn is 99887766 and I still have no results from last week",
]
SAME = ("action", "intent", "priority", "reasons", "language")  # what "the same decision" is


class Graph:
    """Records every POST by comment and kind, answers read-backs from what it did, and
    answers a share of first tries late (carried out at once) while `slow` is set."""

    def __init__(self) -> None:
        self.slow = 0.0
        self.posts: Counter[tuple[str, str]] = Counter()  # (comment, kind) -> POSTs
        self.hidden: set[str] = set()
        self.replies: dict[str, list[dict[str, object]]] = {}
        self.privately: set[str] = set()
        self.late = 0
        self.last_post = time.monotonic()

    async def post(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body = await request.json()
        comment = body.get("recipient", {}).get("comment_id") or path.split("/")[0]
        kind = "hide" if path == comment else "reply" if path.endswith("/comments") else "private"
        first = self.posts[(comment, kind)] == 0
        self.posts[(comment, kind)] += 1
        self.last_post = time.monotonic()
        if kind == "hide":
            self.hidden.add(comment)
        elif kind == "reply":
            self.replies.setdefault(comment, []).append(
                {"from": {"id": PAGE_ID}, "message": body.get("message")}
            )
        else:
            self.privately.add(comment)
        digest = hashlib.sha256(f"{comment}|{kind}".encode()).digest()
        if first and digest[0] < 256 * self.slow:
            self.late += 1
            await asyncio.sleep(PLATFORM_TIMEOUT_S + 2)
        return web.json_response({"success": True, "id": f"out_{sum(self.posts.values())}"})

    async def get(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        comment = path.split("/")[0]
        if path.endswith("/comments"):
            return web.json_response({"data": self.replies.get(comment, [])})
        return web.json_response(
            {
                "id": comment,
                "is_hidden": comment in self.hidden,
                "can_reply_privately": comment not in self.privately,
            }
        )


@dataclass
class Instance:
    """One `triagebot serve` process and how to start it again."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            command = [sys.executable, "-m", "bot", "serve"]
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=out, stderr=out)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)

    def nlp_children(self) -> list[int]:
        """The NLP pool's processes (multiprocessing spawn children), found through /proc."""
        assert self.process is not None
        parents: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(stat.parent.name)] = int(fields[1])
        found, frontier = [], [self.process.pid]
        while frontier:
            pid = frontier.pop()
            for child, parent in parents.items():
                if parent == pid:
                    frontier.append(child)
                    try:
                        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                            found.append(child)
                    except OSError:
                        pass
        return found


@dataclass
class Sent:
    """One message as its client saw it."""

    kind: str  # "api" or "comment"
    message_id: str
    phase: int
    body: bytes
    acked: bool = False
    answer: dict[str, Any] | None = None


@dataclass
class Phase:
    """One fault: what it does, when, and what clients saw meanwhile."""

    name: str
    inject: Callable[[], Coroutine[Any, Any, None]]
    fault_at: float = 0.0
    fault_wall: float = 0.0
    end: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    answers: list[tuple[float, str, bool]] = field(default_factory=list)  # t, instance, ok


@dataclass
class Bench:
    """Everything one run holds."""

    args: argparse.Namespace
    redis: SentinelSet
    graph: Graph
    instances: list[Instance]
    http: aiohttp.ClientSession
    phases: list[Phase] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    current: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


# The service and the platform


async def start_graph(graph: Graph) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/v21.0/{path:.*}", graph.post)
    app.router.add_get("/v21.0/{path:.*}", graph.get)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/v21.0"


def make_instances(folder: Path, redis_url: str, graph_url: str) -> list[Instance]:
    shared_keys = new_key_spec()  # every instance holds the same keys
    instances = []
    for name in ("A", "B"):
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TRIAGE_PORT": str(port),
            "TRIAGE_DATA_DIR": str(folder / name),
            "TRIAGE_REDIS_URL": redis_url,
            "TRIAGE_REDIS_WAIT_REPLICAS": "1",
            "TRIAGE_ENCRYPTION_KEYS": shared_keys,
            "TRIAGE_API_TOKEN": TOKEN,
            "TRIAGE_META_APP_SECRET": SECRET,
            "TRIAGE_META_PAGE_TOKEN": "bench-page-token",
            "TRIAGE_META_PAGE_ID": PAGE_ID,
            "TRIAGE_META_GRAPH_URL": graph_url,
            "TRIAGE_PLATFORM_TIMEOUT_S": str(PLATFORM_TIMEOUT_S),
            "TRIAGE_NLP_PROCESSES": "1",
            "TRIAGE_WORKER_LEASE_S": "5",
            "TRIAGE_LOG_LEVEL": "WARNING",
        }
        instances.append(Instance(name, port, env, folder / f"{name}.log"))
    return instances


async def ready(http: aiohttp.ClientSession, instance: Instance) -> bool:
    try:
        async with http.get(f"{instance.base}/readyz", timeout=aiohttp.ClientTimeout(2)) as r:
            return r.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


def replica_in_sync(redis: SentinelSet) -> bool:
    try:
        with redis.data_client(redis.primary_port()) as client:
            info = client.info("replication")
    except Exception:
        return False
    return any(
        isinstance(v, dict) and v.get("state") == "online" for k, v in info.items()
        if k.startswith("slave")
    )  # fmt: skip


async def settle(bench: Bench, bound_s: float = 120.0) -> None:
    """Until both instances are ready and the primary has a replica in sync (bounded)."""
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        oks = [await ready(bench.http, i) for i in bench.instances]
        if all(oks) and await asyncio.to_thread(replica_in_sync, bench.redis):
            return
        await asyncio.sleep(0.5)
    print("warning: not settled within the bound", file=sys.stderr)


# Load: clients that retry


def comment_body(comment_id: str, text: str, author: str) -> bytes:
    value = {
        "item": "comment",
        "verb": "add",
        "comment_id": comment_id,
        "post_id": f"{PAGE_ID}_42",
        "parent_id": f"{PAGE_ID}_42",
        "from": {"id": author, "name": "A Person"},
        "message": text,
        "created_time": 1733413000,
    }
    entry = {"id": PAGE_ID, "time": 1733413001, "changes": [{"field": "feed", "value": value}]}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


def request_of(message: Sent) -> tuple[str, dict[str, str]]:
    if message.kind == "api":
        return "/v1/messages", {
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/json",
        }
    digest = hmac.new(SECRET.encode(), message.body, hashlib.sha256).hexdigest()
    return "/webhooks/meta", {
        "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json",
    }


async def post_once(
    http: aiohttp.ClientSession, instance: Instance, message: Sent
) -> tuple[str, dict[str, Any] | None]:
    """One try: the status as a label, and the JSON of a 2xx."""
    path, headers = request_of(message)
    try:
        async with http.post(
            instance.base + path, data=message.body, headers=headers,
            timeout=aiohttp.ClientTimeout(CLIENT_TIMEOUT_S),
        ) as response:  # fmt: skip
            if 200 <= response.status < 300:
                return str(response.status), await response.json()
            return str(response.status), None
    except TimeoutError:
        return "timeout", None
    except aiohttp.ClientError:
        return "refused", None


async def deliver(bench: Bench, message: Sent, first: int) -> None:
    """Send until acknowledged (another instance after each failure) or a 4xx, bounded."""
    phase = bench.phases[message.phase]
    deadline = time.monotonic() + GIVE_UP_S
    n = first
    while time.monotonic() < deadline:
        instance = bench.instances[n % len(bench.instances)]
        label, answer = await post_once(bench.http, instance, message)
        now = time.monotonic()
        phase.statuses[label] += 1
        bench.phases[bench.current].answers.append((now, instance.name, answer is not None))
        if answer is not None:
            message.acked, message.answer = True, answer
            return
        if label.startswith("4"):
            return
        n += 1
        await asyncio.sleep(0.5)


async def drive(bench: Bench, stop: asyncio.Event) -> None:
    """`rate` API messages and `rate / 2` comments a second, alternating instances."""
    rate = bench.args.rate
    interval = 1 / (rate * 1.5)
    start, n = time.monotonic(), 0
    while not stop.is_set():
        await asyncio.sleep(max(0.0, start + n * interval - time.monotonic()))
        text, author = TEXTS[n % len(TEXTS)], f"77{n:08d}"  # each its own person: own case
        if n % 3 == 2:
            cid = f"{PAGE_ID}_42_c{n:07d}"
            message = Sent("comment", cid, bench.current, comment_body(cid, text, author))
        else:
            mid = f"m{n:07d}"
            body = {"message_id": mid, "author_id": author, "text": text}
            message = Sent("api", mid, bench.current, json.dumps(body).encode())
        bench.sent.append(message)
        task = asyncio.create_task(deliver(bench, message, n))
        bench.tasks.add(task)
        task.add_done_callback(bench.tasks.discard)
        n += 1


# Faults


def note(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')}   {line}", file=sys.stderr)


def faults(bench: Bench) -> list[Phase]:
    a, b = bench.instances
    redis = bench.redis

    async def kill_nlp_child() -> None:
        children = a.nlp_children()
        if not children:
            print("warning: no NLP child of A found", file=sys.stderr)
        for pid in children[:1]:
            os.kill(pid, signal.SIGKILL)
            note(f"SIGKILL NLP process {pid} of A")

    async def kill_instance() -> None:
        b.kill()
        await asyncio.sleep(1)
        b.start()
        note("B killed and started again")

    async def kill_primary() -> None:
        old = redis.primary_port()
        redis.node_on(old).kill()
        new = await asyncio.to_thread(redis.wait_for_new_primary, old, 30.0)
        redis.node_on(old).start("--replicaof", "127.0.0.1", str(new))
        note(f"primary :{old} killed, :{new} promoted, :{old} back as its replica")

    async def freeze_primary() -> None:
        node = redis.node_on(redis.primary_port())
        assert node.process is not None
        os.kill(node.process.pid, signal.SIGSTOP)
        await asyncio.sleep(10)
        os.kill(node.process.pid, signal.SIGCONT)
        note(f"primary :{node.port} frozen 10 s; now primary :{redis.primary_port()}")

    async def sentinel_failover() -> None:
        old = redis.primary_port()
        with Redis(port=redis.sentinels[0].port, socket_timeout=2) as client:
            client.execute_command("SENTINEL", "FAILOVER", SERVICE)
        new = await asyncio.to_thread(redis.wait_for_new_primary, old, 30.0)
        note(f"failover asked: primary :{old} -> :{new}")

    async def slow_platform() -> None:
        bench.graph.slow = 0.1

    async def nothing() -> None:
        return None

    return [
        Phase("none (baseline)", nothing),
        Phase("SIGKILL an NLP child of A", kill_nlp_child),
        Phase("SIGKILL instance B, restart", kill_instance),
        Phase("SIGKILL Redis primary", kill_primary),
        Phase("SIGSTOP Redis primary 10 s", freeze_primary),
        Phase("SENTINEL FAILOVER", sentinel_failover),
        Phase("10 % platform calls late", slow_platform),
    ]


async def run_phases(bench: Bench) -> None:
    """Each phase: the fault at FAULT_AT_S, load for `duration`, then settle."""
    for index, phase in enumerate(bench.phases):
        bench.current = index
        start = time.monotonic()
        print(f"{time.strftime('%H:%M:%S')} phase {index}: {phase.name}", file=sys.stderr)
        await asyncio.sleep(FAULT_AT_S)
        phase.fault_at, phase.fault_wall = time.monotonic(), time.time()
        injected = asyncio.create_task(phase.inject())
        await asyncio.sleep(max(0.0, start + bench.args.duration - time.monotonic()))
        await injected
        bench.graph.slow = 0.0
        await settle(bench)
        phase.end = time.monotonic()


# What happened


@dataclass
class Tally:
    """One phase's figures."""

    acked: int = 0
    lost: int = 0
    decided_twice: int = 0
    cases_twice: int = 0
    actions_twice: int = 0
    unacked: int = 0


async def check_api(bench: Bench, message: Sent, tally: Tally) -> None:
    """Re-post an acknowledged message: its Decision must be there, the same, one case."""
    assert message.answer is not None
    again: dict[str, Any] | None = None
    for n in range(20):
        _, again = await post_once(bench.http, bench.instances[n % 2], message)
        if again is not None:
            break
        await asyncio.sleep(0.5)
    if again is None or not again.get("duplicate"):
        tally.lost += 1
    elif any(again.get(k) != message.answer.get(k) for k in SAME):
        tally.decided_twice += 1
    elif again.get("case_id") != message.answer.get("case_id"):
        tally.cases_twice += 1


def read_redis(redis: SentinelSet) -> tuple[set[str], set[str], list[tuple[str, float]]]:
    """Decided message ids, case ids a message points at, every case and its time (ms)."""
    with redis.data_client(redis.primary_port()) as client:
        decided = {
            k.decode().split(":", 3)[3].split("~")[0]
            for k in client.scan_iter(match=keys.message_decision("*", "*"), count=1000)
        }
        pointed = {
            v.decode()
            for k in client.scan_iter(match=keys.case_for_message("*", "*"), count=1000)
            if (v := client.get(k)) is not None
        }
        cases = [(c.decode(), s) for c, s in client.zrange(keys.CASES, 0, -1, withscores=True)]
    return decided, pointed, cases


async def tally(bench: Bench) -> list[Tally]:
    tallies = [Tally() for _ in bench.phases]
    decided, pointed, cases = await asyncio.to_thread(read_redis, bench.redis)
    for message in bench.sent:
        t = tallies[message.phase]
        if not message.acked:
            t.unacked += 1
            continue
        t.acked += 1
        if message.kind == "api":
            await check_api(bench, message, t)
            continue
        cid = message.message_id
        if cid not in decided or bench.graph.posts[(cid, "reply")] == 0:
            t.lost += 1
        t.actions_twice += sum(
            n - 1 for (c, _), n in bench.graph.posts.items() if c == cid and n > 1
        )
    # A case that no message points at is a second one for some message: by its time.
    for case_id, created_ms in cases:
        if case_id not in pointed:
            phase = max(
                (i for i, p in enumerate(bench.phases) if p.fault_wall - FAULT_AT_S
                 <= created_ms / 1000),
                default=0,
            )  # fmt: skip
            tallies[phase].cases_twice += 1
    return tallies


def recovery(phase: Phase, instance: str) -> str:
    """From the fault to the first 2xx after the instance's last failure in the phase."""
    seen = [(t, ok) for t, name, ok in phase.answers if name == instance and t >= phase.fault_at]
    failures = [t for t, ok in seen if not ok]
    if not failures:
        return "no error"
    back = [t for t, ok in seen if ok and t > failures[-1]]
    return f"{back[0] - phase.fault_at:.1f} s" if back else "not within the phase"


def report(bench: Bench, tallies: list[Tally]) -> bool:
    """Print per phase; True when nothing was lost or done twice."""
    clean = True
    print(
        f"{bench.args.rate:g} API msg/s + {bench.args.rate / 2:g} comments/s over instances A "
        f"and B, {bench.args.duration:g} s a phase (fault at {FAULT_AT_S:g} s), "
        f"{bench.graph.late} platform calls answered late"
    )
    for phase, t in zip(bench.phases, tallies, strict=True):
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(phase.statuses.items()))
        back = ", ".join(f"{i.name} {recovery(phase, i.name)}" for i in bench.instances)
        print(
            f"- {phase.name}: acknowledged {t.acked} (never {t.unacked}), lost {t.lost}, "
            f"decided twice {t.decided_twice}, cases twice {t.cases_twice}, "
            f"actions twice {t.actions_twice}\n    statuses: {statuses}\n"
            f"    answering normally again: {back}"
        )
        clean = clean and not (t.lost or t.decided_twice or t.cases_twice or t.actions_twice)
    return clean


async def drain(bench: Bench) -> None:
    """Until every client is done and the platform has been quiet a while (bounded)."""
    if bench.tasks:
        await asyncio.wait(set(bench.tasks), timeout=GIVE_UP_S + 30)
    quiet = PLATFORM_TIMEOUT_S * 3 + 10  # a late call, its read-back and a lease
    for _ in range(240):
        if time.monotonic() - bench.graph.last_post > quiet:
            break
        await asyncio.sleep(0.5)


async def run(args: argparse.Namespace) -> bool:
    folder = Path(tempfile.mkdtemp(prefix="fault-injection-"))
    print(f"files (logs) under {folder}", file=sys.stderr)
    graph = Graph()
    runner, graph_url = await start_graph(graph)
    redis = SentinelSet(folder / "redis")
    await asyncio.to_thread(redis.start)
    instances = make_instances(folder, redis.url, graph_url)
    try:
        for instance in instances:
            instance.start()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            bench = Bench(args, redis, graph, instances, http)
            bench.phases = faults(bench)
            await settle(bench, bound_s=180)
            stop = asyncio.Event()
            driving = asyncio.create_task(drive(bench, stop))
            await run_phases(bench)
            stop.set()
            await driving
            await drain(bench)
            return report(bench, await tally(bench))
    finally:
        for instance in instances:
            instance.kill()
        redis.close()
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=4.0, help="API messages a second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds a phase")
    sys.exit(0 if asyncio.run(run(parser.parse_args())) else 1)


if __name__ == "__main__":
    main()
