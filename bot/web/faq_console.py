"""The console's FAQ editor: `/console/faq`, with the console's session, CSRF and page layout.

Editors propose changes to the live content; compliance approves or rejects drafts, rolls
back and publishes notices. Every change goes through the same `FaqDesk` as the staff API,
so the audit log reads the same whichever was used.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from bot.web.console import _csrf_field, _e, _form, _page, _session, _when
from bot.web.errors import problem
from bot.web.faq_api import (
    DECIDE_ROLES,
    DRAFT_ID,
    EDIT_ROLES,
    READ_ROLES,
    DraftIn,
    FaqDesk,
    NewIntentIn,
)
from escalation.staff import StaffUser

FAQ_PATH = "/console/faq"
_ACTIONS = ("propose", "rollback", "notice", "clear_notice")
_DECISIONS = ("approve", "reject")
# Reloads the page while an evaluation runs, unless someone is typing into a form.
_REFRESH_SCRIPT = """
setTimeout(function check() {
  var busy = Array.prototype.some.call(
    document.querySelectorAll("textarea, input[type=text], input[type=number]"),
    function (e) { return e.value !== e.defaultValue || e === document.activeElement; });
  if (busy) { setTimeout(check, 3000); } else { location.reload(); }
}, 2000);
"""


async def _faq_staff(request: web.Request) -> tuple[StaffUser, str]:
    """(user, CSRF token) of a session whose role works on the FAQ; to the login page without."""
    found = await _session(request)
    if found is None:
        raise web.HTTPSeeOther(location="/console/login")
    user, csrf, _ = found
    if user.role not in READ_ROLES:
        raise problem(web.HTTPForbidden, "your role does not allow this")
    return user, csrf


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _button(csrf: str, action: str, label: str, *, enabled: bool = True, fields: str = "") -> str:
    disabled = "" if enabled else " disabled"
    return (
        f'<form class="inline" method="post" action="{action}">{_csrf_field(csrf)}{fields}'
        f'<button type="submit"{disabled}>{_e(label)}</button></form> '
    )


def _evaluation(evaluation: dict[str, Any] | None) -> tuple[str, bool]:
    """The evaluation cell and whether it is still running."""
    if not evaluation:
        return "-", False
    stage = str(evaluation.get("stage", ""))
    if stage != "done":
        running = stage != "failed"
        share = float(str(evaluation.get("progress", 0.0)))
        return f"{_e(stage)} · {share:.0%}", running
    parts = []
    for name in ("live", "draft"):
        score = evaluation.get(name)
        if isinstance(score, dict):
            dev = score.get("dev_faq_accuracy")
            parts.append(
                f"{name}: held-out {float(score['held_out_accuracy']):.3f}"
                + ("" if dev is None else f", dev FAQ {float(dev):.3f}")
            )
    flags = evaluation.get("flags") or []
    flag_list = "".join(f'<li class="error">{_e(f)}</li>' for f in flags)
    return "<br>".join(_e(p) for p in parts) + (f"<ul>{flag_list}</ul>" if flag_list else ""), False


def _changes(changes: dict[str, Any]) -> str:
    items = [
        *(f"answer {k}: {v}" for k, v in changes["answers"].items()),
        *(f"+ examples {k}: {'; '.join(v)}" for k, v in changes["added_examples"].items()),
        *(f"− examples {k}: {'; '.join(v)}" for k, v in changes["removed_examples"].items()),
        *(f"new intent {k}: {v['answer']}" for k, v in changes["new_intents"].items()),
        *(f"removed intent {k}" for k in changes["removed_intents"]),
    ]
    if "schedules" in changes:
        items.append(f"{len(changes['schedules'])} scheduled answers")
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def _draft_rows(
    drafts: list[dict[str, Any]], user: StaffUser, csrf: str, *, may_decide: bool
) -> tuple[list[str], bool]:
    """The drafts table's rows, and whether any evaluation is still running."""
    running = False
    rows = []
    for d in drafts:
        cell, busy = _evaluation(d["evaluation"])
        running = running or busy
        pending = d["status"] == "pending"
        decide = may_decide and pending and d["author"] != user.username
        buttons = (
            _button(csrf, f"{FAQ_PATH}/drafts/{_e(d['id'])}/approve", "Approve", enabled=decide)
            + _button(csrf, f"{FAQ_PATH}/drafts/{_e(d['id'])}/reject", "Reject", enabled=decide)
            if pending
            else _e(f"{d['decided_by'] or ''} {_when(d['decided_at'])}")
        )
        rows.append(
            f'<tr id="draft-{_e(d["id"])}"><td>{_e(d["id"])}</td><td>{_e(d["status"])}</td>'
            f"<td>{_e(d['author'])}</td><td>{_e(d['reason'])}</td>"
            f"<td>{_changes(d['changes'])}</td><td>{cell}</td><td>{buttons}</td></tr>"
        )
    return rows, running


