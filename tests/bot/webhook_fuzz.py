"""The signed-webhook fuzz: Meta and X deliveries mixing good items with every oddity JSON
can carry, signed and sent to the real app on a real Redis.

What must hold: no 5xx, ever; and when the body is JSON (deep, huge or odd as it may be),
every good item of it is recorded. Shared by tests/bot/test_webhook_fuzz.py (a bounded
count) and bench/contract_fuzz.py (the full run).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import create_app
from bot.appkeys import REDIS
from bot.settings import Settings
from escalation import keys

META_SECRET = "fuzz-meta-app-secret"
X_SECRET = "fuzz-x-consumer-secret"
PAGE_ID = "104857362918273"
X_ACCOUNT = "1500000000000000001"
FUZZ_DB = 12
XAA = Path(__file__).resolve().parents[2] / "bot" / "connectors" / "fixtures" / "x" / "xaa"
Platform = Literal["meta", "x"]
# Raw JSON written where a value goes: each is JSON (or what Python's json reads as JSON).
DEEP = 10_000
RAW_STRINGS = [r'"\ud800"', r'"a\udfffb"', r'"\udc00\ud800"', r'"\u0000"', r'"x\u0000y"', '""']
RAW_VALUES = [
    *RAW_STRINGS,
    "1e400",
    "-1e400",
    "1" + "0" * 400,
    "9" * 5000,  # past Python's 4,300-digit limit for int()
    "NaN",
    "Infinity",
    "-0.0",
    "[" * DEEP + "]" * DEEP,
    '{"a":' * DEEP + "1" + "}" * DEEP,
    '{"k": 1, "k": [2]}',
    "null",
    "true",
    "[]",
    "{}",
    "[null]",
    '{"": null}',
]
_ids = itertools.count()


@dataclass
class Delivery:
    """A signed body, and the ids of its good items (each must be recorded)."""

    platform: Platform
    raw: bytes
    good: list[str]
    oddities: list[str] = field(default_factory=list)
    bad: int = 0  # items given a wrong value or a missing field


@dataclass
class Tally:
    """Deliveries sent, statuses seen, 5xx and good items lost."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    oddities: Counter[str] = field(default_factory=Counter)
    good_sent: int = 0
    mixed: int = 0  # deliveries with good and bad items
    server_errors: int = 0
    lost: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Every delivery sent."""
        return sum(self.statuses.values())


def _fresh_id(platform: Platform) -> str:
    # Unique across the run, so that "recorded" cannot be an earlier delivery's receipt.
    n = next(_ids)
    return f"19{n:017d}" if platform == "x" else f"fz{n}_{PAGE_ID}"


def _meta_item(comment_id: str, text: str) -> dict[str, Any]:
    return {
        "field": "feed",
        "value": {
            "item": "comment",
            "verb": "add",
            "comment_id": comment_id,
            "post_id": f"{PAGE_ID}_42",
            "from": {"id": "5532019987431276", "name": "A Person"},
            "message": text,
            "created_time": 1733413000,
        },
    }


def _x_item(tweet_id: str, text: str) -> dict[str, Any]:
    return {
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": text,
        "in_reply_to_status_id_str": None,
        "user": {"id_str": "3300000000000000003", "screen_name": "samvisits"},
        "lang": "en",
    }


def _meta_event(mid: str, text: str) -> dict[str, Any]:
    return {
        "sender": {"id": "6583920174628391"},
        "recipient": {"id": PAGE_ID},
        "timestamp": 1733412289870,
        "message": {"mid": mid, "text": text},
    }


def _x_activity(post_id: str, text: str) -> dict[str, Any]:
    """An X Activity API mention (one event per body), from X's own sample."""
    body: dict[str, Any] = json.loads((XAA / "post_mention_create.json").read_text())
    event = body["data"]
    event.update(event_uuid=post_id, filter={"user_id": X_ACCOUNT})
    event["payload"].update(id=post_id, conversation_id=post_id, text=text)
    return event


def _x_dm(event_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "message_create",
        "id": event_id,
        "created_timestamp": "1741110000000",
        "message_create": {
            "target": {"recipient_id": X_ACCOUNT},
            "sender_id": "6600000000000000006",
            "message_data": {"text": text},
        },
    }


