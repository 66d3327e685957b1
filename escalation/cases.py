"""Cases: escalated conversations in the human queue.

A case is a Redis hash. What identifies nobody (status, priority, team, times, reason
codes, the agent holding it) is kept in plain fields so the queue can be ordered and
listed; everything from or about the person (their message, name and id, the whole
conversation, staff notes) is AES-GCM encrypted, bound to the case id.

Lifecycle: new -> claimed -> waiting (on the person) -> resolved, and back to new when
the person writes again. A claim is a lease: an agent who goes silent (a closed laptop,
a killed process) loses it when it ends, and the case returns to the queue.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.exceptions import ResponseError, WatchError

from escalation import keys
from escalation.crypto import Cipher
from escalation.replies import as_bytes, as_text
from nlu.models import Priority

Status = Literal["new", "claimed", "waiting", "resolved"]
STATUSES: tuple[Status, ...] = get_args(Status)
Team = Literal["patient_relations", "billing", "nursing", "pharmacy"]
TEAMS: tuple[Team, ...] = get_args(Team)
PRIORITIES: tuple[Priority, ...] = ("urgent", "high", "normal", "low")
Sender = Literal["person", "staff", "bot"]
# Why someone may reveal or note a case another agent holds: codes, never free text, so
# that no PHI goes into the audit log with them.
BreakGlassReason = Literal[
    "patient_safety", "holder_unavailable", "covering_shift", "supervisor_request"
]
BREAK_GLASS_REASONS: tuple[BreakGlassReason, ...] = get_args(BreakGlassReason)
# Roles that oversee every case: they reveal and note without stating a reason.
OVERSIGHT_ROLES = ("admin", "compliance")
# A person's later messages join their case for this long after its last activity.
PERSON_LINK_TTL_S = 30 * 24 * 3600
_RANK_SPAN = 10**13  # larger than any time in ms, so rank always orders before age


class CaseError(Exception):
    """A case operation that cannot be done; `status` is the HTTP status it maps to."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def needs_break_glass(case: Case, username: str, role: str) -> bool:
    """Whether revealing or noting the case needs a stated reason: another agent holds it
    (claimed) and the user is neither an admin nor compliance."""
    held_by_other = case.status == "claimed" and case.claimed_by not in (None, username)
    return held_by_other and role not in OVERSIGHT_ROLES


def break_glass(
    case: Case, username: str, role: str, reason: str | None
) -> BreakGlassReason | None:
    """The rule for revealing or noting a case: the holder, admins and compliance may;
    anyone else only by breaking the glass with one of BREAK_GLASS_REASONS.

    Returns the reason the caller must audit (None when none was needed); CaseError 403
    when one was needed and not given.
    """
    if not needs_break_glass(case, username, role):
        return None
    for known in BREAK_GLASS_REASONS:
        if reason == known:
            return known
    raise CaseError(
        "another agent holds this case: reveal or note it only with a break-glass reason "
        f"({', '.join(BREAK_GLASS_REASONS)}), which is audited",
        403,
    )


class Case(BaseModel):
    """A case's metadata: nothing in it identifies the person or their health."""

    id: str
    status: Status
    priority: Priority
    channel: str
    reasons: list[str] = Field(default_factory=list)
    team: Team | None = None
    claimed_by: str | None = None
    lease_until: float | None = None
    created_at: float
    updated_at: float
    sla_due_at: float
    first_response_at: float | None = None
    resolved_at: float | None = None
    reopened: int = 0
    handed_back: bool = False

    def breached(self, now: float) -> bool:
        """No staff response before the SLA target for its priority."""
        answered = self.first_response_at
        return (answered if answered is not None else now) > self.sla_due_at


class Source(BaseModel):
    """Where a case came from and who wrote: encrypted at rest."""

    channel: str
    message_id: str
    version: str | None = None  # set for an edit: this version is its own message in a case
    author_id: str
    author_name: str | None = None
    thread_id: str | None = None
    kind: str = "api"  # comment, direct or api: where staff replies can be delivered
    account_id: str | None = None  # our page or account that received it
    text: str
    entities: list[tuple[str, int, int]] = Field(default_factory=list)  # type, start, end

    @property
    def version_id(self) -> str:
        """The message's id, with its version for an edit (so an edit joins its case)."""
        return self.message_id if self.version is None else f"{self.message_id}~{self.version}"


