"""The audit log on a real Redis: entries in order, exports that parse back, filters, and
trimming by age as the only deletion."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from escalation import keys
from escalation.audit import EXPORT_FIELDS, AuditEntry, AuditLog
from escalation.crypto import Cipher, new_key_spec

DAY_S = 24 * 3600
CIPHER = Cipher.from_spec(new_key_spec())


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await _clear(client)
    yield client
    await _clear(client)
    await client.aclose()


async def _clear(client: Redis) -> None:
    """The keys these tests touch: the log and the repeats counted (other tests on this
    Redis count repeats too, whose windows a test's clock may find ended)."""
    repeats = [name async for name in client.scan_iter(match=f"{keys.PREFIX}:audit:repeats:*")]
    await client.delete(keys.AUDIT, keys.AUDIT_REPEATS_DUE, *repeats)


@pytest.fixture
def audit(redis: Redis) -> AuditLog:
    return AuditLog(redis, CIPHER)


async def record_later(
    audit: AuditLog, redis: Redis, after: AuditEntry, **kwargs: str
) -> AuditEntry:
    """Record once Redis's clock has passed `after`'s millisecond, so the two times differ."""
    deadline = time.monotonic() + 5
    while True:
        seconds, micros = await redis.time()
        if seconds * 1000 + micros // 1000 > after.at.timestamp() * 1000:
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.001)
    return await audit.record(**kwargs)  # type: ignore[arg-type]


async def collect(chunks: AsyncIterator[str]) -> str:
    return "".join([chunk async for chunk in chunks])


async def test_entries_come_back_in_order_with_every_field(audit: AuditLog) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    recorded = [
        await audit.record("alice", "login"),
        await audit.record("alice", "case_view", case_id="c0ffee01"),
        await audit.record("bob", "role_change", detail="user=carol role=agent"),
        await audit.record("cli:root", "user_disable", detail="user=carol"),
    ]
    entries = [e async for e in audit.entries()]
    assert entries == recorded
    assert [(e.actor, e.action, e.case_id, e.detail) for e in entries] == [
        ("alice", "login", None, None),
        ("alice", "case_view", "c0ffee01", None),
        ("bob", "role_change", None, "user=carol role=agent"),
        ("cli:root", "user_disable", None, "user=carol"),
    ]
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    assert all(before < e.at < datetime.now(UTC) + timedelta(seconds=5) for e in entries)


@pytest.mark.parametrize(
    "fields",
    [
        {"actor": "", "action": "login"},
        {"actor": "alice smith", "action": "login"},
        {"actor": "alice\n", "action": "login"},
        {"actor": "a" * 129, "action": "login"},
        {"actor": "alice", "action": "delete_entry"},
        {"actor": "alice", "action": "note", "case_id": "c 1"},
        {"actor": "alice", "action": "note", "case_id": ""},
        {"actor": "alice", "action": "note", "detail": "x" * 201},
        {"actor": "alice", "action": "note", "detail": "line one\nline two"},
    ],
)
async def test_a_malformed_entry_is_refused_and_nothing_is_written(
    audit: AuditLog, redis: Redis, fields: dict[str, str]
) -> None:
    with pytest.raises(ValidationError):
        await audit.record(**fields)  # type: ignore[arg-type]
    assert await redis.xlen(keys.AUDIT) == 0


async def test_csv_export_parses_back_with_its_header(audit: AuditLog) -> None:
    await audit.record("alice", "reply", case_id="c1", detail="template=ack_private")
    await audit.record("bob", "export", detail="format=csv, since=2024-01-01")
    await audit.record("-eve", "note", detail='=HYPERLINK("http://x","click")')
    text = await collect(audit.export_csv())
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(EXPORT_FIELDS)
    entries = [e async for e in audit.entries()]
    assert [r[0] for r in rows[1:]] == [
        e.at.isoformat(timespec="milliseconds").replace("+00:00", "Z") for e in entries
    ]
    assert [r[1:] for r in rows[1:]] == [
        ["alice", "reply", "c1", "template=ack_private"],
        ["bob", "export", "", "format=csv, since=2024-01-01"],
        # A spreadsheet would run these as formulas: exported as plain text instead.
        ["'-eve", "note", "", '\'=HYPERLINK("http://x","click")'],
    ]
    parsed = datetime.fromisoformat(rows[1][0])
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == timedelta(0)


async def test_jsonl_export_parses_back(audit: AuditLog) -> None:
    first = await audit.record("alice", "claim", case_id="c1")
    second = await audit.record("alice", "resolve", case_id="c1", detail="resolution=answered")
    lines = (await collect(audit.export_jsonl())).splitlines()
    objects = [json.loads(line) for line in lines]
    assert [list(o) for o in objects] == [list(EXPORT_FIELDS)] * 2
    assert objects[1] == {
        "at": second.at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "actor": "alice",
        "action": "resolve",
        "case_id": "c1",
        "detail": "resolution=answered",
    }
    assert datetime.fromisoformat(objects[0]["at"]) == first.at


async def test_an_empty_log_exports_a_header_only(audit: AuditLog) -> None:
    assert await collect(audit.export_csv()) == "at,actor,action,case_id,detail\r\n"
    assert await collect(audit.export_jsonl()) == ""


