"""Signed Meta and X deliveries with every oddity JSON can carry: never a 5xx, and every
good item of a delivery that is JSON is recorded. The full run: bench/contract_fuzz.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings

from tests.bot.webhook_fuzz import Delivery, Tally, deliveries, send, webhook_client

FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
async def client(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[TestClient]:
    async with webhook_client(tmp_path_factory.mktemp("var"), redis_url) as test_client:
        yield test_client


async def check(client: TestClient, delivery: Delivery) -> None:
    tally = Tally()
    await send(client, delivery, tally)
    assert tally.server_errors == 0, tally.lost
    assert tally.lost == []


@FUZZ
@given(delivery=deliveries("meta"))
async def test_meta_deliveries_never_fail_and_keep_their_good_items(
    client: TestClient, delivery: Delivery
) -> None:
    await check(client, delivery)


@FUZZ
@given(delivery=deliveries("x"))
async def test_x_deliveries_never_fail_and_keep_their_good_items(
    client: TestClient, delivery: Delivery
) -> None:
    await check(client, delivery)
