"""`triagebot staff …` and `triagebot audit export`: accounts and the audit log from a shell.

Every change of access is recorded in the audit log as `cli:<os user>`, and so is every
export. Bad input gets one line on stderr and exit status 2; an unreachable Redis, 1.

Without TRIAGE_REDIS_URL the data is the embedded Redis's, under data_dir. Two servers
must never run on the same files, and a change made in a second one would not reach the
service anyway: a process that runs the embedded server holds a lock file next to its
data (see bot.embedded_redis), and the command uses that server when there is one, else
starts its own for the length of the command.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import pwd
import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.embedded_redis import EmbeddedRedisError, for_data_dir
from bot.redis_client import open_redis
from bot.settings import Settings
from escalation.audit import ACTIONS, AuditAction, AuditLog
from escalation.crypto import Cipher, CryptoError
from escalation.staff import (
    StaffError,
    StaffStore,
    StaffUser,
    check_password,
    check_role,
    check_username,
)


class CliError(Exception):
    """Bad input to a command: exit status 2 with this message."""


@contextmanager
def redis_url(settings: Settings) -> Iterator[str]:
    """TRIAGE_REDIS_URL, the running embedded server's URL, or one started for the block."""
    if settings.redis_url is not None:
        yield settings.redis_url.get_secret_value()
        return
    server = for_data_dir(settings.data_dir)
    running = server.running_url()
    if running is not None:
        yield running
        return
    with server:
        yield server.url


def cli_actor() -> str:
    """`cli:<effective os user>`: the account the command ran as, not what $USER claims."""
    try:
        name = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        name = str(os.geteuid())
    return "cli:" + re.sub(r"[\s\x00-\x1f\x7f]", "_", name)[:100]


def read_password() -> str:
    """The first line of stdin without its line end; asked twice, unechoed, on a terminal."""
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise CliError("the passwords differ")
        return password
    try:
        line = sys.stdin.buffer.readline().decode("utf-8")
    except UnicodeDecodeError:
        raise CliError("the password on stdin is not UTF-8") from None
    return line.removesuffix("\n").removesuffix("\r")


def parse_time(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or time; UTC when it names no zone."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"{option}: {value!r} is not an ISO 8601 date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def user_table(users: list[StaffUser]) -> str:
    """The `staff list` table."""
    rows = [("USERNAME", "ROLE", "STATUS", "CREATED")]
    rows += [
        (
            u.username,
            u.role,
            "disabled" if u.disabled else "active",
            u.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
        for u in users
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "".join(
        "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]]) + "\n"
        for row in rows
    )


def run_staff(settings: Settings, args: argparse.Namespace) -> int:
    """`triagebot staff ACTION …`."""
    command: str = args.staff_command
    password = ""
    try:
        cipher = Cipher.from_spec(settings.encryption_key_spec())
    except CryptoError as exc:
        return _fail(f"TRIAGE_ENCRYPTION_KEYS: {exc}")
    # Checked before any Redis is reached (or started), so a bad line costs nothing.
    try:
        if command in ("add", "set-role"):
            check_role(args.role)
        if command in ("add", "password"):
            check_username(args.username)
            password = check_password(read_password())
    except (StaffError, CliError) as exc:
        return _fail(str(exc))

    async def act(redis: Redis) -> None:
        audit = AuditLog(redis, cipher)
        store = StaffStore(
            redis,
            session_idle_s=settings.session_idle_s,
            session_max_s=settings.session_max_s,
            token_ttl_s=settings.api_token_ttl_s,
        )
        if command == "list":
            sys.stdout.write(user_table(await store.list()))
            return
        name: str = args.username
        action: AuditAction
        if command == "add":
            user = await store.add(name, args.role, password)
            action, done = "user_add", f"added {name} as {user.role}"
        elif command == "password":
            user = await store.set_password(name, password)
            action, done = "password_change", f"new password for {name}; they must log in again"
        elif command == "disable":
            user = await store.disable(name)
            action, done = "user_disable", f"disabled {name}; their sessions and tokens are revoked"
        elif command == "enable":
            user = await store.enable(name)
            action, done = "user_enable", f"enabled {name}"
        else:
            user = await store.set_role(name, args.role)
            action, done = "role_change", f"{name} is now {user.role}; they must log in again"
        await audit.record(cli_actor(), action, detail=f"user={name} role={user.role}")
        print(done)

    return _run(settings, act)


def run_audit(settings: Settings, args: argparse.Namespace) -> int:
    """`triagebot audit export` (entries to stdout, CSV or JSON Lines) or `audit verify`."""
    try:
        cipher = Cipher.from_spec(settings.encryption_key_spec())
    except CryptoError as exc:
        return _fail(f"TRIAGE_ENCRYPTION_KEYS: {exc}")
    if args.audit_command == "verify":
        return _verify_audit(settings, cipher, args.head)
    try:
        since = parse_time(args.since, "--since")
        until = parse_time(args.until, "--until")
    except CliError as exc:
        return _fail(str(exc))
    if args.action is not None and args.action not in ACTIONS:
        return _fail(f"unknown action {args.action!r}; choose one of {', '.join(ACTIONS)}")
    fmt: str = args.format

    async def act(redis: Redis) -> None:
        audit = AuditLog(redis, cipher)
        wanted = [f"format={fmt}"]
        wanted += [f"since={since.isoformat()}"] if since else []
        wanted += [f"until={until.isoformat()}"] if until else []
        # Recorded first, so that even an export cut short is on the record.
        await audit.record(cli_actor(), "export", detail=" ".join(wanted))
        export = audit.export_csv if fmt == "csv" else audit.export_jsonl
        async for chunk in export(since, until, args.actor, args.action):
            sys.stdout.write(chunk)
        sys.stdout.flush()

    return _run(settings, act)


def _verify_audit(settings: Settings, cipher: Cipher, anchor: str | None) -> int:
    intact = True

    async def act(redis: Redis) -> None:
        nonlocal intact
        audit = AuditLog(redis, cipher)
        check = await audit.verify(anchor)
        older = (
            f"; {check.unchained} older entries were recorded unchained" if check.unchained else ""
        )
        if check.broken_at is not None:
            intact = False
            print(f"audit log BROKEN at entry {check.broken_at}: {check.reason}")
        elif check.anchor_found is False:
            intact = False
            print(
                f"audit log BROKEN: the head {anchor} noted earlier is not in the chain "
                "(entries were removed from its end, or trimmed by retention since)"
            )
        else:
            print(
                f"audit log intact: {check.entries} entries from {check.first_id} to "
                f"{check.last_id}, head {check.head}{older}"
            )
        await audit.record(cli_actor(), "audit_verify", detail="intact" if intact else "broken")

    status = _run(settings, act)
    return status if status or intact else 1


def _fail(message: str) -> int:
    print(f"triagebot: {message}", file=sys.stderr)
    return 2


def _run(settings: Settings, act: Callable[[Redis], Awaitable[None]]) -> int:
    async def with_client(url: str) -> None:
        redis = open_redis(url)
        try:
            await act(redis)
        finally:
            await redis.aclose()

    try:
        with redis_url(settings) as url:
            asyncio.run(with_client(url))
    except (StaffError, CliError) as exc:
        return _fail(str(exc))
    except BrokenPipeError:  # stdout closed early (`| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (RedisError, EmbeddedRedisError, OSError) as exc:
        print(f"triagebot: Redis: {exc}", file=sys.stderr)
        return 1
    return 0
