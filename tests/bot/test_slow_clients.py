"""A client that sends its headers or its body a byte at a time is cut off in bounded time.

The service as `triagebot serve` runs it: create_app under an AppRunner given
bot.serve.server_options, on a real socket, and a raw asyncio connection that dribbles.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.app import create_app
from bot.embedded_redis import free_port
from bot.serve import server_options
from bot.settings import Settings

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
# Scheduling slack on a busy machine; a dribbler would otherwise hold on for ever.
SLACK_S = 3.0
DRIBBLE_EVERY_S = 0.1


@pytest.fixture(scope="module")
async def port(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> AsyncIterator[int]:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("var"),
        redis_url=SecretStr(redis_url),
        api_token=SecretStr("slow-token-0123456789"),
        header_timeout_s=HEADER_TIMEOUT_S,
        body_timeout_s=BODY_TIMEOUT_S,
    )
    runner = web.AppRunner(create_app(settings), **server_options(settings))
    await runner.setup()
    chosen = free_port()
    await web.TCPSite(runner, "127.0.0.1", chosen).start()
    try:
        yield chosen
    finally:
        await runner.cleanup()


async def _dribble(port: int, head: bytes, slow: bytes) -> tuple[bytes, float]:
    """Send `head` at once, then `slow` a byte at a time until the server hangs up; what it
    answered and how long the connection lasted."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(head)
    answer = b""
    try:
        for byte in slow:
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                chunk = await asyncio.wait_for(reader.read(4096), DRIBBLE_EVERY_S)
            except TimeoutError:
                continue
            answer += chunk
            if not chunk:
                break
        else:
            pytest.fail("the server was still reading after the whole dribble")
        return answer, time.monotonic() - started
    except ConnectionError:
        return answer, time.monotonic() - started
    finally:
        writer.close()


async def test_a_header_sent_byte_by_byte_is_cut_off_within_the_header_timeout(
    port: int,
) -> None:
    slow = b"X-Padding: " + b"a" * 400 + b"\r\n\r\n"  # 40 s at this pace
    answer, lasted = await _dribble(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", slow)
    assert answer == b""  # no answer: the request never completed
    assert HEADER_TIMEOUT_S <= lasted < HEADER_TIMEOUT_S + SLACK_S


async def test_an_idle_connection_is_closed_after_the_header_timeout(port: int) -> None:
    # Timed from before the connect: the server's timer starts on accept, which the
    # client may learn of a moment later (it once measured 0.9995 s of a 1 s timeout).
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        assert await asyncio.wait_for(reader.read(), HEADER_TIMEOUT_S + SLACK_S) == b""
        assert time.monotonic() - started >= HEADER_TIMEOUT_S
    finally:
        writer.close()


async def test_a_body_sent_byte_by_byte_gets_408_and_the_connection_closes(port: int) -> None:
    body = b'{"message_id": "m1", "author_id": "u1", "text": "' + b"a" * 400 + b'"}'
    head = (
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer slow-token-0123456789\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    answer, lasted = await _dribble(port, head, body)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"came too slowly" in answer
    # The body deadline, then at most the lingering time the answer is given to be read.
    assert BODY_TIMEOUT_S <= lasted < BODY_TIMEOUT_S + 2.0 + SLACK_S


async def test_a_request_at_normal_speed_is_answered(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ")
