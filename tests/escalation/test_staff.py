"""Staff accounts on a real Redis: argon2id, revocation that cannot be outlived, idle expiry,
and no password, token or session id ever stored in clear."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import pytest
from argon2 import PasswordHasher
from redis.asyncio import Redis

from escalation import keys
from escalation.staff import (
    AuthError,
    InvalidStaffInput,
    LastAdmin,
    Session,
    StaffStore,
    UnknownUser,
    UserExists,
    csrf_token,
)

PASSWORD = "correct horse battery staple"
IDLE_S = 900
TOKEN_TTL_S = 3600
# Still argon2id, at a fraction of the defaults' cost; the tests of the hash itself use those.
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(redis: Redis, clock: Clock) -> StaffStore:
    return StaffStore(
        redis, session_idle_s=IDLE_S, token_ttl_s=TOKEN_TTL_S, clock=clock, hasher=FAST
    )


def session_key(session_id: str) -> str:
    return keys.staff_session(hashlib.sha256(session_id.encode()).hexdigest())


def new_name() -> str:
    """A username no other test uses (tests share one Redis and flush nothing)."""
    return f"u{secrets.token_hex(6)}"


async def every_byte(redis: Redis) -> bytes:
    """Every key name and value in Redis, of every type, concatenated."""
    parts: list[bytes] = []

    def add(value: Any) -> None:
        if isinstance(value, bytes):
            parts.append(value)
        elif isinstance(value, list | tuple | set):
            for item in value:
                add(item)
        elif isinstance(value, dict):
            add(list(value.items()))

    read: dict[bytes, Callable[[Any], Awaitable[Any]]] = {
        b"string": redis.get,
        b"hash": redis.hgetall,
        b"set": redis.smembers,
        b"zset": lambda key: redis.zrange(key, 0, -1),
        b"list": lambda key: redis.lrange(key, 0, -1),
        b"stream": redis.xrange,
    }
    async for key in redis.scan_iter(count=1000):
        add(key)
        add(await read[cast(bytes, await redis.type(key))](key))
    return b"\n".join(parts)


async def password_hash(redis: Redis, username: str) -> bytes:
    stored = await redis.hget(keys.staff_user(username), "password")
    assert isinstance(stored, bytes)
    return stored


async def test_password_is_stored_only_as_an_argon2id_hash(redis: Redis) -> None:
    store = StaffStore(redis, session_idle_s=IDLE_S, token_ttl_s=TOKEN_TTL_S)
    name = new_name()
    user = await store.add(name, "agent", PASSWORD)
    assert (user.username, user.role, user.disabled) == (name, "agent", False)
    stored = await password_hash(redis, name)
    assert stored.startswith(b"$argon2id$")
    assert not PasswordHasher().check_needs_rehash(stored.decode())  # argon2-cffi's defaults
    assert PASSWORD.encode() not in await every_byte(redis)
    assert "password" not in user.model_dump()
    assert await store.authenticate(name, PASSWORD) == user


async def test_no_token_session_id_or_csrf_token_is_stored_in_clear(
    redis: Redis, store: StaffStore
) -> None:
    name = new_name()
    await store.add(name, "compliance", PASSWORD)
    token = await store.issue_token(name)
    session = await store.create_session(name)
    assert await store.resolve_session(session.id) is not None
    dump = await every_byte(redis)
    assert name.encode() in dump  # the scan does see the account
    assert b"$argon2id$" in dump
    for secret in (PASSWORD, token, session.id, session.csrf):
        assert secret.encode() not in dump
    assert token not in repr(session)
    assert session.id not in repr(session)
    assert session.csrf not in repr(session)


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("{other}", PASSWORD),  # nobody has this username
        ("{user}", PASSWORD[:-1]),
        ("{user}", PASSWORD.upper()),
        ("{user}", ""),
        ("NOT valid\n", PASSWORD),
        ("x" * 10_000, PASSWORD),
    ],
)
async def test_login_failures_all_raise_the_same_auth_error(
    store: StaffStore, username: str, password: str
) -> None:
    name = new_name()
    await store.add(name, "agent", PASSWORD)
    login = username.format(user=name, other=new_name())
    with pytest.raises(AuthError, match=r"^invalid username or password$"):
        await store.authenticate(login, password)


async def test_a_disabled_user_cannot_log_in_or_get_credentials(store: StaffStore) -> None:
    name = new_name()
    await store.add(name, "agent", PASSWORD)
    await store.disable(name)
    with pytest.raises(AuthError, match=r"^invalid username or password$"):
        await store.authenticate(name, PASSWORD)
    with pytest.raises(AuthError):
        await store.issue_token(name)
    with pytest.raises(AuthError):
        await store.create_session(name)
    enabled = await store.enable(name)
    assert not enabled.disabled
    assert await store.authenticate(name, PASSWORD) == enabled


async def test_disabling_revokes_sessions_and_tokens_issued_before(
    redis: Redis, store: StaffStore
) -> None:
    name = new_name()
    await store.add(name, "agent", PASSWORD)
    sessions = [await store.create_session(name) for _ in range(2)]
    tokens = [await store.issue_token(name) for _ in range(2)]
    for session in sessions:
        resolved = await store.resolve_session(session.id)
        assert resolved is not None
        assert resolved[0].username == name
        assert resolved[1] == session.csrf
    for token in tokens:
        assert (await store.resolve_token(token)) == await store.get(name)

    await store.disable(name)

    for session in sessions:
        assert await store.resolve_session(session.id) is None
    for token in tokens:
        assert await store.resolve_token(token) is None
    assert not await redis.exists(keys.staff_credentials(name))
    # Enabling again brings none of them back; new ones work.
    await store.enable(name)
    assert await store.resolve_session(sessions[0].id) is None
    assert await store.resolve_token(tokens[0]) is None
    assert await store.resolve_token(await store.issue_token(name)) is not None


async def test_nothing_issued_while_a_user_is_being_disabled_works_afterwards(
    store: StaffStore,
) -> None:
    for _ in range(20):
        name = new_name()
        await store.add(name, "agent", PASSWORD)
        results = await asyncio.gather(
            store.issue_token(name),
            store.create_session(name),
            store.disable(name),
            return_exceptions=True,
        )
        token, session = results[0], results[1]
        if isinstance(token, str):
            assert await store.resolve_token(token) is None
        else:
            assert isinstance(token, AuthError)
        if isinstance(session, Session):
            assert await store.resolve_session(session.id) is None
        else:
            assert isinstance(session, AuthError)


async def test_a_role_change_revokes_what_the_user_holds(store: StaffStore) -> None:
    await store.add(new_name(), "admin", PASSWORD)  # so that `name` is not the last admin
    name = new_name()
    await store.add(name, "admin", PASSWORD)
    session = await store.create_session(name)
    token = await store.issue_token(name)
    same = await store.set_role(name, "admin")  # no change: nothing revoked
    assert same.role == "admin"
    assert await store.resolve_token(token) is not None

    changed = await store.set_role(name, "agent")

    assert changed.role == "agent"
    assert await store.resolve_session(session.id) is None
    assert await store.resolve_token(token) is None
    user = await store.authenticate(name, PASSWORD)
    assert user.role == "agent"


async def test_a_credential_that_outlived_revocation_still_fails(
    redis: Redis, store: StaffStore
) -> None:
    name = new_name()
    await store.add(name, "agent", PASSWORD)
    token = await store.issue_token(name)
    session = await store.create_session(name)
    saved: dict[bytes, dict[Any, Any]] = {}
    for key in cast(list[bytes], await redis.zrange(keys.staff_credentials(name), 0, -1)):
        saved[key] = await redis.hgetall(key)
    assert len(saved) == 2

    await store.disable(name)
    await store.enable(name)
    for key, fields in saved.items():  # as if a replica or a restore brought them back
        await redis.hset(key, mapping=fields)

    assert await store.resolve_token(token) is None
    assert await store.resolve_session(session.id) is None


async def test_a_session_ends_after_idle_time_and_each_use_extends_it(
    redis: Redis, store: StaffStore, clock: Clock
) -> None:
    name = new_name()
    await store.add(name, "agent", PASSWORD)
    session = await store.create_session(name)
    for _ in range(3):
        clock.now += IDLE_S - 1
        assert await store.resolve_session(session.id) is not None
    assert IDLE_S - 5 <= await redis.ttl(session_key(session.id)) <= IDLE_S

    clock.now += IDLE_S + 1

    assert await store.resolve_session(session.id) is None
    assert not await redis.exists(session_key(session.id))


async def test_an_active_session_still_ends_at_its_maximum_lifetime(
    redis: Redis, clock: Clock
) -> None:
    store = StaffStore(
        redis,
        session_idle_s=IDLE_S,
        session_max_s=3 * IDLE_S,
        token_ttl_s=TOKEN_TTL_S,
        clock=clock,
        hasher=FAST,
    )
    name = new_name()
    await store.add(name, "agent", PASSWORD)
    session = await store.create_session(name)
    started = clock.now
    while clock.now + IDLE_S - 1 < started + 3 * IDLE_S:
        clock.now += IDLE_S - 1
        assert await store.resolve_session(session.id) is not None
    # Used a moment ago, but the idle extension stops at the fixed end.
    assert 0 < await redis.ttl(session_key(session.id)) <= started + 3 * IDLE_S - clock.now
    clock.now = started + 3 * IDLE_S
    assert await store.resolve_session(session.id) is None
    assert not await redis.exists(session_key(session.id))
    assert await store.resolve_session((await store.create_session(name)).id) is not None


async def test_a_session_checked_without_touching_still_idles_out(
    store: StaffStore, clock: Clock
) -> None:
    name = new_name()
    await store.add(name, "agent", PASSWORD)
    session = await store.create_session(name)
    clock.now += IDLE_S - 1
    checked = await store.resolve_session(session.id, touch=False)
    assert checked is not None
    assert checked[1] == session.csrf
    clock.now += 1
    assert await store.resolve_session(session.id, touch=False) is None


async def test_an_idle_session_expires_in_redis_itself(redis: Redis, clock: Clock) -> None:
    store = StaffStore(redis, session_idle_s=1, token_ttl_s=TOKEN_TTL_S, clock=clock, hasher=FAST)
    name = new_name()
    await store.add(name, "agent", PASSWORD)
    session = await store.create_session(name)
    assert await store.resolve_session(session.id) is not None
    # The test clock stands still, so only Redis's own expiry can end the session; and
    # only by waiting untouched (each resolve would restart its idle time).
    deadline = time.monotonic() + 10
    while await redis.exists(session_key(session.id)):
        assert time.monotonic() < deadline, "the session key never expired"
        await asyncio.sleep(0.1)
    assert await store.resolve_session(session.id) is None


async def test_a_token_expires_after_its_ttl_without_sliding(
    store: StaffStore, clock: Clock
) -> None:
    name = new_name()
    await store.add(name, "faq_editor", PASSWORD)
    token = await store.issue_token(name)
    clock.now += TOKEN_TTL_S - 1
    assert await store.resolve_token(token) is not None
    clock.now += 1
    assert await store.resolve_token(token) is None


async def test_logout_ends_only_that_session(store: StaffStore) -> None:
    name = new_name()
    await store.add(name, "agent", PASSWORD)
    first, second = await store.create_session(name), await store.create_session(name)
    await store.end_session(first.id)
    await store.end_session(first.id)  # twice is harmless
    assert await store.resolve_session(first.id) is None
    assert await store.resolve_session(second.id) is not None


async def test_session_ids_and_csrf_tokens_are_random_and_bound_to_their_session(
    store: StaffStore,
) -> None:
    name = new_name()
    await store.add(name, "agent", PASSWORD)
    sessions = [await store.create_session(name) for _ in range(3)]
    assert len({s.id for s in sessions} | {s.csrf for s in sessions}) == 6
    for session in sessions:
        assert len(session.id) >= 22  # 128 bits in base64
        assert len(session.csrf) >= 22
        assert session.csrf == csrf_token(session.id)


@pytest.mark.parametrize(
    "presented", ["", "x", "é" * 43, "a" * 10_000, secrets.token_urlsafe(32), "\x00"]
)
async def test_unknown_or_malformed_credentials_resolve_to_nothing(
    store: StaffStore, presented: str
) -> None:
    assert await store.resolve_token(presented) is None
    assert await store.resolve_session(presented) is None
    await store.end_session(presented)


@pytest.mark.parametrize(
    ("username", "role", "password", "error"),
    [
        ("", "agent", PASSWORD, "1-64 characters"),
        ("x" * 65, "agent", PASSWORD, "1-64 characters"),
        ("Alice", "agent", PASSWORD, "1-64 characters"),
        ("al ice", "agent", PASSWORD, "1-64 characters"),
        ("al:ice", "agent", PASSWORD, "1-64 characters"),
        ("josé", "agent", PASSWORD, "1-64 characters"),
        ("alice", "root", PASSWORD, "unknown role 'root'"),
        ("alice", "agent", "elevenchars", "12 to 1024 characters"),
        ("alice", "agent", "x" * 1025, "12 to 1024 characters"),
    ],
)
async def test_add_refuses_bad_input(
    store: StaffStore, username: str, role: str, password: str, error: str
) -> None:
    with pytest.raises(InvalidStaffInput, match=error):
        await store.add(username, role, password)


async def test_valid_usernames_are_accepted(store: StaffStore) -> None:
    name = f"{new_name()}.a_b-c"
    assert (await store.add(name, "agent", "x" * 12)).username == name
    longest = new_name().ljust(64, "9")
    assert (await store.add(longest, "agent", PASSWORD)).username == longest


async def test_adding_a_taken_username_fails_and_keeps_the_first_account(
    store: StaffStore,
) -> None:
    name = new_name()
    await store.add(name, "agent", PASSWORD)
    with pytest.raises(UserExists, match="already exists"):
        await store.add(name, "admin", "another long password")
    assert (await store.authenticate(name, PASSWORD)).role == "agent"


async def test_changing_an_unknown_user_fails(store: StaffStore) -> None:
    for change in (store.disable, store.enable):
        with pytest.raises(UnknownUser, match="no staff user"):
            await change(new_name())
    with pytest.raises(UnknownUser):
        await store.set_role("NOT VALID", "agent")
    with pytest.raises(InvalidStaffInput):
        await store.set_role(new_name(), "root")


async def test_list_and_get(store: StaffStore, clock: Clock) -> None:
    first, second = sorted([new_name(), new_name()])
    await store.add(second, "compliance", PASSWORD)
    await store.add(first, "admin", PASSWORD)
    await store.disable(second)
    listed = [u for u in await store.list() if u.username in {first, second}]
    assert [(u.username, u.role, u.disabled) for u in listed] == [
        (first, "admin", False),
        (second, "compliance", True),
    ]
    assert listed[0].created_at.timestamp() == clock.now
    assert await store.get(first) == listed[0]
    assert await store.get(new_name()) is None
    assert await store.get("../etc") is None


async def test_a_hash_with_old_parameters_is_replaced_at_login(
    redis: Redis, store: StaffStore
) -> None:
    name = new_name()
    await store.add(name, "agent", PASSWORD)
    before = await password_hash(redis, name)
    assert b"m=1024,t=1,p=1" in before
    current = StaffStore(redis, session_idle_s=IDLE_S, token_ttl_s=TOKEN_TTL_S)

    await current.authenticate(name, PASSWORD)

    after = await password_hash(redis, name)
    assert after.startswith(b"$argon2id$")
    assert not PasswordHasher().check_needs_rehash(after.decode())
    assert await current.authenticate(name, PASSWORD)


@pytest.fixture
async def alone(redis_url: str, clock: Clock) -> AsyncIterator[StaffStore]:
    """A store on a database of its own, so that no other test's admin is in it."""
    client = Redis.from_url(redis_url)
    client.connection_pool.connection_kwargs["db"] = 5  # before its first connection
    await client.flushdb()
    yield StaffStore(
        client, session_idle_s=IDLE_S, token_ttl_s=TOKEN_TTL_S, clock=clock, hasher=FAST
    )
    await client.flushdb()
    await client.aclose()


