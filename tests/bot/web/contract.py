"""The contract harness: the real app on a real local port, and schemathesis over its
OpenAPI document, every answer checked against it.

The app runs in a thread with its own event loop, because schemathesis calls it through
`requests`, which blocks. Shared by tests/bot/web/test_contract.py (a bounded count) and
bench/contract_fuzz.py (the full run).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from redis import Redis
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from bot import faq_evaluator
from bot.app import create_app
from bot.appkeys import CASES, FAQ, PRIVATE_LINKS, STAFF
from bot.settings import Settings
from bot.web.openapi import openapi_document
from escalation.cases import Source
from escalation.faq.store import Changes
from tests.bot.webhook_fuzz import META_SECRET, PAGE_ID, X_ACCOUNT, X_SECRET, Platform, signed

API_TOKEN = "contract-api-token-0123456789"
PASSWORD = "contract horse battery"
VERIFY_TOKEN = "contract-verify-token"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
FUZZ_DB = 13
T = TypeVar("T")


class LiveApp:
    """create_app(settings) served on 127.0.0.1 from a thread of its own."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner = web.AppRunner(self.app, access_log=None)
        self.base_url = ""

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        """Run a coroutine on the app's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __enter__(self) -> LiveApp:
        self._thread.start()
        self.run(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self.run(site.start())
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self._runner.cleanup())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()


@dataclass
class Seeded:
    """What the fuzz can reach past a 404: real case ids and tokens."""

    case_ids: list[str]
    draft_ids: list[str]
    private_tokens: list[str]
    staff_token: str


@dataclass
class Tally:
    """Per operation: cases sent, statuses seen, failures by check."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    server_errors: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Every case sent."""
        return sum(self.cases.values())


@contextmanager
def live_app(data_dir: Path, redis_url: str) -> Iterator[LiveApp]:
    """The app with the staff API, the messages API and a fast draft evaluator, on a Redis
    database of its own (emptied before and after): the fuzz sets notices, approves drafts
    and opens cases that other tests on the same server must not see."""
    redis_url = urlsplit(redis_url)._replace(path=f"/{FUZZ_DB}").geturl()
    own = Redis.from_url(redis_url)
    own.flushdb()
    # The full five-fold evaluation of each fuzzed draft would take the CPUs from the fuzz.
    saved = faq_evaluator.EVAL_FOLDS, faq_evaluator.DEV_PATH
    faq_evaluator.EVAL_FOLDS, faq_evaluator.DEV_PATH = 2, data_dir / "no-dev-set.jsonl"
    config = Settings(
        _env_file=None,
        data_dir=data_dir,
        redis_url=SecretStr(redis_url),
        api_token=SecretStr(API_TOKEN),
        cookie_secure=False,
        # Every wrong token is a guess; past the limit even real ones would only get 429s.
        private_link_guesses_per_min=1_000_000,
        meta_app_secret=SecretStr(META_SECRET),
        meta_page_token=SecretStr("page-token"),
        meta_verify_token=SecretStr(VERIFY_TOKEN),
        meta_page_id=PAGE_ID,
        x_consumer_secret=SecretStr(X_SECRET),
        x_bearer_token=SecretStr("bearer"),
        x_account_id=X_ACCOUNT,
        # Receipts stay in the inbox: no worker calls the (unreachable) platforms.
        workers=0,
    )
    try:
        with LiveApp(config) as live:
            yield live
    finally:
        faq_evaluator.EVAL_FOLDS, faq_evaluator.DEV_PATH = saved
        own.flushdb()
        own.close()


def seed(live: LiveApp, cases: int = 4) -> Seeded:
    """An admin (every staff role's rights) with a token, a few open cases and a draft of
    another editor's, which the admin may approve or reject."""

    async def make() -> Seeded:
        staff = live.app[STAFF]
        admin, editor = (f"fuzz{role}{secrets.token_hex(3)}" for role in ("admin", "editor"))
        await staff.add(admin, "admin", PASSWORD)
        await staff.add(editor, "faq_editor", PASSWORD)
        token = await staff.issue_token(admin)
        nothing = Changes(answers={}, add_examples={}, remove_examples={}, new_intents={})
        draft = await live.app[FAQ].propose(editor, "contract fuzz", nothing)
        ids = []
        for n in range(cases):
            source = Source(
                channel="api",
                message_id=secrets.token_hex(6),
                author_id=secrets.token_hex(6),
                text=f"I am Harold Finch, MRN 44556{n}7, and I need my results",
                entities=[("PERSON", 5, 17)],
            )
            case_id, _ = await live.app[CASES].open(source, "high", ["phi:PERSON"])
            ids.append(case_id)
        links = [await live.app[PRIVATE_LINKS].issue(case_id) for case_id in ids]
        return Seeded(ids, [draft.id], links, token)

    return live.run(make())


