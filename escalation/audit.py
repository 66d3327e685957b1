"""The append-only audit log: who did what, to which case, and when.

One Redis stream. Entry ids are Redis's own clock, so entries from every worker are in
the order they happened, and an entry's time is its id. There is no way to change or
delete an entry: the one deletion is `trim`, which drops what is older than the retention
period (HIPAA asks for six years), to be run by a retention job.

The entries form a hash chain: each holds the MAC of the one before (`prev`) and its own
(`mac`, HMAC-SHA256 over its id, fields and `prev`, under a key derived from the at-rest
encryption key). Someone with write access to Redis but not the key cannot change,
insert, delete or reorder entries without `verify` finding it; only entries cut off an end
could go unnoticed (the oldest look trimmed by retention; the newest are found when a head
that `verify` printed earlier was noted somewhere else).

Callers must never pass message content, names or anything else about a patient: `detail`
is for short codes such as "csv" or "role=agent" (it is stored in clear), and only its
length and characters are checked here.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast, get_args

from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis
from redis.exceptions import WatchError

from escalation import keys
from escalation.crypto import Cipher
from escalation.replies import as_text

AuditAction = Literal[
    "login",
    "login_failed",
    "logout",
    "token_issue",
    "case_view",
    "reveal",
    "break_glass",  # a reveal or note of a case another agent holds, with its reason
    "reply",
    "claim",
    "release",
    "resolve",
    "transfer",
    "note",
    "status_change",
    "role_change",
    "user_add",
    "user_disable",
    "user_enable",
    "password_change",
    "export",
    "audit_verify",
    "purge",
    "faq_change",
    "faq_approve",
]
ACTIONS: tuple[AuditAction, ...] = get_args(AuditAction)
MAX_DETAIL_CHARS = 200
EXPORT_FIELDS = ("at", "actor", "action", "case_id", "detail")
_DAY_S = 24 * 3600
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_PAGE = 500
_STREAM_ID = re.compile(r"(\d{1,20})-(\d{1,20})")
# A count not flushed by then (no service running) is dropped with its key.
_REPEATS_KEPT_S = 7 * _DAY_S
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@")


class AuditRecord(BaseModel):
    """What a caller records. `actor` is a username, `cli:<os user>` or `system`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: str = Field(min_length=1, max_length=128, pattern=r"^[^\s\x00-\x1f\x7f]+$")
    action: AuditAction
    case_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    detail: str | None = Field(
        default=None, max_length=MAX_DETAIL_CHARS, pattern=r"^[^\x00-\x1f\x7f]*$"
    )


class AuditEntry(AuditRecord):
    """A recorded entry: its stream id and the time Redis gave it."""

    id: str
    at: datetime

    def export_row(self) -> dict[str, str | None]:
        """The entry as exported: EXPORT_FIELDS, time in ISO 8601 UTC."""
        at = self.at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {
            "at": at,
            "actor": self.actor,
            "action": self.action,
            "case_id": self.case_id,
            "detail": self.detail,
        }


_MAC_PURPOSE = b"triagebot audit chain"
_CHAIN_FIELDS = ("kid", "prev", "mac")


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """What `AuditLog.verify` found. `broken_at` is None when the chain holds."""

    entries: int
    first_id: str | None
    last_id: str | None
    head: str | None  # the newest entry's MAC: note it elsewhere to detect a cut-off tail
    unchained: int  # entries recorded before the log was chained (oldest first)
    broken_at: str | None = None
    reason: str | None = None
    anchor_found: bool | None = None  # whether a head noted earlier is still in the chain


def _chain_text(entry_id: str, fields: Mapping[str, str], prev: str) -> bytes:
    names = ("actor", "action", "case_id", "detail")
    return "\x1f".join([entry_id, *(fields.get(n, "") for n in names), prev]).encode()


# A stream page as the (non-decoding) clients return it.
_Page = list[tuple[bytes, dict[bytes, bytes]]]


def _entry(entry_id: bytes | str, fields: Mapping[str, str]) -> AuditEntry:
    stream_id = as_text(entry_id)
    at = _EPOCH + timedelta(milliseconds=int(stream_id.partition("-")[0]))
    # Checked when recorded; not again, so that an entry of an action since retired (or
    # of a later version) can still be read and exported.
    return AuditEntry.model_construct(
        id=stream_id,
        at=at,
        actor=fields.get("actor", ""),
        action=cast(AuditAction, fields.get("action", "")),
        case_id=fields.get("case_id"),
        detail=fields.get("detail"),
    )


