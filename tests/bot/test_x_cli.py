"""`triagebot x subscribe` against a local server playing X's Activity API subscriptions."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "1500000000000000001"
WEBHOOK = "1976325569252868099"
TOKEN = "user-context-token-for-tests"
NEEDED = ["post.mention.create", "post.reply.create", "post.quote.create", "dm.received"]


class Subscriptions:
    """X's /2/activity/subscriptions, as its quickstart and OpenAPI schema describe them."""

    def __init__(self) -> None:
        self.subs: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.ids = itertools.count(1976325569252868096)
        self.created_shape = "object"
        self.page_size = 1000
        self.refuse: int | None = None
        self.app = web.Application()
        self.app.router.add_get("/2/activity/subscriptions", self.list)
        self.app.router.add_post("/2/activity/subscriptions", self.create)
        self.app.router.add_put("/2/activity/subscriptions/{id}", self.update)

    def _check(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            raise web.HTTPUnauthorized(
                text='{"title": "Unauthorized", "status": 401}', content_type="application/json"
            )
        if self.refuse is not None:
            raise web.HTTPForbidden(
                text='{"title": "Client Forbidden", "detail": "not on this tier"}',
                content_type="application/json",
            )

    async def list(self, request: web.Request) -> web.Response:
        self._check(request)
        self.requests.append(("GET", request.path_qs, None))
        subs = list(self.subs.values())
        start = int(request.query.get("pagination_token", "0").lstrip("p") or 0)
        page = subs[start : start + self.page_size]
        meta: dict[str, Any] = {"total_subscriptions": len(subs)}
        if start + self.page_size < len(subs):
            meta["next_token"] = f"p{start + self.page_size:015d}"
        return web.json_response({"data": page, "meta": meta})

    async def create(self, request: web.Request) -> web.Response:
        self._check(request)
        body = await request.json()
        self.requests.append(("POST", request.path, body))
        sub = {
            "subscription_id": str(next(self.ids)),
            "event_type": body["event_type"],
            "filter": body["filter"],
            "created_at": "2026-10-09T16:35:08.000Z",
            "updated_at": "2026-10-09T16:35:08.000Z",
            **({"tag": body["tag"]} if "tag" in body else {}),
            **({"webhook_id": body["webhook_id"]} if "webhook_id" in body else {}),
        }
        self.subs[sub["subscription_id"]] = sub
        shapes: dict[str, Any] = {
            "object": {"data": sub},  # quickstart, "Create subscription"
            "list": {"data": [sub], "meta": {"total_subscriptions": len(self.subs)}},
            "wrapped": {"data": {"subscription": sub}},  # OpenAPI schema
        }
        return web.json_response(shapes[self.created_shape])

    async def update(self, request: web.Request) -> web.Response:
        self._check(request)
        body = await request.json()
        self.requests.append(("PUT", request.path, body))
        sub = self.subs[request.match_info["id"]]
        sub.update(body)
        return web.json_response({"data": sub, "meta": {"total_subscriptions": len(self.subs)}})

    def add(self, event_type: str, webhook_id: str | None, user_id: str = ACCOUNT) -> str:
        sub_id = str(next(self.ids))
        self.subs[sub_id] = {
            "subscription_id": sub_id,
            "event_type": event_type,
            "filter": {"user_id": user_id},
            **({"webhook_id": webhook_id} if webhook_id else {}),
        }
        return sub_id


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
async def x() -> AsyncIterator[tuple[Subscriptions, str]]:
    fake = Subscriptions()
    async with TestServer(fake.app) as server:
        yield fake, str(server.make_url("/2"))


async def triagebot(api_url: str, *args: str, **settings: str) -> Run:
    """The command in its own process, with only the settings given here."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(
        {
            "TRIAGE_X_API_URL": api_url,
            "TRIAGE_X_BEARER_TOKEN": TOKEN,
            "TRIAGE_X_ACCOUNT_ID": ACCOUNT,
            **{f"TRIAGE_{k.upper()}": v for k, v in settings.items()},
        }
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


def table(stdout: str) -> list[list[str]]:
    return [line.split("\t") for line in stdout.splitlines()]


@pytest.mark.parametrize("shape", ["object", "list", "wrapped"])
async def test_subscribe_creates_each_needed_event_type_for_the_account_once(
    x: tuple[Subscriptions, str], shape: str
) -> None:
    fake, url = x
    fake.created_shape = shape
    run = await triagebot(url, "x", "subscribe", x_webhook_id=WEBHOOK)
    assert run.returncode == 0, run.stderr
    posts = [body for method, _, body in fake.requests if method == "POST"]
    assert posts == [
        {"event_type": t, "filter": {"user_id": ACCOUNT}, "tag": "triagebot", "webhook_id": WEBHOOK}
        for t in NEEDED
    ]
    rows = table(run.stdout)
    assert [(r[0], r[1]) for r in rows] == [(t, "created") for t in NEEDED]
    assert {r[2] for r in rows} == set(fake.subs)

    again = await triagebot(url, "x", "subscribe", "--webhook-id", WEBHOOK)
    assert again.returncode == 0, again.stderr
    assert [(r[0], r[1]) for r in table(again.stdout)] == [(t, "exists") for t in NEEDED]
    assert len([m for m, _, _ in fake.requests if m == "POST"]) == len(NEEDED)


async def test_subscribe_moves_a_subscription_on_another_webhook_and_keeps_others(
    x: tuple[Subscriptions, str],
) -> None:
    fake, url = x
    moved = fake.add("post.mention.create", "1111111111111111111")
    kept = fake.add("dm.received", WEBHOOK)
    other_account = fake.add("post.reply.create", WEBHOOK, user_id="42")
    run = await triagebot(url, "x", "subscribe", x_webhook_id=WEBHOOK)
    assert run.returncode == 0, run.stderr
    rows = {r[0]: (r[1], r[2]) for r in table(run.stdout)}
    assert rows["post.mention.create"] == ("moved", moved)
    assert rows["dm.received"] == ("exists", kept)
    assert rows["post.reply.create"][0] == "created"
    assert ("PUT", f"/2/activity/subscriptions/{moved}", {"webhook_id": WEBHOOK}) in fake.requests
    assert fake.subs[moved]["webhook_id"] == WEBHOOK
    assert fake.subs[other_account]["filter"] == {"user_id": "42"}


async def test_dry_run_changes_nothing(x: tuple[Subscriptions, str]) -> None:
    fake, url = x
    fake.add("post.quote.create", None)  # stream only
    run = await triagebot(url, "x", "subscribe", "--dry-run", x_webhook_id=WEBHOOK)
    assert run.returncode == 0, run.stderr
    assert {r[0]: r[1] for r in table(run.stdout)} == {
        "post.mention.create": "would create",
        "post.reply.create": "would create",
        "post.quote.create": "would move",
        "dm.received": "would create",
    }
    assert [m for m, _, _ in fake.requests] == ["GET"]


async def test_subscribe_follows_pages_of_the_subscription_list(
    x: tuple[Subscriptions, str],
) -> None:
    fake, url = x
    fake.page_size = 2
    for n in range(5):
        fake.add("follow.follow", WEBHOOK, user_id=str(100 + n))
    last = fake.add("dm.received", WEBHOOK)
    run = await triagebot(url, "x", "subscribe", x_webhook_id=WEBHOOK)
    assert run.returncode == 0, run.stderr
    assert {r[0]: (r[1], r[2]) for r in table(run.stdout)}["dm.received"] == ("exists", last)
    assert len([m for m, _, _ in fake.requests if m == "GET"]) == 3


async def test_subscriptions_lists_what_the_app_has(x: tuple[Subscriptions, str]) -> None:
    fake, url = x
    sub = fake.add("dm.received", WEBHOOK)
    run = await triagebot(url, "x", "subscriptions")
    assert run.returncode == 0, run.stderr
    assert table(run.stdout) == [[sub, "dm.received", ACCOUNT, WEBHOOK, ""]]


async def test_refusal_by_x_exits_1_with_its_reason_and_never_the_token(
    x: tuple[Subscriptions, str],
) -> None:
    fake, url = x
    fake.refuse = 403
    run = await triagebot(url, "x", "subscribe", x_webhook_id=WEBHOOK)
    assert run.returncode == 1
    assert run.stderr.strip() == "error: X: 403: not on this tier"
    assert TOKEN not in run.stdout + run.stderr
    wrong_token = await triagebot(url, "x", "subscriptions", x_bearer_token="wrong")
    assert wrong_token.returncode == 1
    assert "401: Unauthorized" in wrong_token.stderr


async def test_unreachable_x_exits_1() -> None:
    run = await triagebot("http://127.0.0.1:9/2", "x", "subscribe", x_webhook_id=WEBHOOK)
    assert run.returncode == 1
    assert run.stderr.startswith("error: X: X did not answer")


@pytest.mark.parametrize(
    ("args", "settings", "error"),
    [
        pytest.param([], {}, "TRIAGE_X_WEBHOOK_ID", id="no-webhook"),
        pytest.param(["--webhook-id", "hook"], {}, "numeric ids", id="webhook-not-id"),
        pytest.param([], {"x_webhook_id": WEBHOOK, "x_account_id": ""}, "ACCOUNT_ID", id="no-id"),
        pytest.param([], {"x_webhook_id": WEBHOOK, "x_bearer_token": ""}, "token", id="no-token"),
    ],
)
async def test_bad_settings_exit_2_before_calling_x(
    x: tuple[Subscriptions, str], args: list[str], settings: dict[str, str], error: str
) -> None:
    fake, url = x
    run = await triagebot(url, "x", "subscribe", *args, **settings)
    assert run.returncode == 2
    assert error in run.stderr
    assert fake.requests == []
