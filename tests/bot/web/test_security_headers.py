"""Every answer carries the security headers: JSON, errors and redirects as well as pages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from bot.web.security_headers import HSTS
from tests.bot.web.staff_app import app_client


@pytest.fixture(scope="module")
async def client(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[TestClient]:
    # Secure cookies (the default) mean the service is reached over HTTPS.
    async with app_client(tmp_path_factory, redis_url) as test_client:
        yield test_client


def assert_secured(response: ClientResponse) -> None:
    assert response.headers["Strict-Transport-Security"] == HSTS
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


async def test_a_json_answer_carries_hsts_and_the_page_security_headers(
    client: TestClient,
) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert_secured(response)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/v1/cases", 401), ("GET", "/no/such/route", 404), ("DELETE", "/healthz", 405)],
)
async def test_error_answers_carry_the_security_headers(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path)
    assert response.status == status
    assert response.content_type == "application/json"
    assert_secured(response)


async def test_a_redirect_carries_the_security_headers(client: TestClient) -> None:
    response = await client.get("/console", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/console/login"
    assert_secured(response)


async def test_a_page_keeps_its_own_stricter_csp(client: TestClient) -> None:
    response = await client.get("/console/login")
    assert response.status == 200
    assert_secured(response)
    assert "script-src 'nonce-" in response.headers["Content-Security-Policy"]
