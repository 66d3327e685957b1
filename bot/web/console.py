"""The staff console: server-rendered pages under `/console`, a session cookie, CSRF on forms.

The session cookie is HttpOnly and SameSite=Strict (Secure unless turned off for plain-http
development); every form carries the session's CSRF token and every POST checks it. A
session ends after `session_idle_s` without a request; the pages also send the browser to
the login page when that time has passed. Case work goes through the same `CaseDesk` as
the staff API, so the audit log reads the same whichever was used.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.appkeys import AUDIT, CASES, SETTINGS, STAFF
from bot.web.auth import CASE_ROLES, TooManyLogins, login, page_headers
from bot.web.errors import problem
from bot.web.staff_api import MAX_STAFF_TEXT_CHARS, CaseDesk
from escalation.cases import BREAK_GLASS_REASONS, TEAMS, Case
from escalation.staff import AuthError, StaffUser

SESSION_COOKIE = "triage_session"
LOGIN_CSRF_COOKIE = "triage_login_csrf"
EVENTS_POLL_S = 1.0
# A comment line this often lets a dead connection be noticed and closed.
_KEEPALIVE_EVERY = 15
_ACTIONS = ("claim", "reveal", "reply", "note", "transfer", "resolve")

_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · triagebot</title>
<style nonce="{nonce}">
body{{font:15px/1.4 system-ui,sans-serif;margin:1rem 2rem}} table{{border-collapse:collapse}}
td,th{{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:left}}
.msg{{margin:.4rem 0;padding:.4rem;background:#f4f4f4}} form.inline{{display:inline}}
textarea{{width:40rem;max-width:100%;min-height:4rem}} .error{{color:#b00}}
</style></head><body>
{header}{body}
<script nonce="{nonce}">{script}</script>
</body></html>
"""
# Sends the browser to the login page once the server has ended the idle session.
_IDLE_SCRIPT = "setTimeout(function () {{ location.href = '/console/login'; }}, {ms});"
_QUEUE_SCRIPT = """
var rows = document.getElementById("queue");
var source = new EventSource("/console/events");
source.onmessage = function (event) {
  rows.replaceChildren();
  JSON.parse(event.data).forEach(function (c) {
    var tr = document.createElement("tr");
    var link = document.createElement("a");
    link.href = "/console/cases/" + encodeURIComponent(c.id);
    link.textContent = c.id;
    var first = document.createElement("td");
    first.append(link);
    tr.append(first);
    [c.priority, c.status, c.team || "", c.claimed_by || "", c.reasons.join(", "), c.created]
      .forEach(function (v) {
        var td = document.createElement("td"); td.textContent = v; tr.append(td);
      });
    rows.append(tr);
  });
};
source.addEventListener("logout", function () { location.href = "/console/login"; });
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _when(at: float | None) -> str:
    if at is None:
        return ""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _page(
    request: web.Request,
    title: str,
    body: str,
    *,
    user: StaffUser | None = None,
    csrf: str = "",
    script: str = "",
    status: int = 200,
) -> web.Response:
    nonce = secrets.token_urlsafe(16)
    header = ""
    if user is not None:
        idle_ms = request.app[SETTINGS].session_idle_s * 1000
        script = _IDLE_SCRIPT.format(ms=idle_ms) + script
        header = (
            f'<p><a href="/console">Queue</a> · <a href="/console/faq">FAQ</a> · '
            f"{_e(user.username)} ({_e(user.role)}) "
            f'<form class="inline" method="post" action="/console/logout">{_csrf_field(csrf)}'
            '<button type="submit">Log out</button></form></p>'
        )
    text = _LAYOUT.format(title=_e(title), nonce=nonce, header=header, body=body, script=script)
    return web.Response(
        text=text, status=status, content_type="text/html", headers=page_headers(nonce)
    )


def _csrf_field(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{_e(csrf)}">'


def cookie_options(secure: bool) -> dict[str, Any]:
    """How the session cookie is set: script-proof, never sent cross-site, https only."""
    return {"httponly": True, "samesite": "Strict", "secure": secure, "path": "/console"}


async def _session(request: web.Request) -> tuple[StaffUser, str, str] | None:
    """(user, CSRF token, session id) of the request's live session; restarts its idle time."""
    session_id = request.cookies.get(SESSION_COOKIE, "")
    found = await request.app[STAFF].resolve_session(session_id) if session_id else None
    if found is None:
        return None
    return found[0], found[1], session_id


async def _staff(request: web.Request) -> tuple[StaffUser, str, str]:
    """The session of a staff member who works cases; to the login page without one."""
    found = await _session(request)
    if found is None:
        raise web.HTTPSeeOther(location="/console/login")
    if found[0].role not in CASE_ROLES:
        raise problem(web.HTTPForbidden, "your role does not allow this")
    return found


async def _form(request: web.Request, csrf: str) -> dict[str, str]:
    """The POSTed form, once its CSRF token checks out (403 otherwise)."""
    form = await request.post()
    given = form.get("csrf")
    # Compared only when both are there: an absent token never equals an absent cookie.
    if not (isinstance(given, str) and given and csrf) or not hmac.compare_digest(
        given.encode(), csrf.encode()
    ):
        raise problem(web.HTTPForbidden, "missing or wrong CSRF token")
    return {k: v for k, v in form.items() if isinstance(v, str)}