def _paths(node: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every place in a JSON tree a value sits (the root excluded)."""
    found: list[tuple[str | int, ...]] = []
    children = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in children:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


class _Raw:
    """Marks a place whose value is written as raw JSON text."""

    def __init__(self, text: str) -> None:
        self.text = text


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
raw_values = st.sampled_from(RAW_VALUES).map(_Raw)
wrong_values = (
    json_scalars
    | st.lists(json_scalars, max_size=3)
    | st.dictionaries(st.text(max_size=8), json_scalars, max_size=3)
)
good_texts = st.sampled_from(
    ["where do I park?", "what are visiting hours?", "my mrn is 8834120 and I need my results"]
) | st.text(min_size=1, max_size=80).filter(str.strip)


@st.composite
def _bad(draw: st.DrawFn, item: dict[str, Any], oddities: list[str]) -> dict[str, Any]:
    """The item with one to three places given a wrong value, or removed."""
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(item)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = item
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.integers(0, 5)) == 0 and isinstance(parent, dict):
            del parent[path[-1]]
            oddities.append("missing")
            continue
        # Raw oddities half the time: each shows up in about a hundred deliveries of 1,200.
        value = draw(raw_values if draw(st.booleans()) else wrong_values)
        parent[path[-1]] = value
        oddities.append(
            f"raw:{value.text[:12]}" if isinstance(value, _Raw) else f"{type(value).__name__}"
        )
    return item


@st.composite
def deliveries(draw: st.DrawFn, platform: Platform) -> Delivery:
    """A signed delivery: good items (maybe with odd but storable texts), bad ones, raw
    oddities in the bad ones, duplicate keys, a BOM."""
    good: list[str] = []
    oddities: list[str] = []
    bad = 0
    items: list[tuple[str, dict[str, Any]]] = []  # (kind, item)
    kinds = ["change", "event"] if platform == "meta" else ["tweet", "dm"]
    # X Activity API bodies hold one event each.
    activity = platform == "x" and draw(st.integers(0, 3)) == 0
    for _ in range(1 if activity else draw(st.integers(1, 6))):
        item_id = _fresh_id(platform)
        # Texts with a lone surrogate or a NUL are storable: they are good items too.
        text: Any = draw(good_texts | st.sampled_from(RAW_STRINGS[:5]).map(_Raw))
        kind = "activity" if activity else draw(st.sampled_from(kinds))
        build = {
            "change": _meta_item,
            "event": _meta_event,
            "tweet": _x_item,
            "dm": _x_dm,
            "activity": _x_activity,
        }[kind]
        item = build(item_id, "placeholder")
        _set_text(item, text)
        if draw(st.booleans()):
            items.append((kind, draw(_bad(item, oddities))))
            bad += 1
        else:
            items.append((kind, item))
            good.append(item_id)
            if isinstance(text, _Raw):
                oddities.append(f"good-text:{text.text[:12]}")
    if platform == "meta":
        entry = {
            "id": PAGE_ID,
            "time": 1733413001,
            "changes": [i for k, i in items if k == "change"],
            "messaging": [i for k, i in items if k == "event"],
        }
        body: dict[str, Any] = {"object": "page", "entry": [entry]}
    elif activity:
        body = {"data": items[0][1]}
    else:
        body = {
            "for_user_id": X_ACCOUNT,
            "tweet_create_events": [i for k, i in items if k == "tweet"],
            "direct_message_events": [i for k, i in items if k == "dm"],
        }
    if draw(st.integers(0, 11)) == 0:
        # A wrong value at the top (object, entry, for_user_id…): no item need survive it.
        body[draw(st.sampled_from(sorted(body)))] = draw(raw_values | wrong_values)
        good = []
        oddities.append("top-level")
    raw = _write(body)
    if draw(st.booleans()):
        # Duplicate keys: the earlier one loses, so the body means the same.
        first = b'{"object": 7, ' if platform == "meta" else b'{"for_user_id": [1], '
        raw = first + raw[1:]
        oddities.append("duplicate-key")
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16"]))
    if encoding != "utf-8":
        raw = raw.decode().encode(encoding)
        oddities.append(encoding)
    if not good and draw(st.booleans()):
        raw = draw(st.sampled_from([b"", b"{", raw[: len(raw) // 2], b"[]", b"null", raw + b"x"]))
        oddities.append("not-a-delivery")
    return Delivery(platform, raw, good, oddities, bad)


def _set_text(item: dict[str, Any], text: Any) -> None:
    if "value" in item:
        item["value"]["message"] = text
    elif "payload" in item:
        item["payload"]["text"] = text
    elif "message" in item:
        item["message"]["text"] = text
    elif "message_create" in item:
        item["message_create"]["message_data"]["text"] = text
    else:
        item["text"] = text


def _write(body: Any) -> bytes:
    """JSON text of a tree whose _Raw places are written as they are."""
    raws: list[str] = []

    def default(value: object) -> str:
        if not isinstance(value, _Raw):
            raise TypeError(type(value).__name__)
        raws.append(value.text)
        return f"\x00raw{len(raws) - 1}\x00"

    text = json.dumps(body, default=default, allow_nan=True)
    for n, raw in enumerate(raws):
        text = text.replace(json.dumps(f"\x00raw{n}\x00"), raw, 1)
    return text.encode()


def signed(platform: Platform, raw: bytes) -> dict[str, str]:
    """The platform's signature header for a body, and its content type."""
    if platform == "meta":
        digest = hmac.new(META_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}
    mac = hmac.new(X_SECRET.encode(), raw, hashlib.sha256).digest()
    signature = base64.b64encode(mac).decode()
    return {
        "x-twitter-webhooks-signature": f"sha256={signature}",
        "Content-Type": "application/json",
    }


@asynccontextmanager
async def webhook_client(data_dir: Path, redis_url: str) -> AsyncIterator[TestClient]:
    """The app with both connectors and no worker (receipts stay in the inbox to be
    checked), on a Redis database of its own, emptied before and after."""
    redis_url = urlsplit(redis_url)._replace(path=f"/{FUZZ_DB}").geturl()
    own = Redis.from_url(redis_url)
    await own.flushdb()
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        redis_url=SecretStr(redis_url),
        meta_app_secret=SecretStr(META_SECRET),
        meta_page_token=SecretStr("page-token"),
        meta_page_id=PAGE_ID,
        x_consumer_secret=SecretStr(X_SECRET),
        x_bearer_token=SecretStr("bearer"),
        x_account_id=X_ACCOUNT,
        workers=0,
    )
    try:
        async with TestClient(TestServer(create_app(settings))) as client:
            yield client
    finally:
        await own.flushdb()
        await own.aclose()


