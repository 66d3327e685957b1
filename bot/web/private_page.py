"""The person's secure chat page: `/p/{token}`, its messages as JSON, and sending one.

The token in the link is the only credential, so the page is never cached, never sends a
referrer (which would carry the token to another site), and runs under a strict CSP with a
per-response nonce: nothing but its own inline script and style. Every wrong, expired or
foreign token gets the same 404, and a client that keeps guessing gets 429.
"""

from __future__ import annotations

import html
import json
import secrets
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.appkeys import BATCHER, CASES, HANDOVER, PRIVATE_LINKS
from bot.web.auth import client_of, page_headers
from bot.web.errors import problem
from escalation.cases import CaseError, CaseMessage
from escalation.private import TooManyGuesses
from nlu import templates

MAX_PERSON_TEXT_CHARS = 2000
# What the person sees as the author of each message (never a staff username).
_SENDERS = {"person": "You", "staff": "Care team", "bot": "Assistant"}

_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style nonce="{nonce}">
body{{font:16px/1.4 system-ui,sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem}}
ol{{list-style:none;padding:0}} li{{margin:.5rem 0;padding:.5rem;border-radius:.5rem}}
li.person{{background:#e8f0fe;margin-left:3rem}} li.staff,li.bot{{background:#f1f3f4}}
li b{{display:block;font-size:.8rem}} textarea{{width:100%;min-height:5rem}}
</style></head><body>
<h1>{title}</h1>
<p>{notice}</p>
<ol id="thread">{items}</ol>
<form id="send" method="post" action="{action}">
<label for="text">{label}</label>
<textarea id="text" name="text" maxlength="{max_chars}" required></textarea>
<button type="submit">{send}</button>
</form>
<script nonce="{nonce}">
(function () {{
  var base = location.pathname.replace(/\\/$/, "");
  var names = {senders};
  function render(messages) {{
    var list = document.getElementById("thread");
    list.replaceChildren();
    messages.forEach(function (m) {{
      var li = document.createElement("li"), who = document.createElement("b");
      li.className = m.sender;
      who.textContent = names[m.sender] || "";
      li.append(who, document.createTextNode(m.text));
      list.append(li);
    }});
  }}
  function poll() {{
    fetch(base + "/messages", {{cache: "no-store"}})
      .then(function (r) {{ return r.ok ? r.json() : null; }})
      .then(function (body) {{ if (body) render(body.messages); }})
      .catch(function () {{}});
  }}
  document.getElementById("send").addEventListener("submit", function (event) {{
    event.preventDefault();
    var box = document.getElementById("text");
    fetch(base + "/messages", {{
      method: "POST", headers: {{"Content-Type": "application/json"}},
      body: JSON.stringify({{text: box.value}})
    }}).then(function (r) {{ if (r.ok) {{ box.value = ""; poll(); }} }});
  }});
  setInterval(poll, 3000);
}})();
</script>
</body></html>
"""


class PersonMessageIn(BaseModel):
    """A message the person sends from the page."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_PERSON_TEXT_CHARS)


async def _case_id(request: web.Request) -> str:
    """The case the token opens; one 404 for every kind of wrong token, 429 for guessers."""
    token = request.match_info["token"]
    try:
        case_id = await request.app[PRIVATE_LINKS].case_for(token, client_of(request))
    except TooManyGuesses:
        raise problem(
            web.HTTPTooManyRequests,
            "too many attempts; try again later",
            {"Retry-After": "60", **page_headers()},
        ) from None
    if case_id is None:
        raise _not_found()
    try:
        await request.app[CASES].get(case_id)  # a purged case's link opens nothing
    except CaseError:
        raise _not_found() from None
    return case_id


def _not_found() -> web.HTTPException:
    return problem(web.HTTPNotFound, "not found", page_headers())


def case_language(reasons: list[str]) -> str:
    """The language the case's person wrote in (its `lang:` reason), English if none."""
    return next(
        (r.removeprefix("lang:") for r in reasons if r.startswith("lang:")),
        templates.DEFAULT_LANGUAGE,
    )


def _shown(messages: list[CaseMessage]) -> list[dict[str, Any]]:
    return [{"sender": m.sender, "text": m.text, "at": m.at} for m in messages]


async def private_page(request: web.Request) -> web.Response:
    """`GET /p/{token}`: the conversation and a form to write."""
    case_id = await _case_id(request)
    cases = request.app[CASES]
    thread = await cases.thread(case_id)
    language = case_language((await cases.get(case_id)).reasons)
    texts = templates.for_language(language)
    items = "".join(
        f'<li class="{m.sender}"><b>{_SENDERS[m.sender]}</b>{html.escape(m.text)}</li>'
        for m in thread
    )
    nonce = secrets.token_urlsafe(16)
    page = _PAGE.format(
        lang=html.escape(language),
        title=html.escape(texts.page_title),
        notice=html.escape(texts.page_notice),
        label=html.escape(texts.page_label),
        send=html.escape(texts.page_send),
        nonce=nonce,
        items=items,
        action=html.escape(f"{request.path.rstrip('/')}/messages"),
        max_chars=MAX_PERSON_TEXT_CHARS,
        senders=json.dumps(_SENDERS),
    )
    return web.Response(text=page, content_type="text/html", headers=page_headers(nonce))


async def private_messages(request: web.Request) -> web.Response:
    """`GET /p/{token}/messages`: the conversation as JSON, for the page's polling."""
    case_id = await _case_id(request)
    thread = await request.app[CASES].thread(case_id)
    return web.json_response({"messages": _shown(thread)}, headers=page_headers())


async def send_message(request: web.Request) -> web.Response:
    """`POST /p/{token}/messages`: JSON `{"text"}` or the page's form; reopens a closed case."""
    case_id = await _case_id(request)
    if request.content_type == "application/json":
        message = PersonMessageIn.model_validate_json(await request.read())
    # The page's own form is urlencoded: multipart is not taken, its body would have to be
    # read a second time after bot.web.limits read it under its deadline.
    elif request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        text = form.get("text")
        try:
            message = PersonMessageIn(text=text if isinstance(text, str) else "")
        except ValidationError:
            raise problem(web.HTTPUnprocessableEntity, "text: 1 to 2000 characters") from None
    else:
        raise problem(web.HTTPUnsupportedMediaType, "send application/json or a form")
    # Triaged like any message: a follow-up that is an emergency raises the case to urgent
    # (staff are alerted) and the person gets the safety reply at once.
    decision = await request.app[BATCHER].triage(f"private:{case_id}", message.text)
    urgent = decision.action == "emergency"
    cases = request.app[CASES]
    try:
        before = await cases.get(case_id)
        await cases.add_message(
            case_id,
            "person",
            message.text,
            priority="urgent" if urgent else None,
            entities=[(e.type, e.start, e.end) for e in decision.entities],
        )
        if urgent:
            # The safety text for this kind of emergency, in the case's language.
            language = decision.language or case_language(before.reasons)
            safety = templates.safety_text(language, templates.kinds_of(decision.reasons))
            await cases.add_message(case_id, "bot", safety)
            notifier = request.app[HANDOVER].notifier
            if before.priority != "urgent" and notifier is not None:
                await notifier.case_event(await cases.get(case_id), "urgent")
    except CaseError:  # purged between the lookup and now
        raise _not_found() from None
    if request.content_type == "application/json":
        return web.json_response({"status": "sent"}, status=201, headers=page_headers())
    # The page without its script: back to it, with the new message shown.
    raise web.HTTPSeeOther(location=request.path.rsplit("/", 1)[0], headers=page_headers())


def add_private_page_routes(app: web.Application) -> None:
    """Register the person's private channel."""
    app.router.add_get("/p/{token}", private_page)
    app.router.add_get("/p/{token}/messages", private_messages)
    app.router.add_post("/p/{token}/messages", send_message)