def _propose_form(csrf: str, options: str) -> str:
    """The form an editor proposes a change with; `options` lists the live intents."""
    return (
        "<h2>Propose a change</h2>"
        f'<form method="post" action="{FAQ_PATH}/propose">{_csrf_field(csrf)}'
        f'<p><label>Intent <select name="intent">{options}</select></label> '
        '<label>or a new intent key <input type="text" name="new_intent" '
        'pattern="[a-z][a-z0-9_]{0,63}"></label></p>'
        '<p><label>New answer (empty keeps it)<br><textarea name="answer" maxlength="2000">'
        "</textarea></label></p>"
        "<p><label>Examples to add, one a line<br>"
        '<textarea name="add_examples"></textarea></label></p>'
        "<p><label>Examples to remove, one a line<br>"
        '<textarea name="remove_examples"></textarea></label></p>'
        '<p><label>Reason <input type="text" name="reason" maxlength="500" required></label>'
        ' <button type="submit">Propose</button></p></form>'
    )


async def _faq_page(
    request: web.Request, user: StaffUser, csrf: str, error: str = "", status: int = 200
) -> web.Response:
    desk = FaqDesk(request.app, user)
    live = await desk.overview()
    drafts = await desk.drafts()
    may_edit, may_decide = user.role in EDIT_ROLES, user.role in DECIDE_ROLES

    intents = "".join(
        f"<tr><td>{_e(key)}</td><td>{_e(i['answer'])}</td><td><ul>"
        + "".join(f"<li>{_e(x)}</li>" for x in i["examples"])
        + "</ul></td></tr>"
        for key, i in live["intents"].items()
    )
    rows, running = _draft_rows(drafts, user, csrf, may_decide=may_decide)
    notice = live["notice"]
    options = "".join(f'<option value="{_e(k)}">{_e(k)}</option>' for k in live["intents"])
    body = (
        "<h1>FAQ</h1>"
        + (f'<p class="error">{_e(error)}</p>' if error else "")
        + f"<p>Live version <b>{_e(live['version'])}</b></p>"
        + (
            f"<p>Notice: {_e(notice['text'])} (until {_e(_when(notice['expires_at']))})</p>"
            if notice
            else "<p>No notice.</p>"
        )
    )
    if may_decide:
        body += (
            _button(csrf, f"{FAQ_PATH}/rollback", "Roll back to the previous version")
            + (_button(csrf, f"{FAQ_PATH}/clear_notice", "Withdraw notice") if notice else "")
            + f'<form method="post" action="{FAQ_PATH}/notice">{_csrf_field(csrf)}'
            '<p><label>Notice <input type="text" name="text" maxlength="300" required></label> '
            '<label>for seconds <input type="number" name="ttl_s" value="3600" min="1" '
            'required></label> <button type="submit">Publish notice</button></p></form>'
        )
    body += (
        "<h2>Drafts</h2><table><thead><tr><th>Draft</th><th>Status</th><th>Author</th>"
        "<th>Reason</th><th>Changes</th><th>Evaluation</th><th>Decision</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    if may_edit:
        body += _propose_form(csrf, options)
    body += (
        "<h2>Live intents</h2><table><thead><tr><th>Intent</th><th>Answer</th>"
        f"<th>Examples</th></tr></thead><tbody>{intents}</tbody></table>"
    )
    return _page(
        request,
        "FAQ",
        body,
        user=user,
        csrf=csrf,
        script=_REFRESH_SCRIPT if running else "",
        status=status,
    )


async def faq_page(request: web.Request) -> web.Response:
    """`GET /console/faq`: live content, drafts with their evaluations, and the forms."""
    user, csrf = await _faq_staff(request)
    return await _faq_page(request, user, csrf)


def _proposal(form: dict[str, str]) -> DraftIn:
    """The draft the propose form asks for (ValueError for an empty or malformed one)."""
    new_key = form.get("new_intent", "").strip()
    answer = form.get("answer", "").strip()
    added, removed = _lines(form.get("add_examples", "")), _lines(form.get("remove_examples", ""))
    reason = form.get("reason", "").strip()
    if new_key:
        return DraftIn(
            reason=reason, new_intents={new_key: NewIntentIn(answer=answer, examples=added)}
        )
    key = form.get("intent", "")
    if not (answer or added or removed):
        raise ValueError("nothing to change: give an answer or examples")
    return DraftIn(
        reason=reason,
        answers={key: answer} if answer else {},
        add_examples={key: added} if added else {},
        remove_examples={key: removed} if removed else {},
    )


async def faq_action(request: web.Request) -> web.Response:
    """`POST /console/faq/{action}`: propose, roll back, publish or withdraw the notice."""
    user, csrf = await _faq_staff(request)
    form = await _form(request, csrf)
    desk, action = FaqDesk(request.app, user), request.match_info["action"]
    try:
        if action == "propose":
            await desk.propose(_proposal(form))
        elif action == "rollback":
            await desk.rollback()
        elif action == "notice":
            text, ttl = form.get("text", "").strip(), form.get("ttl_s", "")
            if not (1 <= len(text) <= 300 and ttl.isdigit() and 0 < int(ttl) <= 30 * 86400):
                raise ValueError("a notice needs 1 to 300 characters and a time in seconds")
            await desk.set_notice(text, int(ttl))
        else:
            await desk.clear_notice()
    except (ValueError, ValidationError) as exc:
        message = "the form is incomplete or invalid" if isinstance(exc, ValidationError) else exc
        return await _faq_page(request, user, csrf, str(message), status=422)
    except web.HTTPException as exc:
        return await _faq_page(request, user, csrf, _detail(exc), status=exc.status)
    raise web.HTTPSeeOther(location=FAQ_PATH)


async def faq_decision(request: web.Request) -> web.Response:
    """`POST /console/faq/drafts/{id}/{approve|reject}` (compliance, admin; not the author)."""
    user, csrf = await _faq_staff(request)
    await _form(request, csrf)
    desk, draft_id = FaqDesk(request.app, user), request.match_info["draft_id"]
    try:
        if request.match_info["decision"] == "approve":
            await desk.approve(draft_id)
        else:
            await desk.reject(draft_id)
    except web.HTTPException as exc:
        return await _faq_page(request, user, csrf, _detail(exc), status=exc.status)
    raise web.HTTPSeeOther(location=FAQ_PATH)


def _detail(exc: web.HTTPException) -> str:
    try:
        return str(json.loads(exc.text or "{}")["error"])
    except (ValueError, KeyError, TypeError):
        return exc.reason


def add_faq_console_routes(app: web.Application) -> None:
    """Register the console's FAQ editor."""
    app.router.add_get(FAQ_PATH, faq_page)
    app.router.add_post(f"{FAQ_PATH}/{{action:{'|'.join(_ACTIONS)}}}", faq_action)
    app.router.add_post(
        f"{FAQ_PATH}/drafts/{DRAFT_ID}/{{decision:{'|'.join(_DECISIONS)}}}", faq_decision
    )