async def send(client: TestClient, delivery: Delivery, tally: Tally) -> None:
    """Send one delivery; count a 5xx or a good item not recorded."""
    tally.oddities.update(set(delivery.oddities))
    tally.good_sent += len(delivery.good)
    tally.mixed += bool(delivery.good) and delivery.bad > 0
    response = await client.post(
        f"/webhooks/{delivery.platform}",
        data=delivery.raw,
        headers=signed(delivery.platform, delivery.raw),
    )
    answer = await response.read()
    tally.statuses[(delivery.platform, response.status)] += 1
    if response.status >= 500:
        tally.server_errors += 1
        tally.lost.append(f"{delivery.platform} {response.status} {delivery.oddities}")
        return
    redis: Redis = client.app[REDIS]
    for item_id in delivery.good:
        if not await redis.exists(keys.seen(delivery.platform, item_id)):
            tally.lost.append(
                f"{delivery.platform} {response.status} {answer[:200]!r}: good item {item_id} "
                f"not recorded; oddities {delivery.oddities}"
            )


def generate(platform: Platform, count: int) -> list[Delivery]:
    """`count` deliveries drawn by hypothesis, for a run outside pytest."""
    drawn: list[Delivery] = []

    @settings(
        max_examples=count, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(delivery=deliveries(platform))
    def collect(delivery: Delivery) -> None:
        drawn.append(delivery)

    collect()
    return drawn
