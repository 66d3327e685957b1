"""Staff accounts, their roles, API bearer tokens and console sessions.

Passwords are kept only as argon2id hashes, bearer tokens and session ids only as SHA-256
digests, and CSRF tokens not at all (they are derived from the session id). Every token
and session records its user's generation when it was issued: disabling a user or changing
their role deletes what they hold and bumps the generation, so nothing issued before can
work again, not even a key that outlived the clean-up.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, ParamSpec, TypeVar, cast, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from escalation import keys
from escalation.fair_gate import FairGate
from escalation.replies import as_text

Role = Literal["agent", "faq_editor", "compliance", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
USERNAME_PATTERN = re.compile(r"[a-z0-9._-]{1,64}")
MIN_PASSWORD_CHARS = 12
# Long passphrases are welcome; megabytes are not worth hashing.
MAX_PASSWORD_CHARS = 1024
# Our tokens and session ids are 43 characters; anything far longer is not worth a lookup.
_MAX_SECRET_CHARS = 128
# argon2 with its defaults takes 64 MiB and tens of ms a hash: a burst of logins waits
# here instead of taking every thread and a gigabyte of memory, each client in its own
# queue (escalation.fair_gate) so that one client's burst does not hold up the others.
# A core is left to the event loop: on two cores, two hashes at once starve every other
# request (bench/login_burst.py: a valid login 1.9 s behind a burst with two, 1.3 s with one).
_HASHES_AT_ONCE = max(1, min(2, (os.cpu_count() or 1) - 1))
# The queue of the hashing no client asked for (accounts added, passwords set).
_ADMIN_QUEUE = "\x00admin"
_P = ParamSpec("_P")
_T = TypeVar("_T")

# KEYS: credential, the user's credential set. ARGV: idle expiry (epoch s), now (epoch s).
# The idle expiry never passes the session's fixed end. A session revoked between its
# lookup and this refresh must stay gone, not come back as a husk, hence the check inside.
_SLIDE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local expires = tonumber(ARGV[1])
local ends = tonumber(redis.call('HGET', KEYS[1], 'ends') or ARGV[1])
if ends < expires then expires = ends end
local ttl = math.ceil(expires - tonumber(ARGV[2]))
if ttl <= 0 then return 0 end
redis.call('HSET', KEYS[1], 'expires', string.format('%.3f', expires))
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], 'XX', string.format('%.3f', expires), KEYS[1])
return 1
"""


class StaffError(Exception):
    """A staff account operation was refused; the message is safe to show."""


class InvalidStaffInput(StaffError, ValueError):
    """A username, role or password breaks the rules."""


class UserExists(StaffError):
    """`add` of a username that is taken."""


class UnknownUser(StaffError):
    """No staff user has that username."""


class LastAdmin(StaffError):
    """The change would leave no enabled admin to manage the accounts."""


class AuthError(StaffError):
    """A login or credential was refused; one message whatever the reason."""

    def __init__(self) -> None:
        super().__init__("invalid username or password")


class StaffUser(BaseModel):
    """A staff account as callers see it: never the password hash."""

    model_config = ConfigDict(frozen=True)

    username: str
    role: Role
    disabled: bool
    created_at: datetime


@dataclass(frozen=True)
class Session:
    """A new console session: `id` goes in the cookie, `csrf` in the console's forms."""

    username: str
    id: str = field(repr=False)
    csrf: str = field(repr=False)


def check_username(username: str) -> str:
    """The username, if it is 1-64 of a-z 0-9 . _ -."""
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidStaffInput("usernames are 1-64 characters of a-z, 0-9, '.', '_' and '-'")
    return username


