"""The staff API through real HTTP on create_app(settings), with a real Redis."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from bot.appkeys import AUDIT, CASES, CIPHER, CONNECTORS, REDIS, STAFF
from bot.connectors.base import ActionKind, OutboundAction, OutboundError
from bot.web.auth import LOGIN_FAILURES_ALLOWED
from escalation.audit import AuditLog
from escalation.cases import Source
from tests.bot.web.staff_app import API_TOKEN, PASSWORD, app_client

SECRET_TEXT = "I am Harold Finch, my MRN is 4455667 and I have chest pain"


@pytest.fixture(scope="module")
async def client(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[TestClient]:
    # Every request here comes from 127.0.0.1: the per-username limit is tested alone
    # here, the per-address one in tests/escalation/test_client_address.py.
    settings = {
        "api_token": SecretStr(API_TOKEN),
        "cookie_secure": False,
        "login_failures_per_address": 1000,
    }
    async with app_client(tmp_path_factory, redis_url, **settings) as test_client:
        yield test_client


async def add_user(client: TestClient, role: str) -> str:
    name = f"{role.replace('_', '')}{secrets.token_hex(3)}"
    await client.app[STAFF].add(name, role, PASSWORD)
    return name


async def token_for(client: TestClient, name: str) -> dict[str, str]:
    response = await client.post("/v1/auth/token", json={"username": name, "password": PASSWORD})
    assert response.status == 200, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def open_case(client: TestClient, text: str = SECRET_TEXT) -> str:
    source = Source(
        channel="api",
        message_id=secrets.token_hex(6),
        author_id=secrets.token_hex(6),
        text=text,
        entities=[("PERSON", 5, 17)],
    )
    case_id, opened = await client.app[CASES].open(source, "high", ["phi:PERSON"])
    assert opened
    return case_id


async def audit_of(client: TestClient, case_id: str) -> list[tuple[str, str]]:
    return [(e.actor, e.action) async for e in client.app[AUDIT].entries() if e.case_id == case_id]


async def test_login_returns_a_token_and_is_audited(client: TestClient) -> None:
    name = await add_user(client, "agent")
    headers = await token_for(client, name)
    assert (await client.get("/v1/cases", headers=headers)).status == 200
    actions = [e.action async for e in client.app[AUDIT].entries(actor=name)]
    assert "login" in actions


async def test_wrong_password_gets_a_generic_401_and_is_audited(client: TestClient) -> None:
    name = await add_user(client, "agent")
    for username in (name, "nobody-here"):
        response = await client.post(
            "/v1/auth/token", json={"username": username, "password": "wrong password!"}
        )
        assert response.status == 401
        assert await response.json() == {"error": "invalid username or password"}
    failed = [e async for e in client.app[AUDIT].entries(action="login_failed")]
    assert {e.actor for e in failed} >= {name, "unknown"}
    assert all("nobody" not in e.actor for e in failed)


async def test_repeated_login_failures_are_throttled(client: TestClient) -> None:
    name = await add_user(client, "agent")
    for _ in range(10):
        await client.post("/v1/auth/token", json={"username": name, "password": "wrong password!"})
    right = await client.post("/v1/auth/token", json={"username": name, "password": PASSWORD})
    assert right.status == 401


async def answered(requests: list[asyncio.Future[ClientResponse]], count: int) -> None:
    """Wait until `count` of the requests have their answer."""
    for n, next_answer in enumerate(asyncio.as_completed(requests), 1):
        await next_answer
        if n == count:
            return


async def login_failures(client: TestClient, name: str, detail: str | None = None) -> int:
    entries = client.app[AUDIT].entries(actor=name, action="login_failed")
    return len([e async for e in entries if detail is None or e.detail == detail])


async def test_a_burst_of_wrong_passwords_checks_at_most_the_limit_and_locks_the_user(
    client: TestClient,
) -> None:
    name = await add_user(client, "agent")
    wrong = {"username": name, "password": "wrong password!"}
    burst = [asyncio.ensure_future(client.post("/v1/auth/token", json=wrong)) for _ in range(100)]
    # Once as many as the allowance are answered, the right password sent during the
    # burst is refused.
    await answered(burst, LOGIN_FAILURES_ALLOWED)
    right = {"username": name, "password": PASSWORD}
    during = await client.post("/v1/auth/token", json=right)
    statuses = [r.status for r in await asyncio.gather(*burst)]
    after = await client.post("/v1/auth/token", json=right)
    assert statuses == [401] * 100
    assert (during.status, after.status) == (401, 401)
    assert await login_failures(client, name, "api") <= LOGIN_FAILURES_ALLOWED


async def test_throttled_logins_are_recorded_once_per_window_with_their_count(
    client: TestClient,
) -> None:
    name = await add_user(client, "agent")
    wrong = {"username": name, "password": "wrong password!"}
    windows = {int(time.time() // 300)}
    for _ in range(LOGIN_FAILURES_ALLOWED + 40):
        assert (await client.post("/v1/auth/token", json=wrong)).status == 401
    windows.add(int(time.time() // 300))
    assert await login_failures(client, name) <= LOGIN_FAILURES_ALLOWED + len(windows) - 1
    # Once the window is over, housekeeping records the count.
    later = AuditLog(client.app[REDIS], client.app[CIPHER], clock=lambda: time.time() + 600)
    await later.flush_repeats()
    entries = client.app[AUDIT].entries(actor=name, action="login_failed")
    throttled = [e.detail or "" async for e in entries if "throttled" in (e.detail or "")]
    assert len(throttled) == len(windows)
    assert sum(int(d.rsplit("count=", 1)[1]) for d in throttled) == 40
    assert all(d.startswith("api:throttled src=") for d in throttled)
    assert await later.flush_repeats() == 0


async def test_disabled_users_token_fails_on_its_next_request(client: TestClient) -> None:
    name = await add_user(client, "agent")
    headers = await token_for(client, name)
    assert (await client.get("/v1/cases", headers=headers)).status == 200
    await client.app[STAFF].disable(name)
    response = await client.get("/v1/cases", headers=headers)
    assert response.status == 401
    assert "error" in await response.json()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
async def test_cases_need_a_staff_token(client: TestClient, headers: dict[str, str]) -> None:
    assert (await client.get("/v1/cases", headers=headers)).status == 401


async def test_agent_cannot_read_audit_or_change_roles(client: TestClient) -> None:
    agent = await token_for(client, await add_user(client, "agent"))
    other = await add_user(client, "agent")
    assert (await client.get("/v1/audit", headers=agent)).status == 403
    response = await client.post(f"/v1/staff/{other}/role", json={"role": "admin"}, headers=agent)
    assert response.status == 403
    assert (await client.app[STAFF].get(other)).role == "agent"  # type: ignore[union-attr]


async def test_compliance_reads_audit_but_cannot_work_cases(client: TestClient) -> None:
    officer = await token_for(client, await add_user(client, "compliance"))
    response = await client.get("/v1/audit?action=login&limit=5", headers=officer)
    assert response.status == 200
    assert all(e["action"] == "login" for e in (await response.json())["entries"])
    assert (await client.get("/v1/cases", headers=officer)).status == 403
    assert (await client.get("/v1/audit?action=bogus", headers=officer)).status == 400


async def test_audit_reads_newest_first_and_pages_back_with_a_cursor(client: TestClient) -> None:
    officer = await token_for(client, await add_user(client, "compliance"))
    actor = f"cli:pager{secrets.token_hex(3)}"
    for n in range(7):
        await client.app[AUDIT].record(actor, "user_add", detail=f"n={n}")
    pages, before = [], None
    while True:
        query = f"/v1/audit?actor={actor}&limit=3" + (f"&before={before}" if before else "")
        response = await client.get(query, headers=officer)
        assert response.status == 200
        page = await response.json()
        pages.append([e["detail"] for e in page["entries"]])
        before = page["next"]
        if before is None:
            break
    assert pages == [["n=6", "n=5", "n=4"], ["n=3", "n=2", "n=1"], ["n=0"]]
    newest = await (await client.get("/v1/audit?limit=1", headers=officer)).json()
    assert newest["entries"][0]["action"] == "export"  # the read just before this one
    bad = await client.get("/v1/audit?before=1-2;drop", headers=officer)
    assert bad.status == 400


@pytest.mark.parametrize(
    ("before", "status"), [("0000-0000", 200), ("18446744073709551616-0", 400), ("0-1", 200)]
)
async def test_an_audit_cursor_redis_would_refuse_is_no_500(
    client: TestClient, before: str, status: int
) -> None:
    # Found by the contract fuzz: "(0-0" and ids past 64 bits are Redis errors, not ranges.
    officer = await token_for(client, await add_user(client, "compliance"))
    response = await client.get(f"/v1/audit?before={before}", headers=officer)
    assert response.status == status, await response.text()


async def test_admin_changes_a_role_audited_and_old_token_stops_working(
    client: TestClient,
) -> None:
    admin = await token_for(client, await add_user(client, "admin"))
    name = await add_user(client, "agent")
    agent = await token_for(client, name)
    response = await client.post(
        f"/v1/staff/{name}/role", json={"role": "compliance"}, headers=admin
    )
    assert response.status == 200
    assert (await response.json())["role"] == "compliance"
    assert (await client.get("/v1/cases", headers=agent)).status == 401
    changes = [e async for e in client.app[AUDIT].entries(action="role_change")]
    assert changes[-1].detail == f"user={name} role=compliance"
    missing = await client.post("/v1/staff/ghost/role", json={"role": "agent"}, headers=admin)
    assert missing.status == 404
    bad = await client.post(f"/v1/staff/{name}/role", json={"role": "root"}, headers=admin)
    assert bad.status == 422


async def test_case_view_is_masked_and_audited(client: TestClient) -> None:
    name = await add_user(client, "agent")
    headers = await token_for(client, name)
    case_id = await open_case(client)
    response = await client.get(f"/v1/cases/{case_id}", headers=headers)
    assert response.status == 200
    view = await response.json()
    text = view["thread"][0]["text"]
    assert "Harold" not in text
    assert "4455667" not in text
    assert text.startswith("I am [PERSON], my MRN is [NUMBER]")
    assert view["thread"][0]["edited"] is False  # an edit's version says True
    assert view["revealed"] is False
    assert (name, "case_view") in await audit_of(client, case_id)


async def test_listing_carries_metadata_only(client: TestClient) -> None:
    headers = await token_for(client, await add_user(client, "agent"))
    case_id = await open_case(client)
    response = await client.get("/v1/cases?status=new", headers=headers)
    listed = await response.text()
    assert case_id in listed
    assert "Harold" not in listed
    assert (await client.get("/v1/cases?status=lost", headers=headers)).status == 400


async def test_each_reveal_is_audited_with_actor_time_and_case(client: TestClient) -> None:
    name = await add_user(client, "agent")
    headers = await token_for(client, name)
    case_id = await open_case(client)
    before = datetime.now(UTC) - timedelta(seconds=1)
    first = await client.get(f"/v1/cases/{case_id}?reveal=1", headers=headers)
    second = await client.post(f"/v1/cases/{case_id}/reveal", headers=headers)
    for response in (first, second):
        assert response.status == 200
        assert (await response.json())["thread"][0]["text"] == SECRET_TEXT
    reveals = [
        e
        async for e in client.app[AUDIT].entries(since=before, action="reveal")
        if e.case_id == case_id
    ]
    assert len(reveals) == 2
    assert all(e.actor == name and e.at >= before for e in reveals)


async def test_a_reply_to_a_resolved_case_gets_409_and_leaves_it_resolved(
    client: TestClient,
) -> None:
    headers = await token_for(client, await add_user(client, "agent"))
    case_id = await open_case(client)
    assert (await client.post(f"/v1/cases/{case_id}/resolve", headers=headers)).status == 200
    reply = await client.post(f"/v1/cases/{case_id}/reply", json={"text": "hi"}, headers=headers)
    assert reply.status == 409
    case = await client.app[CASES].get(case_id)
    assert case.status == "resolved"
    assert case.resolved_at is not None


async def test_claim_reply_resolve_flow(client: TestClient) -> None:
    name = await add_user(client, "agent")
    headers = await token_for(client, name)
    rival = await token_for(client, await add_user(client, "agent"))
    case_id = await open_case(client)

    claimed = await client.post(f"/v1/cases/{case_id}/claim", headers=headers)
    assert (await claimed.json())["case"]["claimed_by"] == name
    assert (await client.post(f"/v1/cases/{case_id}/claim", headers=rival)).status == 409

    note = await client.post(f"/v1/cases/{case_id}/note", json={"text": "ask"}, headers=headers)
    assert note.status == 200
    reply = await client.post(
        f"/v1/cases/{case_id}/reply", json={"text": "We will call you."}, headers=headers
    )
    body = await reply.json()
    assert (body["case"]["status"], body["delivery"]) == ("waiting", None)

    transfer = await client.post(
        f"/v1/cases/{case_id}/transfer", json={"team": "nursing"}, headers=headers
    )
    assert (await transfer.json())["case"]["team"] == "nursing"
    resolved = await client.post(
        f"/v1/cases/{case_id}/resolve", json={"hand_back": True}, headers=headers
    )
    assert (await resolved.json())["case"]["status"] == "resolved"
    again = await client.post(f"/v1/cases/{case_id}/resolve", headers=headers)
    assert again.status == 409

    thread = await client.app[CASES].thread(case_id)
    assert thread[-1].text == "We will call you."
    assert [a for _, a in await audit_of(client, case_id)] == [
        "claim",
        "note",
        "reply",
        "transfer",
        "resolve",
    ]


async def test_unknown_case_is_404_and_bad_bodies_are_4xx_without_echo(
    client: TestClient,
) -> None:
    headers = await token_for(client, await add_user(client, "agent"))
    for method, path in [
        ("GET", "/v1/cases/feedfacefeedface"),
        ("POST", "/v1/cases/feedfacefeedface/claim"),
        ("POST", "/v1/cases/feedfacefeedface/resolve"),
    ]:
        response = await client.request(method, path, headers=headers)
        assert response.status == 404, path
        assert "error" in await response.json()
    case_id = await open_case(client)
    cases = [
        (b'{"text": "Harold 123-45-6789', 400),
        (b'{"text": ""}', 422),
        (b'{"text": "Harold 123-45-6789", "extra": 1}', 422),
        (b'{"team": "Harold 123-45-6789"}', 422),
    ]
    for raw, status in cases:
        path = "transfer" if b"team" in raw else "reply"
        response = await client.post(
            f"/v1/cases/{case_id}/{path}",
            data=raw,
            headers={**headers, "Content-Type": "application/json"},
        )
        text = await response.text()
        assert response.status == status, text
        assert "Harold" not in text
        assert "123-45" not in text


class RecordingConnector:
    """Plays a platform: records direct messages, or fails every send."""

    platform = "fakechat"

    def __init__(self, fail: bool) -> None:
        self.fail, self.sent = fail, []

    async def send(self, session: object, action: OutboundAction) -> None:
        if self.fail:
            raise OutboundError(503, retryable=True, detail="down")
        self.sent.append(action)


@pytest.mark.parametrize(("fail", "delivery"), [(False, "sent"), (True, "failed")])
async def test_reply_to_a_private_message_is_delivered_and_never_lost(
    client: TestClient, fail: bool, delivery: str
) -> None:
    headers = await token_for(client, await add_user(client, "agent"))
    connector = RecordingConnector(fail)
    client.app[CONNECTORS]["fakechat"] = connector  # type: ignore[assignment]
    try:
        source = Source(
            channel="fakechat",
            message_id=secrets.token_hex(6),
            author_id="psid-42",
            kind="direct",
            text="is my biopsy back?",
        )
        case_id, _ = await client.app[CASES].open(source, "normal", ["medical_advice"])
        response = await client.post(
            f"/v1/cases/{case_id}/reply", json={"text": "We will call you."}, headers=headers
        )
        assert response.status == 200
        assert (await response.json())["delivery"] == delivery
        assert (await client.app[CASES].thread(case_id))[-1].text == "We will call you."
        if not fail:
            assert [(a.kind, a.target_id, a.text) for a in connector.sent] == [
                (ActionKind.DIRECT, "psid-42", "We will call you.")
            ]
    finally:
        del client.app[CONNECTORS]["fakechat"]


async def test_staff_change_their_own_password_and_log_in_again(client: TestClient) -> None:
    name = await add_user(client, "agent")
    headers = await token_for(client, name)
    new = "an entirely different passphrase"

    wrong = await client.post(
        "/v1/auth/password",
        json={"current_password": "not my password at all", "new_password": new},
        headers=headers,
    )
    assert wrong.status == 401
    short = await client.post(
        "/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "tiny-pw"},
        headers=headers,
    )
    assert short.status == 422
    assert "tiny-pw" not in await short.text()  # what was typed is never echoed
    changed = await client.post(
        "/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": new},
        headers=headers,
    )
    assert changed.status == 200, await changed.text()
    assert await changed.json() == {"username": name, "logged_out": True}

    assert (await client.get("/v1/cases", headers=headers)).status == 401  # token revoked
    old = await client.post("/v1/auth/token", json={"username": name, "password": PASSWORD})
    assert old.status == 401
    fresh = await client.post("/v1/auth/token", json={"username": name, "password": new})
    assert fresh.status == 200
    actions = [e.action async for e in client.app[AUDIT].entries(actor=name)]
    assert actions.count("password_change") == 1
    assert "login_failed" in actions  # the wrong current password counts as a failed login


async def test_a_password_change_needs_a_token(client: TestClient) -> None:
    body = {"current_password": PASSWORD, "new_password": "an entirely different one"}
    assert (await client.post("/v1/auth/password", json=body)).status == 401


async def held_by_an_agent(client: TestClient) -> str:
    """A case claimed by an agent of its own."""
    case_id = await open_case(client)
    holder = await token_for(client, await add_user(client, "agent"))
    assert (await client.post(f"/v1/cases/{case_id}/claim", headers=holder)).status == 200
    return case_id


async def test_an_agent_cannot_reveal_or_note_a_case_another_agent_holds(
    client: TestClient,
) -> None:
    case_id = await held_by_an_agent(client)
    name = await add_user(client, "agent")
    other = await token_for(client, name)
    masked = await client.get(f"/v1/cases/{case_id}", headers=other)
    assert masked.status == 200
    assert (await masked.json())["break_glass_needed"] is True
    refused = [
        await client.get(f"/v1/cases/{case_id}?reveal=1", headers=other),
        await client.get(f"/v1/cases/{case_id}?reveal=1&reason=curious", headers=other),
        await client.post(f"/v1/cases/{case_id}/reveal", headers=other),
        await client.post(f"/v1/cases/{case_id}/note", json={"text": "peek"}, headers=other),
    ]
    assert [r.status for r in refused] == [403] * 4
    for response in refused:
        assert "Harold" not in await response.text()
    assert "break-glass reason" in (await refused[0].json())["error"]
    bad = await client.post(
        f"/v1/cases/{case_id}/note", json={"text": "peek", "reason": "curious"}, headers=other
    )
    assert bad.status == 422
    assert await client.app[CASES].notes(case_id) == []
    assert [a for actor, a in await audit_of(client, case_id) if actor == name] == ["case_view"]


async def test_a_break_glass_reveal_or_note_is_audited_with_its_reason_for_compliance(
    client: TestClient,
) -> None:
    case_id = await held_by_an_agent(client)
    name = await add_user(client, "agent")
    other = await token_for(client, name)
    reveal = await client.post(
        f"/v1/cases/{case_id}/reveal", json={"reason": "patient_safety"}, headers=other
    )
    assert reveal.status == 200
    assert SECRET_TEXT in [m["text"] for m in (await reveal.json())["thread"]]
    note = await client.post(
        f"/v1/cases/{case_id}/note",
        json={"text": "covering while she is out", "reason": "holder_unavailable"},
        headers=other,
    )
    assert note.status == 200
    got = await client.get(f"/v1/cases/{case_id}?reveal=1&reason=covering_shift", headers=other)
    assert got.status == 200
    officer = await token_for(client, await add_user(client, "compliance"))
    listed = await client.get(f"/v1/audit?action=break_glass&actor={name}", headers=officer)
    assert listed.status == 200
    entries = (await listed.json())["entries"]
    assert [(e["case_id"], e["detail"]) for e in entries] == [
        (case_id, "reveal covering_shift"),
        (case_id, "note holder_unavailable"),
        (case_id, "reveal patient_safety"),
    ]


async def test_the_holder_admins_and_compliance_reveal_and_note_without_a_reason(
    client: TestClient,
) -> None:
    case_id = await open_case(client)
    holder = await token_for(client, await add_user(client, "agent"))
    assert (await client.post(f"/v1/cases/{case_id}/claim", headers=holder)).status == 200
    admin = await token_for(client, await add_user(client, "admin"))
    officer = await token_for(client, await add_user(client, "compliance"))
    for headers in (holder, admin, officer):
        view = await client.get(f"/v1/cases/{case_id}", headers=headers)
        assert (await view.json())["break_glass_needed"] is False
        reveal = await client.post(f"/v1/cases/{case_id}/reveal", headers=headers)
        assert reveal.status == 200
        note = await client.post(f"/v1/cases/{case_id}/note", json={"text": "ok"}, headers=headers)
        assert note.status == 200
    assert "break_glass" not in [a for _, a in await audit_of(client, case_id)]
    # Compliance reviews cases; it still does not work them.
    assert (await client.post(f"/v1/cases/{case_id}/claim", headers=officer)).status == 403
    # A case nobody holds: any agent may.
    free = await open_case(client)
    other = await token_for(client, await add_user(client, "agent"))
    assert (await client.post(f"/v1/cases/{free}/reveal", headers=other)).status == 200
