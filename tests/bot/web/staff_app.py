"""What the web tests share: the real app on a real Redis, staff passwords and CSRF tokens."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.app import create_app
from bot.settings import Settings

PASSWORD = "correct horse battery"
API_TOKEN = "test-token-0123456789"


@asynccontextmanager
async def app_client(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, **settings: Any
) -> AsyncIterator[TestClient]:
    """create_app(settings) under aiohttp's test client, so startup and cleanup really run."""
    config = Settings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("var"),
        redis_url=SecretStr(redis_url),
        **settings,
    )
    async with TestClient(TestServer(create_app(config))) as client:
        yield client


def csrf_of(page: str) -> str:
    """The CSRF token a console page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)
