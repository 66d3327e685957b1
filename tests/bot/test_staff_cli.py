"""`triagebot staff` and `triagebot audit export`, run as the real console script."""

from __future__ import annotations

import csv
import io
import json
import os
import pwd
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from redis import Redis

from bot.embedded_redis import for_data_dir, running_server_port
from escalation import keys

TRIAGEBOT = str(Path(sys.executable).with_name("triagebot"))
PASSWORD = "correct horse battery staple"
ACTOR = "cli:" + pwd.getpwuid(os.geteuid()).pw_name


def triagebot(
    *args: str, stdin: str = "", redis_url: str | None, data_dir: Path
) -> subprocess.CompletedProcess[str]:
    """Run the command with only the settings given here (none from the caller's shell)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env["TRIAGE_DATA_DIR"] = str(data_dir)
    if redis_url is not None:
        env["TRIAGE_REDIS_URL"] = redis_url
    return subprocess.run(
        [TRIAGEBOT, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def cli(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """`triagebot` on the test Redis."""
    data_dir = tmp_path_factory.mktemp("data")

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return triagebot(*args, stdin=stdin, redis_url=redis_url, data_dir=data_dir)

    return run


@pytest.fixture(scope="module")
def taken(cli: Cli) -> str:
    """A username that exists."""
    name = new_name()
    added = cli(*add(name), stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    return name


def new_name() -> str:
    return f"cli{secrets.token_hex(5)}"


def add(name: str, role: str = "agent") -> tuple[str, ...]:
    return ("staff", "add", name, "--role", role, "--password-stdin")


def listed(output: str, name: str) -> list[str]:
    """Username, role and status of `name` in a `staff list` table."""
    rows = [line.split() for line in output.splitlines()]
    assert rows[0] == ["USERNAME", "ROLE", "STATUS", "CREATED"]
    return next(row[:3] for row in rows[1:] if row[0] == name)


def test_add_with_the_password_on_stdin_then_list_and_disable(cli: Cli, redis_url: str) -> None:
    name = new_name()
    added = cli(*add(name, "compliance"), stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout == f"added {name} as compliance\n"
    assert added.stderr == ""
    with Redis.from_url(redis_url) as redis:
        stored = redis.hget(keys.staff_user(name), "password")
    assert stored is not None
    assert stored.startswith(b"$argon2id$")

    assert listed(cli("staff", "list").stdout, name) == [name, "compliance", "active"]
    disabled = cli("staff", "disable", name)
    assert disabled.returncode == 0, disabled.stderr
    assert listed(cli("staff", "list").stdout, name) == [name, "compliance", "disabled"]
    assert cli("staff", "enable", name).returncode == 0
    assert cli("staff", "set-role", name, "agent").returncode == 0
    assert listed(cli("staff", "list").stdout, name) == [name, "agent", "active"]

    exported = cli("audit", "export")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    mine = [(r["actor"], r["action"], r["detail"]) for r in rows if f"user={name} " in r["detail"]]
    assert mine == [
        (ACTOR, "user_add", f"user={name} role=compliance"),
        (ACTOR, "user_disable", f"user={name} role=compliance"),
        (ACTOR, "user_enable", f"user={name} role=compliance"),
        (ACTOR, "role_change", f"user={name} role=agent"),
    ]
    assert (rows[-1]["actor"], rows[-1]["action"]) == (ACTOR, "export")  # recorded first


def test_the_password_is_the_first_line_exactly_and_never_echoed(cli: Cli, redis_url: str) -> None:
    name = new_name()
    password = "  spaces kept, then CRLF  "
    added = cli(*add(name), stdin=f"{password}\r\nignored\n")
    assert added.returncode == 0, added.stderr
    assert password.strip() not in added.stdout + added.stderr
    with Redis.from_url(redis_url) as redis:
        stored = redis.hget(keys.staff_user(name), "password")
    assert stored is not None
    assert PasswordHasher().verify(stored.decode(), password)


def test_an_admin_resets_a_password_from_the_shell(cli: Cli, redis_url: str) -> None:
    name = new_name()
    assert cli(*add(name), stdin=PASSWORD + "\n").returncode == 0
    new = "a reset passphrase, long enough"
    reset = cli("staff", "password", name, "--password-stdin", stdin=new + "\n")
    assert reset.returncode == 0, reset.stderr
    assert reset.stdout == f"new password for {name}; they must log in again\n"
    assert new not in reset.stdout + reset.stderr
    with Redis.from_url(redis_url) as redis:
        stored = redis.hget(keys.staff_user(name), "password")
    assert stored is not None
    assert PasswordHasher().verify(stored.decode(), new)
    short = cli("staff", "password", name, "--password-stdin", stdin="tiny\n")
    assert short.returncode == 2
    assert "tiny" not in short.stdout + short.stderr
    exported = cli("audit", "export", "--action", "password_change")
    assert f"user={name} role=agent" in exported.stdout


def test_audit_verify_says_intact_then_names_the_entry_after_a_removal(
    cli: Cli, redis_url: str
) -> None:
    with Redis.from_url(redis_url) as redis:
        redis.delete(keys.AUDIT)  # other tests' services chain under their own keys
    for _ in range(3):
        assert cli(*add(new_name()), stdin=PASSWORD + "\n").returncode == 0
    intact = cli("audit", "verify")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert intact.stdout.startswith("audit log intact: 3 entries from ")
    head = intact.stdout.rsplit("head ", 1)[1].strip()
    assert cli("audit", "verify", "--head", head).returncode == 0
    with Redis.from_url(redis_url) as redis:
        ids = [entry_id.decode() for entry_id, _ in redis.xrange(keys.AUDIT)]
        assert len(ids) == 5  # three user_add, two audit_verify
        redis.xdel(keys.AUDIT, *ids[2:])  # the tail from the noted head on, cut off
    assert cli("audit", "verify").returncode == 0  # what is left still chains
    cut = cli("audit", "verify", "--head", head)
    assert cut.returncode == 1
    assert cut.stdout.startswith(f"audit log BROKEN: the head {head} noted earlier is not in")
    with Redis.from_url(redis_url) as redis:
        ids = [entry_id.decode() for entry_id, _ in redis.xrange(keys.AUDIT)]
        redis.xdel(keys.AUDIT, ids[1])  # a user_add gone without a trace, but for the chain
    broken = cli("audit", "verify")
    assert broken.returncode == 1
    assert broken.stdout.startswith(f"audit log BROKEN at entry {ids[2]}: ")
    exported = cli("audit", "export", "--action", "audit_verify", "--format", "jsonl")
    details = [json.loads(line)["detail"] for line in exported.stdout.splitlines()]
    assert details[-1] == "broken"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (add("{new}"), "short\n", "12 to 1024 characters"),
        (add("{new}"), "", "12 to 1024 characters"),
        (add("{new}", "root"), PASSWORD, "unknown role 'root'"),
        (add("Bad Name"), PASSWORD, "1-64 characters"),
        (add("{taken}"), PASSWORD, "already exists"),
        (("staff", "disable", "{new}"), "", "no staff user"),
        (("staff", "enable", "{new}"), "", "no staff user"),
        (("staff", "set-role", "{new}", "agent"), "", "no staff user"),
        (("staff", "set-role", "{taken}", "superuser"), "", "unknown role 'superuser'"),
        (("audit", "export", "--since", "yesterday"), "", "--since: 'yesterday' is not an ISO"),
        (("audit", "export", "--action", "delete"), "", "unknown action 'delete'"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(
    cli: Cli, taken: str, args: tuple[str, ...], stdin: str, message: str
) -> None:
    done = cli(*(a.format(new=new_name(), taken=taken) for a in args), stdin=stdin)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("triagebot: ")
    assert message in done.stderr
    assert len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ("staff", "add", "nopassword", "--role", "agent"),  # the password never comes from argv
        ("staff", "add", "x", "--role", "agent", "--password", "hunter2hunter2"),
        ("staff", "frobnicate"),
        ("audit", "export", "--format", "xml"),
    ],
)
def test_malformed_command_lines_exit_2_without_a_traceback(
    cli: Cli, args: tuple[str, ...]
) -> None:
    done = cli(*args)
    assert done.returncode == 2
    assert "error:" in done.stderr
    assert "Traceback" not in done.stderr


def test_audit_export_as_json_lines_with_a_time_window(cli: Cli) -> None:
    name = new_name()
    assert cli(*add(name), stdin=PASSWORD).returncode == 0
    exported = cli("audit", "export", "--format", "jsonl").stdout
    mine = next(
        o
        for o in map(json.loads, exported.splitlines())
        if o["detail"] == f"user={name} role=agent"
    )
    assert list(mine) == ["at", "actor", "action", "case_id", "detail"]
    assert (mine["actor"], mine["action"], mine["case_id"]) == (ACTOR, "user_add", None)

    window = cli(
        "audit", "export", "--format", "jsonl", "--since", mine["at"], "--action", "user_add"
    )
    assert window.returncode == 0, window.stderr
    assert [json.loads(line)["detail"] for line in window.stdout.splitlines()] == [mine["detail"]]
    before = cli("audit", "export", "--until", mine["at"], "--actor", ACTOR, "--action", "user_add")
    assert before.returncode == 0, before.stderr
    assert f"user={name} " not in before.stdout


def test_without_a_redis_url_the_command_starts_its_own_embedded_redis(tmp_path: Path) -> None:
    name = new_name()
    added = triagebot(*add(name, "admin"), stdin=PASSWORD, redis_url=None, data_dir=tmp_path)
    assert added.returncode == 0, added.stderr
    # The server it started is gone, and what it wrote is on disk for the next one.
    assert running_server_port(tmp_path / "redis") is None
    again = triagebot("staff", "list", redis_url=None, data_dir=tmp_path)
    assert listed(again.stdout, name) == [name, "admin", "active"]


def test_while_the_service_runs_the_command_uses_its_redis(tmp_path: Path) -> None:
    redis_dir = tmp_path / "redis"
    # The service's embedded Redis: the command finds its port and its password.
    with for_data_dir(tmp_path) as service:
        assert running_server_port(redis_dir) == service.port
        name = new_name()
        added = triagebot(*add(name), stdin=PASSWORD, redis_url=None, data_dir=tmp_path)
        assert added.returncode == 0, added.stderr
        disabled = triagebot("staff", "disable", name, redis_url=None, data_dir=tmp_path)
        assert disabled.returncode == 0, disabled.stderr
        with Redis.from_url(service.url) as redis:
            assert redis.hget(keys.staff_user(name), "disabled") == b"1"
    assert running_server_port(redis_dir) is None


def test_an_unreachable_redis_is_one_line_and_exit_1(tmp_path: Path) -> None:
    done = triagebot("staff", "list", redis_url="redis://127.0.0.1:1/0", data_dir=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("triagebot: Redis: ")
    assert len(done.stderr.splitlines()) == 1
