"""The staff console through real HTTP on create_app(settings), with a real Redis."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientResponse, ClientSession, DummyCookieJar
from aiohttp.test_utils import TestClient

from bot.appkeys import AUDIT, CASES, STAFF
from bot.web.auth import LOGIN_FAILURES_ALLOWED
from bot.web.console import LOGIN_CSRF_COOKIE, cookie_options
from escalation.cases import Source
from tests.bot.web.staff_app import PASSWORD, app_client, csrf_of

SECRET = "I am Harold Finch and my MRN is 4455667"


@pytest.fixture(scope="module")
async def client(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[TestClient]:
    # The per-username limit alone (every request comes from 127.0.0.1).
    settings = {"cookie_secure": False, "login_failures_per_address": 1000}
    async with app_client(tmp_path_factory, redis_url, **settings) as test_client:
        yield test_client


async def log_in(client: TestClient, role: str = "agent") -> tuple[str, ClientResponse]:
    name = f"{role}{secrets.token_hex(3)}"
    await client.app[STAFF].add(name, role, PASSWORD)
    client.session.cookie_jar.clear()
    form = await (await client.get("/console/login")).text()
    response = await client.post(
        "/console/login",
        data={"csrf": csrf_of(form), "username": name, "password": PASSWORD},
        allow_redirects=False,
    )
    return name, response


async def open_case(client: TestClient) -> str:
    source = Source(
        channel="api",
        message_id=secrets.token_hex(6),
        author_id=secrets.token_hex(6),
        text=SECRET,
        entities=[("PERSON", 5, 17)],
    )
    case_id, _ = await client.app[CASES].open(source, "high", ["phi:PERSON"])
    return case_id


async def page_csrf(client: TestClient, path: str = "/console") -> str:
    response = await client.get(path)
    assert response.status == 200
    return csrf_of(await response.text())


async def test_login_sets_a_strict_http_only_session_cookie(client: TestClient) -> None:
    name, response = await log_in(client)
    assert response.status == 303
    assert response.headers["Location"] == "/console"
    cookie = next(
        c for c in response.headers.getall("Set-Cookie") if c.startswith("triage_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # this app runs with cookie_secure off
    assert cookie_options(secure=True)["secure"] is True
    assert (await client.get("/console")).status == 200
    assert [e.detail async for e in client.app[AUDIT].entries(actor=name, action="login")] == [
        "console"
    ]


async def test_login_without_its_csrf_cookie_or_with_a_wrong_password_fails(
    client: TestClient,
) -> None:
    name = f"agent{secrets.token_hex(3)}"
    await client.app[STAFF].add(name, "agent", PASSWORD)
    client.session.cookie_jar.clear()
    forged = await client.post(
        "/console/login", data={"csrf": "x", "username": name, "password": PASSWORD}
    )
    assert forged.status == 403
    form = await (await client.get("/console/login")).text()
    wrong = await client.post(
        "/console/login",
        data={"csrf": csrf_of(form), "username": name, "password": "wrong password!"},
    )
    assert wrong.status == 401
    assert "Invalid username or password" in await wrong.text()


async def test_a_burst_of_wrong_console_passwords_checks_at_most_the_limit(
    client: TestClient,
) -> None:
    name = f"agent{secrets.token_hex(3)}"
    await client.app[STAFF].add(name, "agent", PASSWORD)
    csrf = csrf_of(await (await client.get("/console/login")).text())
    # Without a cookie jar: each refusal sets a new login cookie, the burst keeps the first.
    async with ClientSession(cookie_jar=DummyCookieJar()) as session:

        def attempt(password: str) -> asyncio.Future[ClientResponse]:
            return asyncio.ensure_future(
                session.post(
                    client.make_url("/console/login"),
                    data={"csrf": csrf, "username": name, "password": password},
                    headers={"Cookie": f"{LOGIN_CSRF_COOKIE}={csrf}"},
                    allow_redirects=False,
                )
            )

        burst = [attempt("wrong password!") for _ in range(100)]
        for n, next_answer in enumerate(asyncio.as_completed(burst), 1):
            await next_answer
            if n == LOGIN_FAILURES_ALLOWED:
                break
        during = await attempt(PASSWORD)
        statuses = [r.status for r in await asyncio.gather(*burst)]
    assert statuses == [401] * 100
    assert during.status == 401
    entries = client.app[AUDIT].entries(actor=name, action="login_failed")
    checked = [e async for e in entries if e.detail == "console"]
    assert len(checked) <= LOGIN_FAILURES_ALLOWED


@pytest.mark.parametrize("csrf", ["\x00", "", " "])
async def test_login_without_the_csrf_cookie_is_refused_whatever_the_token(
    client: TestClient, csrf: str
) -> None:
    name = f"agent{secrets.token_hex(3)}"
    await client.app[STAFF].add(name, "agent", PASSWORD)
    client.session.cookie_jar.clear()
    response = await client.post(
        "/console/login",
        data={"csrf": csrf, "username": name, "password": PASSWORD},
        allow_redirects=False,
    )
    assert response.status == 403
    assert "triage_session" not in response.cookies
    assert [e async for e in client.app[AUDIT].entries(actor=name, action="login")] == []


async def test_pages_need_a_session(client: TestClient) -> None:
    client.session.cookie_jar.clear()
    for path in ("/console", "/console/events", "/console/cases/abc"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 303, path
        assert response.headers["Location"] == "/console/login"


async def test_post_without_csrf_is_refused(client: TestClient) -> None:
    await log_in(client)
    case_id = await open_case(client)
    for data in ({}, {"csrf": "forged"}):
        response = await client.post(f"/console/cases/{case_id}/claim", data=data)
        assert response.status == 403
    assert (await client.app[CASES].get(case_id)).status == "new"


async def test_queue_shows_a_new_case_and_events_push_it(client: TestClient) -> None:
    await log_in(client)
    before = await open_case(client)
    assert before in await (await client.get("/console")).text()
    async with client.get("/console/events") as events:
        assert events.headers["Content-Type"] == "text/event-stream"
        first = await events.content.readuntil(b"\n\n")
        assert before.encode() in first
        assert b"Harold" not in first
        later = await open_case(client)
        pushed = await events.content.readuntil(b"\n\n")
        while pushed.startswith(b":"):
            pushed = await events.content.readuntil(b"\n\n")
        assert later.encode() in pushed


async def test_case_page_masks_and_reveal_is_audited(client: TestClient) -> None:
    name, _ = await log_in(client)
    case_id = await open_case(client)
    page = await (await client.get(f"/console/cases/{case_id}")).text()
    assert "Harold" not in page
    assert "4455667" not in page
    assert "[PERSON]" in page
    revealed = await client.post(f"/console/cases/{case_id}/reveal", data={"csrf": csrf_of(page)})
    assert revealed.status == 200
    assert "Harold Finch" in await revealed.text()
    actions = [e.action async for e in client.app[AUDIT].entries(actor=name) if e.case_id]
    assert actions == ["case_view", "reveal"]


async def test_case_page_masks_every_message_of_the_person_but_not_staff_texts(
    client: TestClient,
) -> None:
    name, _ = await log_in(client)
    case_id = await open_case(client)
    follow_up = "I'm at 12 Elm St, my name is Jo Smith"
    spans = [("STREET_ADDRESS", 7, 16), ("PERSON", 29, 37)]
    await client.app[CASES].add_message(case_id, "person", follow_up, entities=spans)
    await client.app[CASES].claim(name, case_id)
    await client.app[CASES].reply(case_id, name, "Please call 911 or 988 now")
    page = await (await client.get(f"/console/cases/{case_id}")).text()
    assert "I&#x27;m at [STREET_ADDRESS], my name is [PERSON]" in page
    assert "Please call 911 or 988 now" in page
    assert "Elm" not in page
    assert "Smith" not in page


async def test_claim_reply_transfer_resolve_from_the_console(client: TestClient) -> None:
    name, _ = await log_in(client)
    case_id = await open_case(client)
    csrf = await page_csrf(client, f"/console/cases/{case_id}")
    base = f"/console/cases/{case_id}"
    for path, data in [
        ("claim", {}),
        ("reply", {"text": "We will call you today."}),
        ("note", {"text": "called back"}),
        ("transfer", {"team": "billing"}),
        ("resolve", {"hand_back": "1"}),
    ]:
        response = await client.post(f"{base}/{path}", data={"csrf": csrf, **data})
        assert response.status == 200, (path, await response.text())
    case = await client.app[CASES].get(case_id)
    assert (case.status, case.handed_back) == ("resolved", True)
    assert (case.team, (await client.app[CASES].thread(case_id))[-1].text) == (
        "billing",
        "We will call you today.",
    )
    # Each redirect back to the case page is a view, audited too.
    entries = client.app[AUDIT].entries(actor=name)
    audited = [e.action async for e in entries if e.case_id and e.action != "case_view"]
    assert audited == ["claim", "reply", "note", "transfer", "resolve"]


async def test_disabled_users_session_ends_on_its_next_request(client: TestClient) -> None:
    name, _ = await log_in(client)
    assert (await client.get("/console", allow_redirects=False)).status == 200
    await client.app[STAFF].disable(name)
    response = await client.get("/console", allow_redirects=False)
    assert response.status == 303


async def test_logout_ends_the_session(client: TestClient) -> None:
    await log_in(client)
    csrf = await page_csrf(client)
    response = await client.post("/console/logout", data={"csrf": csrf}, allow_redirects=False)
    assert response.status == 303
    assert (await client.get("/console", allow_redirects=False)).status == 303


async def test_no_hsts_without_secure_cookies(client: TestClient) -> None:
    # Plain-http development: HSTS would lock the browser out of it.
    response = await client.get("/console/login")
    assert "Strict-Transport-Security" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_case_another_agent_holds_is_revealed_or_noted_only_with_a_break_glass_reason(
    client: TestClient,
) -> None:
    case_id = await open_case(client)
    await client.app[CASES].claim("someone-else", case_id)
    name, _ = await log_in(client)
    page = await (await client.get(f"/console/cases/{case_id}")).text()
    assert 'name="reason"' in page
    csrf = csrf_of(page)
    base = f"/console/cases/{case_id}"
    refused = await client.post(f"{base}/reveal", data={"csrf": csrf})
    assert refused.status == 403
    assert "Harold" not in await refused.text()
    note = await client.post(f"{base}/note", data={"csrf": csrf, "text": "peek"})
    assert note.status == 403
    assert await client.app[CASES].notes(case_id) == []
    revealed = await client.post(f"{base}/reveal", data={"csrf": csrf, "reason": "patient_safety"})
    assert revealed.status == 200
    assert "Harold Finch" in await revealed.text()
    entries = client.app[AUDIT].entries(actor=name, action="break_glass")
    assert [(e.case_id, e.detail) async for e in entries] == [(case_id, "reveal patient_safety")]


async def test_the_holder_sees_no_break_glass_reason_on_their_case(client: TestClient) -> None:
    name, _ = await log_in(client)
    case_id = await open_case(client)
    await client.app[CASES].claim(name, case_id)
    page = await (await client.get(f"/console/cases/{case_id}")).text()
    assert 'name="reason"' not in page
    revealed = await client.post(f"/console/cases/{case_id}/reveal", data={"csrf": csrf_of(page)})
    assert revealed.status == 200