# Login and logout ---------------------------------------------------------------------


def _login_page(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    token = secrets.token_urlsafe(24)
    body = (
        "<h1>Staff login</h1>"
        + (f'<p class="error">{_e(error)}</p>' if error else "")
        + '<form method="post" action="/console/login">'
        + _csrf_field(token)
        + '<p><label>Username <input name="username" autocomplete="username" required></label>'
        + '<p><label>Password <input name="password" type="password" '
        + 'autocomplete="current-password" required></label>'
        + '<p><button type="submit">Log in</button></form>'
    )
    response = _page(request, "Login", body, status=status)
    # Double-submit token: a login form posted from another site lacks the cookie's value.
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, **cookie_options(request.app[SETTINGS].cookie_secure)
    )
    return response


async def login_form(request: web.Request) -> web.Response:
    """`GET /console/login`."""
    return _login_page(request)


async def login_submit(request: web.Request) -> web.Response:
    """`POST /console/login`: start a session and go to the queue."""
    form = await _form(request, request.cookies.get(LOGIN_CSRF_COOKIE, ""))
    try:
        user = await login(
            request, form.get("username", "")[:64], form.get("password", "")[:1024], via="console"
        )
        session = await request.app[STAFF].create_session(user.username)
    except AuthError:
        return _login_page(request, "Invalid username or password.", status=401)
    except TooManyLogins as exc:
        refused = _login_page(request, "Too many failed logins. Try again later.", status=429)
        refused.headers["Retry-After"] = str(exc.retry_after_s)
        return refused
    # Each role lands where its work is: the queue, or the FAQ editor.
    home = "/console" if user.role in CASE_ROLES else "/console/faq"
    response = web.HTTPSeeOther(location=home)
    response.set_cookie(
        SESSION_COOKIE, session.id, **cookie_options(request.app[SETTINGS].cookie_secure)
    )
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/console")
    raise response


async def logout(request: web.Request) -> web.Response:
    """`POST /console/logout`."""
    found = await _session(request)
    if found is not None:
        user, csrf, session_id = found
        await _form(request, csrf)
        await request.app[STAFF].end_session(session_id)
        await request.app[AUDIT].record(user.username, "logout", detail="console")
    response = web.HTTPSeeOther(location="/console/login")
    response.del_cookie(SESSION_COOKIE, path="/console")
    raise response


# The queue ----------------------------------------------------------------------------


def _row(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "priority": case.priority,
        "status": case.status,
        "team": case.team,
        "claimed_by": case.claimed_by,
        "reasons": case.reasons,
        "created": _when(case.created_at),
    }


async def _open_cases(app: web.Application) -> list[dict[str, Any]]:
    cases = await app[CASES].by_status(None, limit=500)
    return [_row(c) for c in cases if c.status != "resolved"]


async def queue_page(request: web.Request) -> web.Response:
    """`GET /console`: open cases in queue order, kept current by `/console/events`."""
    user, csrf, _ = await _staff(request)
    rows = "".join(
        f'<tr><td><a href="/console/cases/{_e(r["id"])}">{_e(r["id"])}</a></td>'
        + "".join(
            f"<td>{_e(v)}</td>"
            for v in (
                r["priority"],
                r["status"],
                r["team"] or "",
                r["claimed_by"] or "",
                ", ".join(r["reasons"]),
                r["created"],
            )
        )
        + "</tr>"
        for r in await _open_cases(request.app)
    )
    body = (
        "<h1>Queue</h1><table><thead><tr><th>Case</th><th>Priority</th><th>Status</th>"
        "<th>Team</th><th>Agent</th><th>Reasons</th><th>Opened</th></tr></thead>"
        f'<tbody id="queue">{rows}</tbody></table>'
    )
    return _page(request, "Queue", body, user=user, csrf=csrf, script=_QUEUE_SCRIPT)


async def queue_events(request: web.Request) -> web.StreamResponse:
    """`GET /console/events`: server-sent events, the open cases each time they change."""
    _, _, session_id = await _staff(request)
    staff = request.app[STAFF]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    last, ticks = "", 0
    try:
        while True:
            # Checked without touching: an open queue page must not keep an idle session
            # alive, but a logout, a disable or the idle timeout ends the stream.
            if await staff.resolve_session(session_id, touch=False) is None:
                await response.write(b"event: logout\ndata: {}\n\n")
                break
            payload = json.dumps(await _open_cases(request.app))
            if payload != last:
                await response.write(f"data: {payload}\n\n".encode())
                last = payload
            elif ticks % _KEEPALIVE_EVERY == 0:
                await response.write(b": keepalive\n\n")
            ticks += 1
            await asyncio.sleep(EVENTS_POLL_S)
    except ConnectionResetError:  # the page was closed
        pass
    return response


# One case -----------------------------------------------------------------------------