async def test_filters_by_time_actor_and_action(audit: AuditLog, redis: Redis) -> None:
    first = await audit.record("alice", "login")
    second = await record_later(audit, redis, first, actor="bob", action="login")
    third = await record_later(audit, redis, second, actor="alice", action="reveal", case_id="c9")

    async def ids(**filters: object) -> list[str]:
        return [e.id async for e in audit.entries(**filters)]  # type: ignore[arg-type]

    assert await ids(since=second.at) == [second.id, third.id]
    assert await ids(until=second.at) == [first.id]  # until is exclusive
    assert await ids(since=second.at, until=third.at) == [second.id]
    assert await ids(since=third.at + timedelta(milliseconds=1)) == []
    assert await ids(since=second.at + timedelta(microseconds=1)) == [third.id]
    new_york = second.at.astimezone(timezone(timedelta(hours=-5)))
    assert await ids(since=new_york) == [second.id, third.id]
    assert await ids(actor="alice") == [first.id, third.id]
    assert await ids(action="login") == [first.id, second.id]
    assert await ids(actor="alice", action="login") == [first.id]
    assert await ids(limit=2) == [first.id, second.id]
    assert await ids(actor="alice", limit=1) == [first.id]
    assert await ids(limit=0) == []
    since_csv = await collect(audit.export_csv(since=second.at, action="login"))
    assert [r[1] for r in csv.reader(io.StringIO(since_csv))] == ["actor", "bob"]
    with pytest.raises(ValueError, match="time zone"):
        await ids(since=datetime(2024, 1, 1))  # naive: which zone is meant?


async def test_reading_pages_through_a_long_log(audit: AuditLog, redis: Redis) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for i in range(1234):
            pipe.xadd(keys.AUDIT, {"actor": f"user{i}", "action": "case_view"})
        await pipe.execute()
    actors = [e.actor async for e in audit.entries()]
    assert actors == [f"user{i}" for i in range(1234)]
    assert len([e async for e in audit.entries(actor="user1000")]) == 1


def stream_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq)


async def test_newest_first_pages_back_past_thousands_of_entries(
    audit: AuditLog, redis: Redis
) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for i in range(6000):
            pipe.xadd(keys.AUDIT, {"actor": "bob" if i % 1000 == 0 else "eve", "action": "login"})
        await pipe.execute()
    first = await audit.newest(limit=2)
    assert [e.actor for e in first] == ["eve", "eve"]
    assert stream_order(first[0].id) > stream_order(first[1].id)
    bobs = await audit.newest(actor="bob", limit=4)
    assert len(bobs) == 4
    older = await audit.newest(before=bobs[-1].id, actor="bob", limit=4)
    assert len(older) == 2
    assert stream_order(older[0].id) < stream_order(bobs[-1].id)
    with pytest.raises(ValueError, match="entry id"):
        await audit.newest(before="+")


@pytest.mark.parametrize("before", ["18446744073709551616-0", "0-99999999999999999999"])
async def test_a_cursor_past_64_bits_is_refused_as_invalid(audit: AuditLog, before: str) -> None:
    # Redis answers such an id with an error (a 500 from GET /v1/audit before).
    with pytest.raises(ValueError, match="entry id"):
        await audit.newest(before=before)


async def test_nothing_is_older_than_the_first_possible_entry_id(audit: AuditLog) -> None:
    await audit.record("alice", "login")
    assert await audit.newest(before="0000-0000") == []
    assert await audit.newest(before="18446744073709551615-18446744073709551615") != []


async def test_trim_removes_only_entries_older_than_the_retention(redis: Redis) -> None:
    writer = AuditLog(redis, CIPHER)
    old = await writer.record("alice", "login")
    new = await record_later(writer, redis, old, actor="bob", action="login")
    # Seen from a day after `new`: `old` is just over a day old, `new` exactly one day.
    a_day_later = AuditLog(redis, CIPHER, clock=lambda: new.at.timestamp() + DAY_S)

    assert await a_day_later.trim(2) == 0
    assert await a_day_later.trim(1) == 1

    assert [e.id async for e in writer.entries()] == [new.id]
    assert await AuditLog(redis, CIPHER).trim(1) == 0


async def test_trim_refuses_a_retention_under_a_day(audit: AuditLog) -> None:
    await audit.record("alice", "login")
    with pytest.raises(ValueError, match="at least 1"):
        await audit.trim(0)
    assert len([e async for e in audit.entries()]) == 1


async def test_repeats_are_one_entry_per_group_and_window_recorded_once(redis: Redis) -> None:
    now = [1_800_000_000.0]
    audit = AuditLog(redis, CIPHER, clock=lambda: now[0])
    for group in ("a", "a", "a", "b"):
        await audit.count_repeat("alice", "login_failed", "api:throttled", group, 300)
    assert await audit.flush_repeats() == 0  # the window is not over yet
    assert [e async for e in audit.entries()] == []
    now[0] += 300
    flushers = [AuditLog(redis, CIPHER, clock=lambda: now[0]) for _ in range(4)]
    assert sum(await asyncio.gather(*(f.flush_repeats() for f in flushers))) == 2
    details = sorted([e.detail or "" async for e in audit.entries()])
    assert details == ["api:throttled count=1", "api:throttled count=3"]
    assert (await audit.verify()).broken_at is None


