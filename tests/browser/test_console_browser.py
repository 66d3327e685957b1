"""End to end in a real browser: the real service, an escalation, an agent and the person.

Runs `triagebot serve` as a child process on the test Redis and drives Debian's chromium
through Playwright. Skipped, with the reason, where either is missing (`make test`
installs both when it can).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "browser-test-token-0123456789"
PASSWORD = "correct horse battery"
START_TIMEOUT_S = 120

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="playwright is not installed (pip install -e '.[dev]')"
)
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (apt-get install chromium)"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def triagebot() -> str:
    return str(Path(sys.executable).parent / "triagebot")


@pytest.fixture(scope="module")
async def service(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """The real service on a free port; yields its base URL and its environment."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TRIAGE_REDIS_URL": redis_url,
        "TRIAGE_API_TOKEN": TOKEN,
        "TRIAGE_COOKIE_SECURE": "false",
        "TRIAGE_PORT": str(port),
        "TRIAGE_DATA_DIR": str(tmp_path_factory.mktemp("var")),
        "TRIAGE_PUBLIC_BASE_URL": base,
    }
    log = tmp_path_factory.mktemp("log") / "serve.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            triagebot(), "serve", env=env, stdout=out, stderr=out
        )
    try:
        # Each probe is bounded, and so is the whole wait: probes of a server that accepts
        # but does not answer would otherwise add up to START_TIMEOUT_S * 4 * 5 s.
        try:
            async with (
                asyncio.timeout(START_TIMEOUT_S),
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
            ):
                while True:
                    if process.returncode is not None:
                        pytest.fail(f"triagebot serve exited: {log.read_text()[-2000:]}")
                    try:
                        async with http.get(f"{base}/readyz") as ready:
                            if ready.status == 200:
                                break
                    except (aiohttp.ClientConnectionError, TimeoutError):
                        pass
                    await asyncio.sleep(0.25)
        except TimeoutError:
            pytest.fail(f"triagebot serve did not become ready in {START_TIMEOUT_S} s")
        yield base, env
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


def add_agent(env: dict[str, str]) -> str:
    name = f"agent{secrets.token_hex(3)}"
    subprocess.run(
        [triagebot(), "staff", "add", name, "--role", "agent", "--password-stdin"],
        input=f"{PASSWORD}\n".encode(),
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return name


async def escalate(base: str) -> tuple[str, str]:
    body = {
        "message_id": secrets.token_hex(6),
        "author_id": secrets.token_hex(6),
        "text": "My name is Harold Finch, my SSN is 123-45-6789, is my chemo dose too high?",
    }
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base}/v1/messages", json=body, headers=headers) as response,
    ):
        decision = await response.json()
    assert decision["action"] in ("escalate", "emergency"), decision
    return decision["case_id"], decision["private_url"]


async def test_agent_and_person_talk_through_console_and_private_page(
    service: tuple[str, dict[str, str]],
) -> None:
    base, env = service
    name = await asyncio.to_thread(add_agent, env)
    case_id, private_url = await escalate(base)
    expect = playwright_api.expect

    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            agent = await (await browser.new_context()).new_page()
            await agent.goto(f"{base}/console/login")
            await agent.fill("input[name=username]", name)
            await agent.fill("input[name=password]", PASSWORD)
            await agent.click("button[type=submit]")
            await agent.wait_for_url(f"{base}/console")
            # The row arrives through the page's event stream too; the link opens the case.
            await agent.click(f"#queue a:text-is('{case_id}')")
            await agent.wait_for_url(f"{base}/console/cases/{case_id}")
            await expect(agent.locator("body")).not_to_contain_text("Harold")
            await agent.get_by_role("button", name="Claim").click()
            await expect(agent.locator("body")).to_contain_text(f"agent {name}")
            await agent.locator("form[action$='/reply'] textarea").fill("We will call you today.")
            await agent.get_by_role("button", name="Send reply").click()
            await expect(agent.locator("body")).to_contain_text("Status waiting")
            await agent.get_by_role("button", name="Resolve", exact=True).click()
            await expect(agent.locator("body")).to_contain_text("Status resolved")

            person = await (await browser.new_context()).new_page()
            await person.goto(private_url)
            await expect(person.locator("#thread")).to_contain_text("We will call you today.")
            await person.fill("#text", "Thank you, I will keep my phone on.")
            await person.get_by_role("button", name="Send").click()
            await expect(person.locator("#thread")).to_contain_text("I will keep my phone on")

            await agent.goto(f"{base}/console/cases/{case_id}")
            await expect(agent.locator("body")).to_contain_text("I will keep my phone on")
            await expect(agent.locator("body")).to_contain_text("Status new")  # reopened
        finally:
            await browser.close()
