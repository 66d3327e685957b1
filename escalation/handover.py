"""Handing a message over to the human queue: its case (opened or joined) and private link.

Used by every entry point that can escalate (webhook workers, the messages API, the Rasa
actions), so a case opens the same way whichever way the message came in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from escalation.cases import Case, CaseStore, Source
from escalation.private import PrivateLinks
from nlu import templates
from nlu.models import Decision, Priority

_ESCALATED = ("escalate", "emergency")


class CaseAlerts(Protocol):
    """Where staff hear of an urgent case or an SLA breach (bot.notify posts to a chat hook)."""

    async def case_event(self, case: Case, event: str) -> bool:
        """Send one alert; False when it was not delivered."""
        ...


def private_invite(decision: Decision, url: str | None) -> str:
    """The private invitation in the message's language; an emergency's begins with its
    safety text (988 for self-harm, Poison Control for an overdose, 911 otherwise)."""
    texts = templates.for_language(decision.language)
    invite = texts.private_invite
    if url:
        invite = f"{invite} {texts.private_link.format(url=url)}"
    if decision.action == "emergency":
        kinds = templates.kinds_of(decision.reasons)
        invite = f"{templates.safety_text(decision.language, kinds)} {invite}"
    return invite


@dataclass(frozen=True, slots=True)
class Routed:
    """What handing a message over did; all empty when it belongs in no case."""

    case_id: str | None = None  # the case it opened or joined
    private_url: str | None = None  # the private link of a case opened now
    invite: str | None = None  # the private invitation to send with the public answer
    quiet: bool = False  # staff own the conversation: the bot says nothing more


@dataclass(frozen=True, slots=True)
class Handover:
    """Where escalations and private follow-ups go: the case store and its private links."""

    cases: CaseStore
    links: PrivateLinks
    public_base_url: str
    notifier: CaseAlerts | None = None

    async def route(self, source: Source, decision: Decision) -> Routed:
        """Put the message in a case when it belongs in one.

        An escalated message opens a case (or joins the person's recent one). A direct
        message from someone whose case staff still hold joins it whatever its triage
        said, unless staff handed the conversation back to the bot.
        """
        escalated = decision.action in _ESCALATED
        direct = source.kind == "direct"
        staff_owned = False
        if not escalated and direct:
            live = await self.cases.case_of_person(source.channel, source.author_id)
            staff_owned = live is not None and not (await self.cases.get(live)).handed_back
        if not (escalated or staff_owned):
            return Routed()
        case_id, opened, url = await self.open_case(
            source, decision.priority or "normal", decision.reasons
        )
        if not opened:
            # Joined a conversation staff already have: a public comment is still hidden
            # and acknowledged, a private message just waits for staff.
            return Routed(case_id, quiet=direct)
        return Routed(case_id, url, private_invite(decision, url))

    async def open_case(
        self, source: Source, priority: Priority, reasons: Sequence[str]
    ) -> tuple[str, bool, str | None]:
        """Open (or find) the case: (case id, opened now, private link of a new case).
        Staff hear of a new urgent case at once."""
        token, link = self.links.prepare()
        # A link handed out in an API answer is lost with a lost answer: it is remembered
        # so that the client's retry can get a fresh one. One the bot sends itself is not.
        relinkable = source.kind == "api"
        case_id, opened = await self.cases.open(
            source, priority, reasons, link=link, relinkable=relinkable
        )
        if not opened:
            return case_id, False, None
        if priority == "urgent" and self.notifier is not None:
            await self.notifier.case_event(await self.cases.get(case_id), "urgent")
        return case_id, True, f"{self.public_base_url.rstrip('/')}/p/{token}"

    async def relink(self, channel: str, message_id: str, case_id: str) -> str | None:
        """For a retried API message that opened `case_id`: a fresh private link, the one
        of the first answer revoked (that answer may never have arrived). None when the
        message opened no case of its own (it joined one, or came in another way)."""
        token = await self.links.reissue(channel, message_id, case_id)
        return None if token is None else f"{self.public_base_url.rstrip('/')}/p/{token}"

    async def private_url(self, case_id: str) -> str:
        """A fresh link to the case's secure chat page."""
        token = await self.links.issue(case_id)
        return f"{self.public_base_url.rstrip('/')}/p/{token}"