def test_there_is_no_way_to_edit_or_delete_one_entry() -> None:
    public = {name for name in vars(AuditLog) if not name.startswith("_")}
    assert public == {
        "record",
        "count_repeat",
        "flush_repeats",
        "entries",
        "newest",
        "export_csv",
        "export_jsonl",
        "trim",
        "verify",
    }


async def test_an_entry_of_a_retired_action_still_reads_and_exports(
    audit: AuditLog, redis: Redis
) -> None:
    await redis.xadd(keys.AUDIT, {"actor": "alice", "action": "retired_action"})
    assert [(e.actor, e.action) async for e in audit.entries()] == [("alice", "retired_action")]
    assert "alice,retired_action,," in await collect(audit.export_csv())


async def chain(audit: AuditLog, n: int) -> list[AuditEntry]:
    return [await audit.record(f"user{i}", "case_view", case_id=f"c{i}") for i in range(n)]


async def test_a_log_written_at_once_by_many_verifies_in_order(
    audit: AuditLog, redis: Redis
) -> None:
    recorded = await asyncio.gather(
        *(audit.record(f"user{i}", "login", detail=f"n={i}") for i in range(60))
    )
    check = await audit.verify()
    assert (check.broken_at, check.reason) == (None, None)
    assert check.entries == 60
    assert check.unchained == 0
    ids = [e.id async for e in audit.entries()]
    assert sorted(ids, key=lambda i: tuple(map(int, i.split("-")))) == ids
    assert sorted(ids) == sorted(e.id for e in recorded)
    last = await redis.xrevrange(keys.AUDIT, count=1)
    assert check.head == last[0][1][b"mac"].decode()
    assert (check.first_id, check.last_id) == (ids[0], ids[-1])


async def test_a_removed_entry_breaks_the_chain_at_the_next_one(
    audit: AuditLog, redis: Redis
) -> None:
    entries = await chain(audit, 5)
    await redis.xdel(keys.AUDIT, entries[2].id)
    check = await audit.verify()
    assert check.broken_at == entries[3].id
    assert "removed or inserted" in (check.reason or "")


async def test_a_rewritten_entry_is_found_even_with_its_old_mac(
    audit: AuditLog, redis: Redis
) -> None:
    entries = await chain(audit, 4)
    raw = await redis.xrange(keys.AUDIT)
    await redis.delete(keys.AUDIT)
    for entry_id, fields in raw:  # the same stream again, one detail changed
        if entry_id.decode() == entries[1].id:
            fields[b"case_id"] = b"c-other"
        await redis.xadd(keys.AUDIT, fields, id=entry_id)
    check = await audit.verify()
    assert check.broken_at == entries[1].id
    assert "changed" in (check.reason or "")


async def test_an_entry_moved_in_time_is_found(audit: AuditLog, redis: Redis) -> None:
    entries = await chain(audit, 3)
    raw = await redis.xrange(keys.AUDIT)
    await redis.delete(keys.AUDIT)
    for entry_id, fields in raw:
        ms, _, seq = entry_id.decode().partition("-")
        await redis.xadd(keys.AUDIT, fields, id=f"{int(ms) + 60_000}-{seq}")
    check = await audit.verify()
    first_ms, _, first_seq = entries[0].id.partition("-")
    assert check.broken_at == f"{int(first_ms) + 60_000}-{first_seq}"
    assert "changed" in (check.reason or "")


async def test_an_entry_forged_without_the_key_is_found(audit: AuditLog, redis: Redis) -> None:
    await chain(audit, 2)
    head = (await audit.verify()).head
    other = AuditLog(redis, Cipher.from_spec(new_key_spec(CIPHER.active)))
    await other.record("mallory", "export")  # same key id, another key: a forgery
    check = await audit.verify()
    assert check.entries == 3
    assert "changed" in (check.reason or "")
    assert head is not None


async def test_trimming_old_entries_keeps_the_rest_verifiable(redis: Redis) -> None:
    writer = AuditLog(redis, CIPHER)
    old = await writer.record("alice", "login")
    new = await record_later(writer, redis, old, actor="bob", action="login")
    await AuditLog(redis, CIPHER, clock=lambda: new.at.timestamp() + DAY_S).trim(1)
    check = await writer.verify()
    assert (check.entries, check.broken_at, check.first_id) == (1, None, new.id)


async def test_entries_from_before_the_chain_are_counted_not_failed(
    audit: AuditLog, redis: Redis
) -> None:
    await redis.xadd(keys.AUDIT, {"actor": "alice", "action": "login"})
    await chain(audit, 2)
    check = await audit.verify()
    assert (check.entries, check.unchained, check.broken_at) == (3, 1, None)
    await redis.xadd(keys.AUDIT, {"actor": "eve", "action": "login"})  # after: not allowed
    assert (await audit.verify()).reason == "unchained"
