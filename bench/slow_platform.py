"""A slow Graph API under steady webhook load: actions done twice, and how long actions wait.

Starts `triagebot serve` as a child process (embedded Redis, one worker) against a local
server playing the Graph API that answers a share of calls (`--slow`, first tries only)
after `--delay` seconds, past the bot's platform timeout, having carried them out at once
(`--done-at start`) or only just before that late answer (`--done-at end`).
Sends signed comments at a fixed rate (routine questions and comments with PHI, each from
its own author) and prints, once the platform has been quiet for a while:

    .venv/bin/python bench/slow_platform.py [--comments 60] [--rate 4] [--slow 0.1]
        [--delay 12] [--timeout 10] [--done-at start|end]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-meta-secret"
PAGE_ID = "104857362918273"
TEXTS = [
    "where do I park for the outpatient clinic?",
    "what are visiting hours on the weekend?",
    "I'm Harold Finch, DOB 04/02/1960, my chemo on 4 west got cancelled again",
    "how do I get a copy of my medical records?",
    "my mrn is 99887766 and I still have no results from last week",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Graph:
    """Carries each POST out at once, answers a seeded share of first tries late, and
    answers read-backs from what it did."""

    def __init__(self, slow: float, delay_s: float, done_at_end: bool) -> None:
        self.slow, self.delay_s, self.done_at_end = slow, delay_s, done_at_end
        self.posts: list[tuple[float, str, str]] = []  # (time, comment, action path)
        self.hidden: set[str] = set()
        self.replies: dict[str, list[dict[str, object]]] = {}
        self.privately: set[str] = set()
        self.tried: set[tuple[str, str]] = set()
        self.late = 0

    async def post(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body = await request.json()
        comment = body.get("recipient", {}).get("comment_id") or path.split("/")[0]
        first = (comment, path) not in self.tried
        self.tried.add((comment, path))
        digest = hashlib.sha256(f"{comment}|{path}".encode()).digest()
        late = first and digest[0] < 256 * self.slow
        self.late += late
        if late and self.done_at_end:
            await asyncio.sleep(self.delay_s)
        self.posts.append((time.monotonic(), comment, path))
        if path == comment:
            self.hidden.add(comment)
        elif path.endswith("/comments"):
            self.replies.setdefault(comment, []).append(
                {"from": {"id": PAGE_ID}, "message": body["message"]}
            )
        else:
            self.privately.add(comment)
        if late and not self.done_at_end:
            await asyncio.sleep(self.delay_s)
        return web.json_response({"success": True})

    async def get(self, request: web.Request) -> web.Response:
        path, fields = request.match_info["path"], request.query.get("fields", "")
        comment = path.split("/")[0]
        if path.endswith("/comments"):
            return web.json_response({"data": self.replies.get(comment, [])})
        if fields == "is_hidden":
            return web.json_response({"is_hidden": comment in self.hidden})
        if fields == "can_reply_privately":
            return web.json_response({"can_reply_privately": comment not in self.privately})
        return web.json_response({"error": {"code": 100}}, status=400)


def body_of(comment_id: str, text: str, author: str) -> bytes:
    value = {
        "item": "comment",
        "verb": "add",
        "comment_id": comment_id,
        "post_id": f"{PAGE_ID}_42",
        "from": {"id": author, "name": "A Person"},
        "message": text,
    }
    entry = {"id": PAGE_ID, "time": 1, "changes": [{"field": "feed", "value": value}]}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


async def run(args: argparse.Namespace) -> None:
    graph = Graph(args.slow, args.delay, args.done_at == "end")
    app = web.Application()
    app.router.add_post("/v21.0/{path:.*}", graph.post)
    app.router.add_get("/v21.0/{path:.*}", graph.get)
    runner = web.AppRunner(app)
    await runner.setup()
    graph_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", graph_port).start()
    port = free_port()
    data = tempfile.mkdtemp(prefix="slow-platform-")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TRIAGE_PORT": str(port),
        "TRIAGE_DATA_DIR": data,
        "TRIAGE_META_APP_SECRET": SECRET,
        "TRIAGE_META_PAGE_TOKEN": "bench-page-token",
        "TRIAGE_META_PAGE_ID": PAGE_ID,
        "TRIAGE_META_GRAPH_URL": f"http://127.0.0.1:{graph_port}/v21.0",
        "TRIAGE_PLATFORM_TIMEOUT_S": str(args.timeout),
        "TRIAGE_LOG_LEVEL": "ERROR",
    }
    service = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", cwd=ROOT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    acked: dict[str, float] = {}
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                try:
                    async with http.get(f"{base}/readyz") as ready:
                        if ready.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
            rng = random.Random(7)
            start = time.monotonic()
            for n in range(args.comments):
                await asyncio.sleep(max(0.0, start + n / args.rate - time.monotonic()))
                comment_id = f"c{n}"
                body = body_of(comment_id, rng.choice(TEXTS), author=f"77{n:05d}")
                digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                headers = {
                    "X-Hub-Signature-256": f"sha256={digest}",
                    "Content-Type": "application/json",
                }
                async with http.post(
                    f"{base}/webhooks/meta", data=body, headers=headers
                ) as response:
                    assert response.status == 200, response.status
                acked[comment_id] = time.monotonic()
            # Done when the platform has seen nothing new for a while (a late call and its
            # follow-ups included), or after a bound.
            quiet = args.delay + 8
            while time.monotonic() - max([p[0] for p in graph.posts] or [start]) < quiet:
                if time.monotonic() - start > 900:
                    break
                await asyncio.sleep(0.5)
    finally:
        service.terminate()
        await service.wait()
        await runner.cleanup()
    calls = Counter((comment, path) for _, comment, path in graph.posts)
    twice = Counter(
        "hide" if path == comment else "reply" if path.endswith("/comments") else "private"
        for (comment, path), count in calls.items()
        for _ in range(count - 1)
    )
    waits = [
        max(t for t, c, _ in graph.posts if c == comment) - acked[comment]
        for comment in acked
        if any(c == comment for _, c, _ in graph.posts)
    ]
    print(
        f"comments {args.comments} at {args.rate}/s; {len(calls)} actions, "
        f"{graph.late} first tries answered after {args.delay} s (bot timeout {args.timeout} s), "
        f"carried out at the {args.done_at}"
    )
    print(
        f"actions done twice: {sum(twice.values())} "
        f"(hide {twice['hide']}, public reply {twice['reply']}, private reply {twice['private']})"
    )
    if waits:
        print(
            f"acknowledgement to last action: p50 {statistics.median(waits):.1f} s, "
            f"max {max(waits):.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=60)
    parser.add_argument("--rate", type=float, default=4.0)
    parser.add_argument("--slow", type=float, default=0.1)
    parser.add_argument("--delay", type=float, default=12.0)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--done-at", choices=["start", "end"], default="start")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