class CaseMessage(BaseModel):
    """One message of the conversation: encrypted at rest."""

    sender: Sender
    author: str | None = None  # the staff username for staff messages
    text: str
    at: float
    # What the engine found in a person's message (type, start, end), for the masked view;
    # None for staff and bot texts, and for messages kept before it was recorded.
    entities: list[tuple[str, int, int]] | None = None
    edited: bool = False  # a new version of a message the person sent before


class Note(BaseModel):
    """An internal note: staff only, never sent to the person; encrypted at rest."""

    author: str
    text: str
    at: float


@dataclass(frozen=True, slots=True)
class SlaTargets:
    """Seconds to a first staff response, per priority."""

    urgent: int = 15 * 60
    high: int = 3600
    normal: int = 4 * 3600
    low: int = 24 * 3600

    def for_priority(self, priority: Priority) -> int:
        """The target for one priority."""
        return int(getattr(self, priority))


def queue_score(priority: Priority, created_ms: int) -> int:
    """Order of the queue: urgent before high before normal before low, then oldest first."""
    return PRIORITIES.index(priority) * _RANK_SPAN + created_ms


# Shared by claim and requeue: cases whose lease ended go back to the queue.
_REQUEUE_EXPIRED = """
local function requeue_expired(leases, queue, now, prefix)
  local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now)
  for _, id in ipairs(expired) do
    local key = prefix .. 'case:' .. id
    redis.call('ZREM', leases, id)
    if redis.call('HGET', key, 'status') == 'claimed' then
      local created = redis.call('HGET', key, 'created_ms')
      redis.call('HSET', key, 'status', 'new', 'claimed_by', '', 'lease_until', '',
                 'updated_at', now / 1000)
      redis.call('ZADD', queue, redis.call('HGET', key, 'queue_score'), id)
      redis.call('ZREM', prefix .. 'cases:claimed', id)
      redis.call('ZADD', prefix .. 'cases:new', created, id)
    end
  end
  return #expired
end
"""
# KEYS: queue, leases. ARGV: now ms, lease end ms, agent, case id or '', key prefix.
_CLAIM = (
    _REQUEUE_EXPIRED
    + """
requeue_expired(KEYS[2], KEYS[1], tonumber(ARGV[1]), ARGV[5])
local id = ARGV[4]
local key, status
if id == '' then
  -- The head of the queue; an id without a case (never expected) is dropped, not served.
  repeat
    local first = redis.call('ZRANGE', KEYS[1], 0, 0)
    if #first == 0 then return false end
    id = first[1]
    key = ARGV[5] .. 'case:' .. id
    status = redis.call('HGET', key, 'status')
    if not status then redis.call('ZREM', KEYS[1], id) end
  until status
else
  key = ARGV[5] .. 'case:' .. id
  status = redis.call('HGET', key, 'status')
end
if not status then return {err = 'not_found'} end
if status == 'resolved' then return {err = 'resolved'} end
local holder = redis.call('HGET', key, 'claimed_by')
if status == 'claimed' and holder ~= ARGV[3] then return {err = 'claimed'} end
redis.call('ZREM', KEYS[1], id)
redis.call('ZADD', KEYS[2], ARGV[2], id)
redis.call('HSET', key, 'status', 'claimed', 'claimed_by', ARGV[3], 'lease_until',
           ARGV[2] / 1000, 'updated_at', ARGV[1] / 1000)
redis.call('ZREM', ARGV[5] .. 'cases:' .. status, id)
redis.call('ZADD', ARGV[5] .. 'cases:claimed', redis.call('HGET', key, 'created_ms'), id)
return id
"""
)
_REQUEUE = _REQUEUE_EXPIRED + "return requeue_expired(KEYS[2], KEYS[1], tonumber(ARGV[1]), ARGV[2])"
# One round trip for a new escalation: the redelivery check, the person's earlier case,
# and the case with its first message, queue entry and (optionally) private link.
# KEYS: message marker, person link, case hash, queue, cases, status set, thread, link key,
#       the message's link marker.
# ARGV: case id, marker ttl, person ttl, queue score, created ms, first thread entry,
#       link ttl (0: no link), case key prefix, remember the link (1/0), field/value pairs.
# Returns {'known', id}, {'person', id} (the caller joins that case) or {'opened', id}.
_OPEN = """
local known = redis.call('GET', KEYS[1])
if known then return {'known', known} end
local earlier = redis.call('GET', KEYS[2])
if earlier and redis.call('EXISTS', ARGV[8] .. earlier) == 1 then
  return {'person', earlier}
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
redis.call('HSET', KEYS[3], unpack(ARGV, 10))
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[5], ARGV[1])
redis.call('ZADD', KEYS[6], ARGV[5], ARGV[1])
redis.call('RPUSH', KEYS[7], ARGV[6])
if tonumber(ARGV[7]) > 0 then
  redis.call('SET', KEYS[8], ARGV[1], 'EX', ARGV[7])
  if ARGV[9] == '1' then redis.call('SET', KEYS[9], KEYS[8], 'EX', ARGV[7]) end
end
return {'opened', ARGV[1]}
"""
_ERRORS = {
    "not_found": CaseError("no such case", 404),
    "resolved": CaseError("the case is resolved", 409),
    "claimed": CaseError("another agent holds this case", 409),
}