def _authorize(case: schemathesis.Case, seeded: Seeded) -> None:
    token = API_TOKEN if case.operation.path == "/v1/messages" else seeded.staff_token
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


def _signed(live: LiveApp, session: requests.Session, case: schemathesis.Case) -> requests.Response:
    """POST the case's body to a webhook, signed as its platform signs: the signature is
    over the exact bytes, so they are written here rather than by schemathesis."""
    platform: Platform = "meta" if case.operation.path.endswith("/meta") else "x"
    if case.body is NOT_SET:
        raw = b""
    elif isinstance(case.body, bytes):  # an invalid case may send another media type
        raw = case.body
    else:
        raw = json.dumps(case.body).encode()
    headers = signed(platform, raw)
    if case.media_type is not None:
        headers["Content-Type"] = case.media_type
    url = live.base_url + case.formatted_path
    return session.post(url, data=raw, headers=headers, params=case.query, timeout=60)


def _send(
    live: LiveApp,
    seeded: Seeded,
    session: requests.Session,
    tally: Tally,
    case: schemathesis.Case,
    real: int,
) -> None:
    """Send one case with a real token and check its answer against the document."""
    name = case.operation.label
    negative = case.meta is not None and case.meta.generation.mode.is_negative
    # Half the valid cases of an operation on a case or draft reach a real one, past the 404.
    if not negative and real < 2:
        for param, known in (
            ("case_id", seeded.case_ids),
            ("draft_id", seeded.draft_ids),
            ("token", seeded.private_tokens),
        ):
            if param in (case.path_parameters or {}) and known:
                case.path_parameters = {param: known[real % len(known)]}
    if not negative and real < 2 and case.operation.label == "GET /webhooks/meta":
        challenge = (case.query or {}).get("hub.challenge") or "42"
        case.query = {
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": challenge,
        }
    if case.operation.path.startswith("/v1/"):
        token = API_TOKEN if case.operation.path == "/v1/messages" else seeded.staff_token
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    if case.operation.method == "post" and case.operation.path.startswith("/webhooks/"):
        response: Any = _signed(live, session, case)
    else:
        # A form post's 303 is the answer to check, not the page it leads to.
        response = case.call(
            base_url=live.base_url, session=session, timeout=60, allow_redirects=False
        )
    tally.cases[name] += 1
    tally.statuses[(name, response.status_code)] += 1
    if response.status_code >= 500:
        tally.server_errors += 1
    try:
        case.validate_response(response, checks=CHECKS)
    except (FailureGroup, AssertionError) as failure:
        mode = "negative" if negative else "positive"
        tally.failures.append(f"{name} [{mode}]: {failure}"[:4000])


def fuzz(
    live: LiveApp,
    seeded: Seeded,
    examples: int,
    *,
    report: Callable[[str], None] | None = None,
) -> Tally:
    """`examples` valid and `examples` invalid generated cases per operation, each answer
    checked: no 5xx, a documented status, content type and schema, invalid data refused."""
    # The token is ours to send; a generated Authorization header would only test 401s.
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_dict(openapi_document(), config=config)
    tally = Tally()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            _operation(live, seeded, session, tally, result.ok(), examples)
            if report is not None:
                report(f"{result.ok().label}: {tally.cases[result.ok().label]} cases")
    return tally


def _operation(
    live: LiveApp,
    seeded: Seeded,
    session: requests.Session,
    tally: Tally,
    operation: schemathesis.APIOperation,
    examples: int,
) -> None:
    """`examples` cases of each generation mode for one operation."""
    for mode in schemathesis.GenerationMode:
        run = given(case=operation.as_strategy(generation_mode=mode), real=st.integers(0, 3))(
            lambda case, real: _send(live, seeded, session, tally, case, real)
        )
        try:
            settings(
                max_examples=examples,
                deadline=None,
                database=None,
                verbosity=Verbosity.quiet,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )(run)()
        except Unsatisfiable:
            # No parameter and no body: there is nothing to make invalid.
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