async def test_the_last_enabled_admin_can_be_neither_demoted_nor_disabled(
    alone: StaffStore,
) -> None:
    await alone.add("first", "admin", PASSWORD)
    with pytest.raises(LastAdmin, match="no enabled admin"):
        await alone.set_role("first", "agent")
    with pytest.raises(LastAdmin):
        await alone.disable("first")
    assert await alone.authenticate("first", PASSWORD)  # unchanged, still admin
    await alone.add("second", "admin", PASSWORD)
    assert (await alone.set_role("first", "agent")).role == "agent"
    await alone.add("third", "admin", PASSWORD)
    await alone.disable("third")  # a disabled admin manages nothing
    with pytest.raises(LastAdmin):
        await alone.set_role("second", "compliance")
    assert (await alone.set_role("second", "admin")).role == "admin"  # no change is fine


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(alone: StaffStore) -> None:
    for round_ in range(10):
        a, b = f"a{round_}", f"b{round_}"
        await alone.add(a, "admin", PASSWORD)
        await alone.add(b, "admin", PASSWORD)
        for name in (u.username for u in await alone.list() if u.username not in {a, b}):
            await alone.set_role(name, "agent")
        results = await asyncio.gather(
            alone.set_role(a, "agent"), alone.set_role(b, "agent"), return_exceptions=True
        )
        assert sorted(type(r).__name__ for r in results) == ["LastAdmin", "StaffUser"]
        admins = [u for u in await alone.list() if u.role == "admin" and not u.disabled]
        assert len(admins) == 1


async def test_a_new_password_replaces_the_old_and_revokes_everything_held(
    store: StaffStore,
) -> None:
    name = new_name()
    await store.add(name, "agent", PASSWORD)
    session = await store.create_session(name)
    token = await store.issue_token(name)
    new_password = "a much longer new passphrase"
    await store.set_password(name, new_password)
    assert await store.resolve_session(session.id) is None
    assert await store.resolve_token(token) is None
    with pytest.raises(AuthError):
        await store.authenticate(name, PASSWORD)
    assert (await store.authenticate(name, new_password)).username == name
    with pytest.raises(InvalidStaffInput):
        await store.set_password(name, "short")
    with pytest.raises(UnknownUser):
        await store.set_password(new_name(), new_password)