def _case_page(
    request: web.Request, user: StaffUser, csrf: str, view: dict[str, Any]
) -> web.Response:
    case = view["case"]
    case_id = _e(case["id"])

    def action(name: str, label: str, fields: str = "") -> str:
        return (
            f'<form class="inline" method="post" action="/console/cases/{case_id}/{name}">'
            f'{_csrf_field(csrf)}{fields}<button type="submit">{label}</button></form> '
        )

    thread = "".join(
        f'<div class="msg"><b>{_e(m["sender"])}{" · " + _e(m["author"]) if m["author"] else ""}'
        f" · {_e(_when(m['at']))}{' · edited' if m['edited'] else ''}</b><br>{_e(m['text'])}</div>"
        for m in view["thread"]
    )
    notes = "".join(
        f'<div class="msg"><b>note · {_e(n["author"])} · {_e(_when(n["at"]))}</b><br>'
        f"{_e(n['text'])}</div>"
        for n in view["notes"]
    )
    teams = "".join(f'<option value="{t}">{t}</option>' for t in TEAMS)
    text_box = f'<br><textarea name="text" maxlength="{MAX_STAFF_TEXT_CHARS}" required></textarea>'
    # Another agent holds the case: revealing or noting it breaks the glass, with a reason.
    glass = ""
    if view["break_glass_needed"]:
        reasons = "".join(f'<option value="{r}">{r}</option>' for r in BREAK_GLASS_REASONS)
        glass = (
            '<label>Break-glass reason (audited, shown to compliance) <select name="reason" '
            f'required><option value="">choose</option>{reasons}</select></label> '
        )
    body = (
        f"<h1>Case {case_id}</h1>"
        f"<p>Status <b>{_e(case['status'])}</b> · priority {_e(case['priority'])} · "
        f"team {_e(case['team'] or '-')} · agent {_e(case['claimed_by'] or '-')} · "
        f"reasons {_e(', '.join(case['reasons']))}</p>"
        + action("claim", "Claim")
        + ("" if view["revealed"] else action("reveal", "Reveal full text (audited)", glass))
        + action("resolve", "Resolve")
        + action(
            "resolve",
            "Resolve and hand back to the bot",
            '<input type="hidden" name="hand_back" value="1">',
        )
        + f"<h2>Conversation{' (full text)' if view['revealed'] else ' (masked)'}</h2>{thread}"
        + f"<h2>Notes</h2>{notes}"
        + "<h2>Reply to the person</h2>"
        + action("reply", "Send reply", text_box)
        + "<h2>Internal note</h2>"
        + action("note", "Add note", glass + text_box)
        + "<h2>Transfer</h2>"
        + action("transfer", "Transfer", f'<select name="team">{teams}</select>')
    )
    return _page(request, f"Case {case['id']}", body, user=user, csrf=csrf)


async def case_page(request: web.Request) -> web.Response:
    """`GET /console/cases/{id}`: metadata, the masked conversation and the case's forms."""
    user, csrf, _ = await _staff(request)
    view = await CaseDesk(request.app, user).view(request.match_info["case_id"])
    return _case_page(request, user, csrf, view)


async def case_action(request: web.Request) -> web.Response:
    """`POST /console/cases/{id}/{action}`: one case operation, then back to the case."""
    user, csrf, _ = await _staff(request)
    form = await _form(request, csrf)
    case_id, name = request.match_info["case_id"], request.match_info["action"]
    desk = CaseDesk(request.app, user)
    if name == "reveal":
        # Shown in this response only: a revealed page is never a URL to revisit or share.
        reason = form.get("reason") or None
        view = await desk.view(case_id, reveal=True, reason=reason)
        return _case_page(request, user, csrf, view)
    if name == "claim":
        await desk.claim(case_id)
    elif name == "resolve":
        await desk.resolve(case_id, hand_back=form.get("hand_back") == "1")
    elif name == "transfer":
        team = form.get("team", "")
        if team not in TEAMS:
            raise problem(web.HTTPUnprocessableEntity, "team: invalid")
        await desk.transfer(case_id, team)
    else:
        text = form.get("text", "").strip()
        if not 1 <= len(text) <= MAX_STAFF_TEXT_CHARS:
            raise problem(web.HTTPUnprocessableEntity, "text: invalid length")
        if name == "reply":
            await desk.reply(case_id, text)
        else:
            await desk.note(case_id, text, form.get("reason") or None)
    raise web.HTTPSeeOther(location=f"/console/cases/{case_id}")


def add_console_routes(app: web.Application) -> None:
    """Register the staff console."""
    case_id = r"{case_id:[A-Za-z0-9_-]{1,64}}"
    app.router.add_get("/console", queue_page)
    app.router.add_get("/console/login", login_form)
    app.router.add_post("/console/login", login_submit)
    app.router.add_post("/console/logout", logout)
    app.router.add_get("/console/events", queue_events)
    app.router.add_get(f"/console/cases/{case_id}", case_page)
    app.router.add_post(f"/console/cases/{case_id}/{{action:{'|'.join(_ACTIONS)}}}", case_action)
