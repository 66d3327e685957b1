"""Schemathesis over the whole OpenAPI document against the real app: valid and invalid
cases of every operation, each answer checked against the document.

A bounded count here; `bench/contract_fuzz.py` is the full run (over 1,000 cases).
"""

from __future__ import annotations

import pytest

from bot.web.openapi import openapi_document
from tests.bot.web.contract import fuzz, live_app, seed

EXAMPLES = 8  # per operation and generation mode


def test_every_operation_holds_to_the_document(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> None:
    with live_app(tmp_path_factory.mktemp("var"), redis_url) as live:
        tally = fuzz(live, seed(live), EXAMPLES)
    documented = {
        f"{method.upper()} {path}"
        for path, item in openapi_document()["paths"].items()
        for method in item
    }
    assert set(tally.cases) == documented
    assert tally.server_errors == 0, tally.statuses
    assert tally.failures == [], "\n\n".join(tally.failures[:5])
    # The fuzz reached past the errors: real cases and drafts answered, not only 4xx.
    ok = {name for (name, status), _ in tally.statuses.items() if status < 300}
    assert {"GET /v1/cases/{case_id}", "POST /v1/cases/{case_id}/note", "GET /v1/audit"} <= ok
