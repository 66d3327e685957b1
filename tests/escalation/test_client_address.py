"""Which address the login and private-link limits count by, behind a reverse proxy or not."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from ipaddress import ip_network
from pathlib import Path

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.app import create_app
from bot.appkeys import CASES, PRIVATE_LINKS, STAFF
from bot.settings import Settings
from bot.web.auth import LOGIN_FAILURES_ALLOWED
from escalation.cases import Source

PASSWORD = "correct horse battery"
GUESSES_PER_MIN = 3
# Above the per-username allowance, so that the tests of that one never reach it.
PER_ADDRESS = LOGIN_FAILURES_ALLOWED + 2


async def _client(tmp: Path, redis_url: str, proxies: str) -> TestClient:
    settings = Settings(
        _env_file=None,
        data_dir=tmp,
        redis_url=SecretStr(redis_url),
        cookie_secure=False,
        trusted_proxies=proxies,
        private_link_guesses_per_min=GUESSES_PER_MIN,
        login_failures_per_address=PER_ADDRESS,
    )
    return TestClient(TestServer(create_app(settings)))


@pytest.fixture(scope="module")
async def behind_proxy(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[TestClient]:
    # The test client connects from 127.0.0.1: here that is the reverse proxy.
    async with await _client(
        tmp_path_factory.mktemp("var"), redis_url, "127.0.0.1, 10.0.0.0/8"
    ) as client:
        yield client


@pytest.fixture(scope="module")
async def direct(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[TestClient]:
    async with await _client(tmp_path_factory.mktemp("var"), redis_url, "") as client:
        yield client


async def _login(client: TestClient, name: str, password: str, forwarded: str) -> int:
    return (await _token(client, name, password, forwarded)).status


async def _token(client: TestClient, name: str, password: str, forwarded: str) -> ClientResponse:
    response = await client.post(
        "/v1/auth/token",
        json={"username": name, "password": password},
        headers={"X-Forwarded-For": forwarded},
    )
    await response.read()
    return response


async def _user(client: TestClient) -> str:
    name = f"agent{secrets.token_hex(3)}"
    await client.app[STAFF].add(name, "agent", PASSWORD)
    return name


def _address() -> str:
    return f"198.51.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def test_trusted_proxies_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_TRUSTED_PROXIES", " 10.0.0.0/8 , 192.168.1.7,::1 ")
    assert Settings(_env_file=None).trusted_proxies == (
        ip_network("10.0.0.0/8"),
        ip_network("192.168.1.7/32"),
        ip_network("::1/128"),
    )
    monkeypatch.delenv("TRIAGE_TRUSTED_PROXIES")
    assert Settings(_env_file=None).trusted_proxies == ()


async def test_behind_a_trusted_proxy_one_guesser_does_not_lock_out_another_client(
    behind_proxy: TestClient,
) -> None:
    name, guesser, other = await _user(behind_proxy), _address(), _address()
    for _ in range(LOGIN_FAILURES_ALLOWED):
        assert await _login(behind_proxy, name, "wrong password!", guesser) == 401
    assert await _login(behind_proxy, name, PASSWORD, guesser) == 401
    assert await _login(behind_proxy, name, PASSWORD, other) == 200


async def test_the_rightmost_untrusted_hop_is_the_client_whatever_is_written_left_of_it(
    behind_proxy: TestClient,
) -> None:
    name, guesser = await _user(behind_proxy), _address()
    for n in range(LOGIN_FAILURES_ALLOWED):
        # The guesser writes a new address of its own each time; our proxies append the
        # address they saw (10.1.2.3 is a second trusted proxy in the chain).
        forwarded = f"203.0.113.{n}, {guesser}, 10.1.2.3"
        assert await _login(behind_proxy, name, "wrong password!", forwarded) == 401
    assert await _login(behind_proxy, name, PASSWORD, f"203.0.113.99, {guesser}") == 401


async def test_without_trusted_proxies_a_forwarded_header_changes_nothing(
    direct: TestClient,
) -> None:
    name = await _user(direct)
    for _ in range(LOGIN_FAILURES_ALLOWED):
        assert await _login(direct, name, "wrong password!", _address()) == 401
    assert await _login(direct, name, PASSWORD, _address()) == 401


async def test_private_link_guesses_count_per_forwarded_client(behind_proxy: TestClient) -> None:
    source = Source(
        channel="api", message_id=secrets.token_hex(6), author_id=secrets.token_hex(6), text="hi"
    )
    case_id, _ = await behind_proxy.app[CASES].open(source, "normal", ["phi:MRN"])
    real = f"/p/{await behind_proxy.app[PRIVATE_LINKS].issue(case_id)}"
    guesser, patient = _address(), _address()
    for _ in range(GUESSES_PER_MIN):
        wrong = await behind_proxy.get(
            f"/p/{secrets.token_urlsafe(24)}", headers={"X-Forwarded-For": guesser}
        )
        assert wrong.status == 404
    refused = await behind_proxy.get(real, headers={"X-Forwarded-For": guesser})
    assert refused.status == 429
    assert (await behind_proxy.get(real, headers={"X-Forwarded-For": patient})).status == 200


def _stranger() -> str:
    """A username nobody has: its own per-username allowance is never reached."""
    return f"nobody{secrets.token_hex(4)}"


async def test_failed_logins_from_one_address_are_limited_across_usernames(
    behind_proxy: TestClient,
) -> None:
    name, guesser, other = await _user(behind_proxy), _address(), _address()
    for _ in range(PER_ADDRESS):
        assert await _login(behind_proxy, _stranger(), "wrong password!", guesser) == 401
    refused = await _token(behind_proxy, name, PASSWORD, guesser)
    assert refused.status == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 300
    assert "error" in await refused.json()
    assert await _login(behind_proxy, name, PASSWORD, other) == 200


async def test_a_concurrent_burst_across_usernames_checks_at_most_the_address_limit(
    behind_proxy: TestClient,
) -> None:
    guesser = _address()
    burst = [_login(behind_proxy, _stranger(), "wrong password!", guesser) for _ in range(100)]
    statuses = await asyncio.gather(*burst)
    # Every checked password was wrong (401); the rest were refused before any hashing.
    assert statuses.count(401) == PER_ADDRESS
    assert statuses.count(429) == 100 - PER_ADDRESS
    assert await _login(behind_proxy, await _user(behind_proxy), PASSWORD, guesser) == 429


async def test_successful_logins_do_not_use_up_the_address_allowance(
    behind_proxy: TestClient,
) -> None:
    # Staff behind one hospital NAT share an address; their logins all succeed.
    name, shared = await _user(behind_proxy), _address()
    for _ in range(PER_ADDRESS + 3):
        assert await _login(behind_proxy, name, PASSWORD, shared) == 200
    assert await _login(behind_proxy, _stranger(), "wrong password!", shared) == 401


async def test_console_login_past_the_address_allowance_gets_429(
    behind_proxy: TestClient,
) -> None:
    name, guesser = await _user(behind_proxy), _address()
    for _ in range(PER_ADDRESS):
        assert await _login(behind_proxy, _stranger(), "wrong password!", guesser) == 401
    page = await (await behind_proxy.get("/console/login")).text()
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    refused = await behind_proxy.post(
        "/console/login",
        data={"csrf": csrf, "username": name, "password": PASSWORD},
        headers={"X-Forwarded-For": guesser},
        allow_redirects=False,
    )
    assert refused.status == 429
    assert "Retry-After" in refused.headers
    assert "Too many failed logins" in await refused.text()