def _ms_ceil(moment: datetime) -> int:
    """The first whole millisecond at or after `moment` (in integers: floats would round)."""
    if moment.tzinfo is None:
        raise ValueError("since and until need a time zone")
    return -((_EPOCH - moment) // _MS)


def _csv_cell(value: str | None) -> str:
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


class AuditLog:
    """Record and read the audit stream."""

    def __init__(
        self, redis: Redis, cipher: Cipher, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._cipher = cipher
        self._clock = clock  # only for the retention cutoff: entry times are Redis's

    async def record(
        self,
        actor: str,
        action: AuditAction,
        case_id: str | None = None,
        detail: str | None = None,
    ) -> AuditEntry:
        """Append one entry (ValueError for a malformed one). Never pass message content."""
        record = AuditRecord(actor=actor, action=action, case_id=case_id, detail=detail)
        fields: dict[str, str] = record.model_dump(exclude_none=True)
        kid = self._cipher.active
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    # Chained on the newest entry: any other append (or a trim) between
                    # this read and the write makes the write fail, and it is done again.
                    await pipe.watch(keys.AUDIT)
                    last = cast(_Page, await pipe.xrevrange(keys.AUDIT, count=1))
                    seconds, micros = await pipe.time()
                    entry_id = _next_id(last[0][0] if last else None, seconds, micros)
                    prev = as_text(last[0][1].get(b"mac", b"")) if last else ""
                    mac = self._cipher.mac(_chain_text(entry_id, fields, prev), _MAC_PURPOSE, kid)
                    chained = fields | {"kid": kid, "prev": prev, "mac": mac}
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.xadd(keys.AUDIT, cast(dict[Any, Any], chained), id=entry_id)
                    await pipe.execute()
                except WatchError:
                    continue
                return _entry(entry_id, fields)

    async def count_repeat(
        self, actor: str, action: AuditAction, detail: str, group: str, window_s: int
    ) -> None:
        """Count one more of an event that repeats (a refused login) instead of recording it.

        `flush_repeats` records one entry per group and window, with the count, once the
        window is over: a client that keeps trying cannot grow the log by one entry a try.
        """
        AuditRecord(actor=actor, action=action, detail=detail)  # refused now, not at the flush
        window = int(self._clock() // window_s)
        key = keys.audit_repeats(group, window)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"actor": actor, "action": action, "detail": detail})
            pipe.hincrby(key, "count", 1)
            pipe.expire(key, window_s + _REPEATS_KEPT_S)
            pipe.zadd(keys.AUDIT_REPEATS_DUE, {key: (window + 1) * window_s}, nx=True)
            await pipe.execute()

    async def flush_repeats(self) -> int:
        """Record the counted events whose window is over, one entry each; how many."""
        due = cast(
            list[bytes],
            await self._redis.zrangebyscore(keys.AUDIT_REPEATS_DUE, "-inf", self._clock()),
        )
        recorded = 0
        for raw_key in due:
            key = as_text(raw_key)
            # Taken in one step: when several workers flush, one of them records it.
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hgetall(key)
                pipe.delete(key)
                pipe.zrem(keys.AUDIT_REPEATS_DUE, key)
                raw, _, taken = await pipe.execute()
            fields = {as_text(k): as_text(v) for k, v in raw.items()}
            if not taken or not fields:
                continue
            action = cast(AuditAction, fields["action"])
            detail = f"{fields['detail']} count={fields['count']}"
            await self.record(fields["actor"], action, detail=detail)
            recorded += 1
        return recorded

    async def verify(self, anchor: str | None = None) -> ChainCheck:
        """Walk the whole log and check every link and MAC (reads only).

        `anchor`: a head printed by an earlier verify; with it, `anchor_found` says whether
        the chain still holds that entry (it does not after entries were cut off its end).
        """
        count = unchained = 0
        found = None if anchor is None else False
        first = last = None
        prev: str | None = None  # the MAC the next entry must name; None before any
        async for entry_id, fields in self._raw("-", "+"):
            count += 1
            first = first or entry_id
            last = entry_id
            problem = self._check(entry_id, fields, prev)
            if problem == "unchained" and prev is None:
                unchained += 1
                continue
            if problem is not None:
                return ChainCheck(count, first, last, prev, unchained, entry_id, problem)
            prev = fields["mac"]
            if anchor is not None and hmac.compare_digest(prev, anchor):
                found = True
        return ChainCheck(count, first, last, prev, unchained, anchor_found=found)

    def _check(self, entry_id: str, fields: Mapping[str, str], prev: str | None) -> str | None:
        """Why this entry breaks the chain, or None."""
        if not all(name in fields for name in _CHAIN_FIELDS):
            return "unchained"
        if fields["kid"] not in self._cipher.key_ids:
            return f"recorded with key {fields['kid']!r}, which is not among the keys"
        if prev is not None and fields["prev"] != prev:
            return "does not follow the entry before it (one was removed or inserted)"
        expected = self._cipher.mac(
            _chain_text(entry_id, fields, fields["prev"]), _MAC_PURPOSE, fields["kid"]
        )
        if not hmac.compare_digest(expected, fields["mac"]):
            return "its content or time was changed"
        return None

    async def entries(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        action: AuditAction | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[AuditEntry]:
        """Entries from `since` (inclusive) to `until` (exclusive), oldest first."""
        start = "-" if since is None else str(_ms_ceil(since))
        end = "+" if until is None else str(_ms_ceil(until) - 1)
        if end.startswith("-") or limit == 0:
            return
        found = 0
        async for entry_id, fields in self._raw(start, end):
            entry = _entry(entry_id, fields)
            if (actor is None or entry.actor == actor) and (
                action is None or entry.action == action
            ):
                yield entry
                found += 1
                if limit is not None and found >= limit:
                    return

    async def newest(
        self,
        before: str | None = None,
        actor: str | None = None,
        action: AuditAction | None = None,
        limit: int = 500,
    ) -> list[AuditEntry]:
        """Up to `limit` entries, newest first, older than the entry id `before` if given
        (the id of the last entry of the page before: a cursor)."""
        if before is not None:
            cursor = _STREAM_ID.fullmatch(before)
            # Redis refuses an id past 64 bits with an error, not an empty range.
            if cursor is None or max(int(cursor[1]), int(cursor[2])) >= 2**64:
                raise ValueError("before must be an entry id")
            if int(cursor[1]) == int(cursor[2]) == 0:
                return []  # nothing is older than the first possible id, and "(0-0" is refused
        end = "+" if before is None else "(" + before
        found: list[AuditEntry] = []
        while len(found) < limit:
            page = cast(_Page, await self._redis.xrevrange(keys.AUDIT, end, "-", count=_PAGE))
            for raw_id, raw_fields in page:
                fields = {as_text(k): as_text(v) for k, v in raw_fields.items()}
                entry = _entry(raw_id, fields)
                if (actor is None or entry.actor == actor) and (
                    action is None or entry.action == action
                ):
                    found.append(entry)
                    if len(found) >= limit:
                        return found
            if len(page) < _PAGE:
                break
            end = "(" + as_text(page[-1][0])
        return found

    async def _raw(self, start: str, end: str) -> AsyncIterator[tuple[str, dict[str, str]]]:
        """(id, fields) of the stream's entries from `start` to `end`, a page at a time."""
        while True:
            page = cast(_Page, await self._redis.xrange(keys.AUDIT, start, end, count=_PAGE))
            for entry_id, fields in page:
                yield as_text(entry_id), {as_text(k): as_text(v) for k, v in fields.items()}
            if len(page) < _PAGE:
                return
            start = "(" + as_text(page[-1][0])

    async def export_csv(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        action: AuditAction | None = None,
    ) -> AsyncIterator[str]:
        """CSV text, a header line then one line per entry.

        A cell that a spreadsheet would run as a formula gets a leading apostrophe.
        """
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_FIELDS)
        yield _take(buffer)
        async for entry in self.entries(since, until, actor, action):
            writer.writerow([_csv_cell(v) for v in entry.export_row().values()])
            yield _take(buffer)

    async def export_jsonl(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        action: AuditAction | None = None,
    ) -> AsyncIterator[str]:
        """JSON Lines text, one object with EXPORT_FIELDS per entry."""
        async for entry in self.entries(since, until, actor, action):
            yield json.dumps(entry.export_row()) + "\n"

    async def trim(self, retention_days: int) -> int:
        """Delete the entries older than `retention_days`; how many went.

        The only deletion the audit log has.
        """
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        cutoff_ms = round((self._clock() - retention_days * _DAY_S) * 1000)
        if cutoff_ms <= 0:
            return 0
        return await self._redis.xtrim(keys.AUDIT, minid=str(cutoff_ms), approximate=False)


def _next_id(last_id: bytes | None, seconds: int, micros: int) -> str:
    """The stream id for a new entry: Redis's clock now, after the newest entry's id."""
    now_ms = seconds * 1000 + micros // 1000
    if last_id is None:
        return f"{now_ms}-0"
    last_ms, _, last_seq = as_text(last_id).partition("-")
    if now_ms > int(last_ms):
        return f"{now_ms}-0"
    return f"{last_ms}-{int(last_seq) + 1}"


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