def _opt_float(value: bytes | None) -> float | None:
    return float(value) if value else None


class CaseStore:
    """Cases in Redis: open, claim, converse, transfer, resolve, reopen."""

    def __init__(
        self,
        redis: Redis,
        cipher: Cipher,
        *,
        lease_s: float = 600.0,
        sla: SlaTargets | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis, self.cipher = redis, cipher
        self.lease_s, self.sla, self.clock = lease_s, sla or SlaTargets(), clock
        self._claim = redis.register_script(_CLAIM)
        self._requeue = redis.register_script(_REQUEUE)
        self._open = redis.register_script(_OPEN)

    # Opening -------------------------------------------------------------------------

    async def open(
        self,
        source: Source,
        priority: Priority,
        reasons: Sequence[str],
        *,
        link: tuple[str, int] | None = None,
        relinkable: bool = False,
    ) -> tuple[str, bool]:
        """The case for a message: (case id, opened now).

        A redelivered message finds the case it opened before. A new message from a
        person with a recent case joins that case (and reopens it) instead. `link`
        (key, ttl) is pointed at a case opened now, in the same step: its private link;
        `relinkable` remembers it under the message, for `PrivateLinks.reissue`.
        """
        marker = keys.case_for_message(source.channel, source.version_id)
        person = keys.case_for_person(self._person(source.channel, source.author_id))
        now = self.clock()
        created_ms = int(now * 1000)
        case_id = secrets.token_hex(8)
        fields: dict[str, str | bytes] = {
            "status": "new",
            "priority": priority,
            "channel": source.channel,
            "reasons": ",".join(reasons),
            "created_at": str(now),
            "created_ms": str(created_ms),
            "updated_at": str(now),
            "sla_due_at": str(now + self.sla.for_priority(priority)),
            "queue_score": str(queue_score(priority, created_ms)),
            "reopened": "0",
            "content": self._seal(case_id, "content", source.model_dump_json().encode()),
        }
        first = self._message(
            case_id,
            CaseMessage(
                sender="person",
                text=source.text,
                at=now,
                entities=source.entities,
                edited=source.version is not None,
            ),
        )
        link_key, link_ttl = link or (f"{keys.PREFIX}:no-link", 0)
        outcome, found = await self._open(
            keys=[
                marker,
                person,
                keys.case(case_id),
                keys.QUEUE,
                keys.CASES,
                keys.cases_with_status("new"),
                keys.case_thread(case_id),
                link_key,
                keys.message_link(source.channel, source.message_id),
            ],
            args=[
                case_id,
                keys.DEDUPE_TTL_S,
                PERSON_LINK_TTL_S,
                queue_score(priority, created_ms),
                created_ms,
                first,
                link_ttl,
                f"{keys.PREFIX}:case:",
                "1" if relinkable else "0",
                *[item for pair in fields.items() for item in pair],
            ],
        )
        found_id = as_text(found)
        if as_text(outcome) == "person":
            await self.add_message(
                found_id,
                "person",
                source.text,
                priority=priority,
                once=marker,
                entities=source.entities,
                edited=source.version is not None,
            )
            await self.redis.expire(person, PERSON_LINK_TTL_S)
            return await self.case_of_message(source.channel, source.version_id) or found_id, False
        return found_id, as_text(outcome) == "opened"

    async def case_of_message(self, channel: str, message_id: str) -> str | None:
        """The case a message opened or joined, if any."""
        found = await self.redis.get(keys.case_for_message(channel, message_id))
        return None if found is None else as_text(found)

    async def case_of_person(self, channel: str, author_id: str) -> str | None:
        """The person's recent case, if any (resolved ones included)."""
        found = await self.redis.get(keys.case_for_person(self._person(channel, author_id)))
        if found is None or not await self.redis.exists(keys.case(as_text(found))):
            return None
        return as_text(found)

    # Reading -------------------------------------------------------------------------

    async def get(self, case_id: str) -> Case:
        """A case's metadata (404 CaseError when there is none)."""
        raw = await self.redis.hgetall(keys.case(case_id))
        if not raw:
            raise CaseError("no such case", 404)
        return self._case(case_id, raw)

    async def source(self, case_id: str) -> Source:
        """The decrypted message that opened the case."""
        blob = await self.redis.hget(keys.case(case_id), "content")
        if blob is None:
            raise CaseError("no such case", 404)
        return Source.model_validate_json(self._open_sealed(case_id, "content", as_bytes(blob)))

    async def thread(self, case_id: str) -> list[CaseMessage]:
        """The conversation, oldest first, decrypted."""
        blobs = await self.redis.lrange(keys.case_thread(case_id), 0, -1)
        return [
            CaseMessage.model_validate_json(self._open_sealed(case_id, "thread", as_bytes(b)))
            for b in blobs
        ]

    async def notes(self, case_id: str) -> list[Note]:
        """Internal notes, oldest first, decrypted."""
        blobs = await self.redis.lrange(keys.case_notes(case_id), 0, -1)
        return [
            Note.model_validate_json(self._open_sealed(case_id, "notes", as_bytes(b)))
            for b in blobs
        ]

    async def by_status(self, status: Status | None = None, limit: int = 200) -> list[Case]:
        """Cases of one status (or all), in queue order: priority, then age."""
        key = keys.cases_with_status(status) if status else keys.CASES
        ids = [as_text(cast(bytes, i)) for i in await self.redis.zrange(key, 0, -1)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for case_id in ids:
                pipe.hgetall(keys.case(case_id))
            rows = await pipe.execute()
        cases = [self._case(i, r) for i, r in zip(ids, rows, strict=True) if r]
        cases.sort(key=lambda c: (PRIORITIES.index(c.priority), c.created_at))
        return cases[:limit]

    async def queue_length(self) -> int:
        """Cases waiting for an agent."""
        return int(await self.redis.zcard(keys.QUEUE))

    # Working a case ------------------------------------------------------------------

    async def claim(self, agent: str, case_id: str | None = None) -> Case | None:
        """Take a case (the next in the queue when no id is given) under a lease.

        Claiming a case one already holds renews the lease. None when the queue is empty.
        """
        now = self.clock()
        try:
            claimed = await self._claim(
                keys=[keys.QUEUE, keys.LEASES],
                args=[
                    int(now * 1000),
                    int((now + self.lease_s) * 1000),
                    agent,
                    case_id or "",
                    f"{keys.PREFIX}:",
                ],
            )
        except ResponseError as exc:  # the script's error replies name the reason
            reason = str(exc).rsplit(" ", 1)[-1]
            if reason in _ERRORS:
                raise _ERRORS[reason] from None
            raise
        if claimed is None:
            return None
        return await self.get(claimed.decode() if isinstance(claimed, bytes) else str(claimed))

    async def requeue_expired(self) -> int:
        """Return cases whose lease has ended to the queue; how many leases ended."""
        now_ms = int(self.clock() * 1000)
        return int(
            await self._requeue(keys=[keys.QUEUE, keys.LEASES], args=[now_ms, f"{keys.PREFIX}:"])
        )

    async def reply(self, case_id: str, agent: str, text: str) -> CaseMessage:
        """A staff message to the person; the case then waits on them."""
        message = CaseMessage(sender="staff", author=agent, text=text, at=self.clock())

        def change(case: Case) -> dict[str, str]:
            # A resolved case stays closed (and retention-bound) until the person writes.
            if case.status == "resolved":
                raise CaseError("the case is resolved")
            self._require_holder(case, agent)
            first = case.first_response_at if case.first_response_at else message.at
            return {"status": "waiting", "first_response_at": str(first)}

        await self._update(case_id, change, append=(keys.case_thread(case_id), message))
        return message

    async def add_message(
        self,
        case_id: str,
        sender: Sender,
        text: str,
        *,
        priority: Priority | None = None,
        once: str | None = None,
        entities: Sequence[tuple[str, int, int]] = (),
        edited: bool = False,
    ) -> CaseMessage:
        """A message from the person (or the bot) joins the conversation.

        A person writing to a waiting or resolved case puts it back in the queue; a
        higher priority (a follow-up that is an emergency) raises the case's. With
        `once` (a marker key) the message is added in the same step as the marker is
        set, and not at all when the marker already exists: a redelivery adds nothing.
        `entities` are what the engine found in a person's message: masked in staff views.
        """
        found = list(entities) if sender == "person" else None
        message = CaseMessage(
            sender=sender, text=text, at=self.clock(), entities=found, edited=edited
        )

        def change(case: Case) -> dict[str, str]:
            fields: dict[str, str] = {}
            if priority is not None and PRIORITIES.index(priority) < PRIORITIES.index(
                case.priority
            ):
                fields["priority"] = priority
            if sender == "person" and case.status in ("waiting", "resolved"):
                fields["status"] = "new"
                if case.status == "resolved":
                    fields["reopened"] = str(case.reopened + 1)
                    fields["resolved_at"] = ""
                    fields["handed_back"] = ""
            return fields

        await self._update(case_id, change, append=(keys.case_thread(case_id), message), once=once)
        return message

    async def note(
        self,
        case_id: str,
        agent: str,
        text: str,
        *,
        allowed: Callable[[Case], object] | None = None,
    ) -> Note:
        """An internal note on the case; `allowed` (raising CaseError to refuse) sees the
        case in the same step as the note is added (see `break_glass`)."""
        note = Note(author=agent, text=text, at=self.clock())

        def change(case: Case) -> dict[str, str]:
            if allowed is not None:
                allowed(case)
            return {}

        await self._update(case_id, change, append=(keys.case_notes(case_id), note))
        return note

    async def transfer(self, case_id: str, agent: str, team: Team) -> Case:
        """Hand the case to a team: it returns to the queue, marked for that team."""

        def change(case: Case) -> dict[str, str]:
            if case.status == "resolved":
                raise CaseError("the case is resolved")
            if case.status == "claimed":
                self._require_holder(case, agent)
            return {"team": team, "status": "new"}

        return await self._update(case_id, change)

    async def resolve(self, case_id: str, agent: str, *, hand_back: bool = False) -> Case:
        """Close the case; with `hand_back` the bot answers the person's next messages."""

        def change(case: Case) -> dict[str, str]:
            if case.status == "resolved":
                raise CaseError("the case is already resolved")
            if case.status == "claimed":
                self._require_holder(case, agent)
            return {
                "status": "resolved",
                "resolved_at": str(self.clock()),
                "handed_back": "1" if hand_back else "",
            }

        return await self._update(case_id, change)

    async def sla_breaches(self) -> list[Case]:
        """Open cases past their SLA target without a staff response, each reported once."""
        now = self.clock()
        breached = []
        for status in ("new", "claimed"):
            for case in await self.by_status(status, limit=10_000):
                if case.breached(now) and await self.redis.hsetnx(
                    keys.case(case.id), "breach_reported", "1"
                ):
                    breached.append(case)
        return breached

    async def purge_resolved(self, older_than_s: float) -> int:
        """Delete cases resolved longer ago than `older_than_s` (retention); how many."""
        cutoff = self.clock() - older_than_s
        purged = 0
        for case in await self.by_status("resolved", limit=1_000_000):
            if case.resolved_at is not None and case.resolved_at < cutoff:
                purged += await self._purge(case.id, cutoff)
        return purged

    async def _purge(self, case_id: str, cutoff: float) -> int:
        """Delete one case if it is still resolved before the cutoff (a person may have
        reopened it since it was listed)."""
        key = keys.case(case_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw: Mapping[Any, Any] = await pipe.hgetall(key)
                    resolved_at = _opt_float(raw.get(b"resolved_at"))
                    if (
                        raw.get(b"status") != b"resolved"
                        or not resolved_at
                        or resolved_at >= cutoff
                    ):
                        return 0
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.delete(key, keys.case_thread(case_id), keys.case_notes(case_id))
                    pipe.zrem(keys.CASES, case_id)
                    pipe.zrem(keys.cases_with_status("resolved"), case_id)
                    await pipe.execute()
                    return 1
                except WatchError:
                    continue

    # Internals -----------------------------------------------------------------------

    def _person(self, channel: str, author_id: str) -> str:
        return self.cipher.fingerprint(f"{channel}\x00{author_id}".encode())

    def _seal(self, case_id: str, part: str, plaintext: bytes) -> bytes:
        return self.cipher.encrypt(plaintext, f"case:{case_id}:{part}".encode())

    def _open_sealed(self, case_id: str, part: str, blob: bytes) -> bytes:
        return self.cipher.decrypt(blob, f"case:{case_id}:{part}".encode())

    def _message(self, case_id: str, message: CaseMessage) -> bytes:
        return self._seal(case_id, "thread", message.model_dump_json().encode())

    @staticmethod
    def _require_holder(case: Case, agent: str) -> None:
        if case.status == "claimed" and case.claimed_by != agent:
            raise CaseError("another agent holds this case")

    @staticmethod
    def _case(case_id: str, raw: Mapping[Any, Any]) -> Case:
        def text(name: str) -> str:
            return as_text(raw.get(name.encode(), b""))

        return Case(
            id=case_id,
            status=cast(Status, text("status")),
            priority=cast(Priority, text("priority")),
            channel=text("channel"),
            reasons=[r for r in text("reasons").split(",") if r],
            team=cast(Team, text("team")) or None,
            claimed_by=text("claimed_by") or None,
            lease_until=_opt_float(raw.get(b"lease_until")),
            created_at=float(text("created_at")),
            updated_at=float(text("updated_at")),
            sla_due_at=float(text("sla_due_at")),
            first_response_at=_opt_float(raw.get(b"first_response_at")),
            resolved_at=_opt_float(raw.get(b"resolved_at")),
            reopened=int(text("reopened") or 0),
            handed_back=bool(text("handed_back")),
        )

    async def _update(
        self,
        case_id: str,
        change: Callable[[Case], dict[str, str]],
        append: tuple[str, CaseMessage | Note] | None = None,
        once: str | None = None,
    ) -> Case:
        """Apply `change` to the case atomically (optimistic: retried if it moved).

        With `once`, nothing changes when that marker key exists, and it is set (to the
        case id) in the same transaction.
        """
        key = keys.case(case_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key, *([once] if once else []))
                    if once and await pipe.exists(once):
                        return await self.get(case_id)
                    raw = await pipe.hgetall(key)
                    if not raw:
                        raise CaseError("no such case", 404)
                    case = self._case(case_id, raw)
                    fields = change(case)
                    status = fields.get("status", case.status)
                    priority = fields.get("priority", case.priority)
                    fields["updated_at"] = str(self.clock())
                    created_ms = int(raw[b"created_ms"])
                    score = queue_score(cast(Priority, priority), created_ms)
                    fields["queue_score"] = str(score)
                    if priority != case.priority:
                        due = case.created_at + self.sla.for_priority(cast(Priority, priority))
                        fields["sla_due_at"] = str(due)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    if status != case.status:
                        pipe.zrem(keys.cases_with_status(case.status), case_id)
                        pipe.zadd(keys.cases_with_status(status), {case_id: created_ms})
                        if status != "claimed":
                            fields.update(claimed_by="", lease_until="")
                            pipe.zrem(keys.LEASES, case_id)
                    if status == "new":
                        pipe.zadd(keys.QUEUE, {case_id: score})
                    else:
                        pipe.zrem(keys.QUEUE, case_id)
                    pipe.hset(key, mapping=cast(dict[Any, Any], fields))
                    if once:
                        pipe.set(once, case_id, ex=keys.DEDUPE_TTL_S)
                    if append is not None:
                        target, item = append
                        part = target.rsplit(":", 1)[-1]
                        pipe.rpush(
                            target, self._seal(case_id, part, item.model_dump_json().encode())
                        )
                    await pipe.execute()
                except WatchError:
                    # Someone changed the case first: retry after a short random pause, so
                    # a burst of messages to one case does not retry in lockstep.
                    await asyncio.sleep(random.uniform(0, 0.005))
                    continue
                return await self.get(case_id)