def check_role(role: str) -> Role:
    """The role, if it is one of ROLES."""
    if role not in ROLES:
        raise InvalidStaffInput(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    """The password, if it has 12 to 1024 characters."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise InvalidStaffInput(
            f"passwords need {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )
    return password


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _plausible(secret: str) -> bool:
    """Whether a presented token or session id could be one of ours (worth a lookup)."""
    return 0 < len(secret) <= _MAX_SECRET_CHARS and secret.isascii()


def csrf_token(session_id: str) -> str:
    """The session's CSRF token, derived so that nothing in Redis lets a reader forge one."""
    mac = hmac.new(session_id.encode(), b"triagebot-csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


# A Redis hash as redis-py types it (bytes here: the clients do not decode responses).
_Record = Mapping[bytes | str, bytes | str]


def _user(username: str, record: _Record) -> StaffUser:
    return StaffUser.model_validate(
        {
            "username": username,
            "role": as_text(record[b"role"]),
            "disabled": record[b"disabled"] == b"1",
            "created_at": datetime.fromtimestamp(float(record[b"created_at"]), UTC),
        }
    )


def _removes_admin(user: StaffUser, fields: dict[str, str]) -> bool:
    """Whether a change takes an enabled admin's admin rights away."""
    if user.role != "admin" or user.disabled:
        return False
    return fields.get("role", "admin") != "admin" or fields.get("disabled", "0") != "0"


class StaffStore:
    """Staff accounts and their credentials in Redis."""

    def __init__(
        self,
        redis: Redis,
        *,
        session_idle_s: int,
        token_ttl_s: int,
        session_max_s: int = 12 * 3600,
        clock: Callable[[], float] = time.time,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._redis = redis
        self._session_idle_s = session_idle_s
        self._session_max_s = max(session_max_s, session_idle_s)
        self._token_ttl_s = token_ttl_s
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        self._hashing = FairGate(_HASHES_AT_ONCE)
        self._dummy_hash: str | None = None

    async def add(self, username: str, role: str, password: str) -> StaffUser:
        """Create an enabled account; UserExists if the username is taken."""
        check_username(username)
        check_role(role)
        check_password(password)
        key = keys.staff_user(username)
        if await self._redis.exists(key):  # spare the hashing when the answer is known
            raise UserExists(f"user {username!r} already exists")
        hashed = await self._in_thread(_ADMIN_QUEUE, self._hasher.hash, password)
        fields = {
            "role": role,
            "disabled": "0",
            "created_at": repr(self._clock()),
            "password": hashed,
            "generation": "0",
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                if await pipe.exists(key):
                    raise UserExists(f"user {username!r} already exists")
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.hset(key, mapping=cast(dict[Any, Any], fields))
                pipe.sadd(keys.STAFF_USERS, username)
                await pipe.execute()
            except WatchError:  # added by someone else between the check and the write
                raise UserExists(f"user {username!r} already exists") from None
        return _user(username, {k.encode(): v.encode() for k, v in fields.items()})

    async def get(self, username: str) -> StaffUser | None:
        """The account, or None."""
        if not USERNAME_PATTERN.fullmatch(username):
            return None
        record = await self._redis.hgetall(keys.staff_user(username))
        return _user(username, record) if record else None

    async def list(self) -> builtins.list[StaffUser]:
        """Every account, by username."""
        names = sorted(as_text(n) for n in await self._redis.smembers(keys.STAFF_USERS))
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(keys.staff_user(name))
            records = await pipe.execute()
        return [_user(n, r) for n, r in zip(names, records, strict=True) if r]

    async def set_role(self, username: str, role: str) -> StaffUser:
        """Give the user another role; what they hold is revoked, so they log in again."""
        new = check_role(role)
        return await self._update(username, lambda user: ({"role": new}, user.role != new))

    async def disable(self, username: str) -> StaffUser:
        """Refuse the user's logins and revoke every token and session they hold."""
        return await self._update(username, lambda user: ({"disabled": "1"}, True))

    async def enable(self, username: str) -> StaffUser:
        """Allow the user's logins again (nothing from before the disable comes back)."""
        return await self._update(username, lambda user: ({"disabled": "0"}, False))

    async def set_password(self, username: str, password: str) -> StaffUser:
        """Set a new password; every session and token the user holds is revoked."""
        check_password(password)
        hashed = await self._in_thread(_ADMIN_QUEUE, self._hasher.hash, password)
        return await self._update(username, lambda user: ({"password": hashed}, True))

    async def authenticate(self, username: str, password: str, *, queue: str = "") -> StaffUser:
        """The enabled account whose password this is; AuthError otherwise.

        `queue` names who asks (a digest of the client address): hashing slots go to each
        queue in turn.
        """
        record: _Record = {}
        if USERNAME_PATTERN.fullmatch(username):
            record = await self._redis.hgetall(keys.staff_user(username))
        stored = as_text(record.get(b"password", b""))
        if not await self._in_thread(queue, self._verify, stored, password):
            raise AuthError
        if record[b"disabled"] != b"0":
            raise AuthError
        if self._hasher.check_needs_rehash(stored):
            rehashed = await self._in_thread(queue, self._hasher.hash, password)
            await self._redis.hset(keys.staff_user(username), "password", rehashed)
        return _user(username, record)

    async def issue_token(self, username: str) -> str:
        """A new API bearer token for an enabled user, valid for `token_ttl_s`."""
        token = secrets.token_urlsafe(32)
        await self._store(username, keys.staff_token(_digest(token)), self._token_ttl_s)
        return token

    async def create_session(self, username: str) -> Session:
        """A new console session for an enabled user, ended by `session_idle_s` of idleness
        and in any case `session_max_s` after it began."""
        session_id = secrets.token_urlsafe(32)
        key = keys.staff_session(_digest(session_id))
        ends = self._clock() + self._session_max_s
        await self._store(username, key, self._session_idle_s, {"ends": repr(ends)})
        return Session(username=username, id=session_id, csrf=csrf_token(session_id))

    async def resolve_token(self, token: str) -> StaffUser | None:
        """The user a bearer token belongs to, while it is valid."""
        if not _plausible(token):
            return None
        return await self._resolve(keys.staff_token(_digest(token)))

    async def resolve_session(
        self, session_id: str, *, touch: bool = True
    ) -> tuple[StaffUser, str] | None:
        """The session's user and CSRF token while it is live.

        Each call restarts its idle time, unless `touch` is False (for a page that polls on
        its own: that is not the user being active).
        """
        if not _plausible(session_id):
            return None
        key = keys.staff_session(_digest(session_id))
        user = await self._resolve(key)
        if user is None:
            return None
        if not touch:
            return user, csrf_token(session_id)
        now = self._clock()
        args = (repr(now + self._session_idle_s), repr(now))
        creds = keys.staff_credentials(user.username)
        if not await self._redis.eval(_SLIDE, 2, key, creds, *args):
            return None  # revoked a moment ago
        return user, csrf_token(session_id)

    async def end_session(self, session_id: str) -> None:
        """Log out: the session id no longer works."""
        if not _plausible(session_id):
            return
        key = keys.staff_session(_digest(session_id))
        await self._forget(key, await self._redis.hget(key, "user"))

    async def _in_thread(
        self, queue: str, func: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        async with self._hashing.hold(queue):
            return await asyncio.to_thread(func, *args, **kwargs)

    def _verify(self, stored: str, password: str) -> bool:
        if not stored:
            # The same work as for a real account, so the time taken tells no one which
            # usernames exist.
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
            stored = self._dummy_hash
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _update(
        self, username: str, change: Callable[[StaffUser], tuple[dict[str, str], bool]]
    ) -> StaffUser:
        """Apply `change` (fields to set, whether to revoke) atomically, retried if it moved."""
        key = keys.staff_user(username)
        creds = keys.staff_credentials(username)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key, creds)
                    record = await pipe.hgetall(key) if USERNAME_PATTERN.fullmatch(username) else {}
                    if not record:
                        raise UnknownUser(f"no staff user {username!r}")
                    user = _user(username, record)
                    fields, revoke = change(user)
                    if _removes_admin(user, fields):
                        await self._another_admin(pipe, username)
                    held = await pipe.zrange(creds, 0, -1) if revoke else []
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hset(key, mapping=cast(dict[Any, Any], fields))
                    if revoke:
                        pipe.hincrby(key, "generation", 1)
                        pipe.delete(creds, *held)
                    await pipe.execute()
                except WatchError:
                    continue
                return _user(username, record | {k.encode(): v.encode() for k, v in fields.items()})

    async def _another_admin(self, pipe: Pipeline, username: str) -> None:
        """LastAdmin unless another enabled admin exists; watched, so that two admins
        demoting each other at once cannot both succeed."""
        names = sorted(as_text(n) for n in await pipe.smembers(keys.STAFF_USERS))
        others = [n for n in names if n != username]
        if others:
            await pipe.watch(*(keys.staff_user(n) for n in others))
        for name in others:
            role, disabled = await pipe.hmget(keys.staff_user(name), ["role", "disabled"])
            if role == b"admin" and disabled == b"0":
                return
        raise LastAdmin("this would leave no enabled admin; make another user admin first")

    async def _store(
        self, username: str, key: str, ttl_s: int, extra: dict[str, str] | None = None
    ) -> None:
        """Record a new token or session of an enabled user under `key`."""
        disabled, generation = await self._redis.hmget(
            keys.staff_user(username), ["disabled", "generation"]
        )
        if disabled != b"0":
            raise AuthError
        now = self._clock()
        expires = now + ttl_s
        creds = keys.staff_credentials(username)
        fields = {"user": username, "generation": generation, "expires": repr(expires)}
        fields |= extra or {}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=cast(dict[Any, Any], fields))
            pipe.expire(key, ttl_s)
            pipe.zremrangebyscore(creds, "-inf", now)  # keeps the set as small as what is live
            pipe.zadd(creds, {key: expires})
            await pipe.execute()

    async def _resolve(self, key: str) -> StaffUser | None:
        """The user of a live credential; a stale one is deleted on sight."""
        record = await self._redis.hgetall(key)
        if not record:
            return None
        username = as_text(record[b"user"])
        account = await self._redis.hgetall(keys.staff_user(username))
        if (
            float(record[b"expires"]) <= self._clock()
            or not account
            or account[b"disabled"] != b"0"
            or account[b"generation"] != record[b"generation"]
        ):
            await self._forget(key, username)
            return None
        return _user(username, account)

    async def _forget(self, key: str, username: bytes | str | None) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if username:
                pipe.zrem(keys.staff_credentials(as_text(username)), key)
            await pipe.execute()
