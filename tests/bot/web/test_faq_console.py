"""The console's FAQ editor through real HTTP on create_app(settings), with a real Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

from bot import faq_evaluator
from bot.appkeys import AUDIT, FAQ, STAFF
from tests.bot.web.staff_app import PASSWORD, app_client, csrf_of
from tests.bot.web.test_faq_api import clear_faq

NEW_PARKING = "Parking is free in Garage D this week. Enter from Oak Street."


@pytest.fixture(scope="module")
async def client(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[TestClient]:
    await clear_faq(redis_url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(faq_evaluator, "EVAL_FOLDS", 2)
        async with app_client(tmp_path_factory, redis_url, cookie_secure=False) as test_client:
            yield test_client
    await clear_faq(redis_url)


async def log_in(client: TestClient, role: str) -> tuple[str, str]:
    """A new user of the role, logged in; (username, CSRF token of the FAQ page)."""
    name = f"{role.replace('_', '')}{secrets.token_hex(3)}"
    await client.app[STAFF].add(name, role, PASSWORD)
    client.session.cookie_jar.clear()
    form = await (await client.get("/console/login")).text()
    response = await client.post(
        "/console/login",
        data={"csrf": csrf_of(form), "username": name, "password": PASSWORD},
        allow_redirects=False,
    )
    assert response.status == 303
    page = await client.get("/console/faq")
    assert page.status == 200
    return name, csrf_of(await page.text())


async def propose_parking(client: TestClient, csrf: str, answer: str = NEW_PARKING) -> str:
    response = await client.post(
        "/console/faq/propose",
        data={"csrf": csrf, "intent": "parking", "answer": answer, "reason": "garage works"},
    )
    assert response.status == 200, await response.text()
    drafts = await client.app[FAQ].drafts("pending")
    return next(d.id for d in drafts if d.proposal.content().intents["parking"].answer == answer)


async def test_the_page_lists_intents_and_needs_a_session(client: TestClient) -> None:
    client.session.cookie_jar.clear()
    response = await client.get("/console/faq", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/console/login")
    await log_in(client, "faq_editor")
    page = await (await client.get("/console/faq")).text()
    live = await client.app[FAQ].live()
    assert live is not None
    parking = live.content().intents["parking"]
    assert "Propose a change" in page
    assert "Roll back" not in page  # editors do not decide
    assert parking.examples[0] in page


async def test_agents_cannot_open_the_faq_editor(client: TestClient) -> None:
    name = f"agent{secrets.token_hex(3)}"
    await client.app[STAFF].add(name, "agent", PASSWORD)
    client.session.cookie_jar.clear()
    form = await (await client.get("/console/login")).text()
    await client.post(
        "/console/login",
        data={"csrf": csrf_of(form), "username": name, "password": PASSWORD},
        allow_redirects=False,
    )
    assert (await client.get("/console/faq")).status == 403


async def test_editor_proposes_through_the_form_and_the_draft_is_listed(
    client: TestClient,
) -> None:
    name, csrf = await log_in(client, "faq_editor")
    draft_id = await propose_parking(client, csrf)
    page = await (await client.get("/console/faq")).text()
    assert f'id="draft-{draft_id}"' in page
    assert NEW_PARKING in page
    # The author's own approve button is disabled, and posting it anyway is refused.
    row = page.split(f'id="draft-{draft_id}"', 1)[1].split("</tr>", 1)[0]
    assert "disabled" in row
    own = await client.post(f"/console/faq/drafts/{draft_id}/approve", data={"csrf": csrf})
    assert own.status == 403
    assert (await client.app[FAQ].draft(draft_id)).status == "pending"
    audited = [e.detail async for e in client.app[AUDIT].entries(actor=name)]
    assert f"draft={draft_id} proposed" in audited


async def test_posts_without_csrf_are_refused(client: TestClient) -> None:
    _, csrf = await log_in(client, "faq_editor")
    before = len(await client.app[FAQ].drafts())
    for data in ({}, {"csrf": "forged"}):
        response = await client.post(
            "/console/faq/propose",
            data={**data, "intent": "parking", "answer": "x y z", "reason": "r"},
        )
        assert response.status == 403
    assert len(await client.app[FAQ].drafts()) == before
    draft_id = await propose_parking(client, csrf, "Parking: Garage E, all day.")
    await log_in(client, "compliance")
    response = await client.post(f"/console/faq/drafts/{draft_id}/approve", data={})
    assert response.status == 403
    assert (await client.app[FAQ].draft(draft_id)).status == "pending"


async def test_compliance_approves_through_the_form_and_it_goes_live(client: TestClient) -> None:
    _, editor_csrf = await log_in(client, "faq_editor")
    answer = "Parking is in Garage F; the first hour is free."
    draft_id = await propose_parking(client, editor_csrf, answer)
    _, csrf = await log_in(client, "compliance")
    page = await (await client.get("/console/faq")).text()
    row = page.split(f'id="draft-{draft_id}"', 1)[1].split("</tr>", 1)[0]
    assert "Approve" in row
    assert "disabled" not in row
    approved = await client.post(f"/console/faq/drafts/{draft_id}/approve", data={"csrf": csrf})
    assert approved.status == 200
    live = await client.app[FAQ].live()
    assert live is not None
    assert live.content().intents["parking"].answer == answer
    rolled = await client.post("/console/faq/rollback", data={"csrf": csrf})
    assert rolled.status == 200
    live = await client.app[FAQ].live()
    assert live is not None
    assert live.content().intents["parking"].answer != answer


async def test_new_intent_and_notice_through_the_forms(client: TestClient) -> None:
    _, csrf = await log_in(client, "faq_editor")
    response = await client.post(
        "/console/faq/propose",
        data={
            "csrf": csrf,
            "new_intent": "gift_shop",
            "answer": "The gift shop in the main lobby is open 9am to 6pm.",
            "add_examples": "gift shop hours?\nwhat does the gift shop sell\n",
            "reason": "new shop",
        },
    )
    assert response.status == 200, await response.text()
    drafts = await client.app[FAQ].drafts("pending")
    assert any("gift_shop" in d.proposal.content().intents for d in drafts)
    empty = await client.post(
        "/console/faq/propose", data={"csrf": csrf, "intent": "parking", "reason": "nothing"}
    )
    assert empty.status == 422
    _, csrf = await log_in(client, "compliance")
    published = await client.post(
        "/console/faq/notice", data={"csrf": csrf, "text": "ER on diversion", "ttl_s": "600"}
    )
    assert published.status == 200
    assert "ER on diversion" in await published.text()
    notice = await client.app[FAQ].notice()
    assert notice is not None
    assert notice.text == "ER on diversion"
    await client.post("/console/faq/clear_notice", data={"csrf": csrf})
    assert await client.app[FAQ].notice() is None
