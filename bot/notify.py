"""Staff alerts for urgent cases and SLA breaches, to a Slack/Teams incoming webhook.

The alert names the case id, its priority and a console link, nothing else: chat tools
are not a place for PHI, so not even the reason codes go out.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import ClientError, ClientSession, ClientTimeout

from escalation.cases import Case

log = logging.getLogger("triagebot.notify")


def alert_text(case: Case, event: str, console_url: str) -> str:
    """The alert: event, priority and a link; never content."""
    what = {"urgent": "Urgent case waiting", "breach": "SLA breached"}[event]
    return f"{what}: case {case.id} (priority {case.priority}). {console_url}/cases/{case.id}"


class Notifier:
    """Posts `{"text": ...}` (the shape Slack and Teams incoming webhooks accept)."""

    def __init__(
        self, session: ClientSession, url: str | None, console_url: str, attempts: int = 3
    ) -> None:
        self.session, self.url, self.console_url, self.attempts = (
            session,
            url,
            console_url,
            attempts,
        )

    async def case_event(self, case: Case, event: str) -> bool:
        """Send one alert; False when not configured or every attempt failed."""
        if not self.url:
            return False
        body = {"text": alert_text(case, event, self.console_url)}
        for attempt in range(self.attempts):
            try:
                async with self.session.post(
                    self.url, json=body, timeout=ClientTimeout(total=10)
                ) as response:
                    if response.status < 300:
                        return True
                    retry = response.status == 429 or response.status >= 500
            except (ClientError, TimeoutError):
                retry = True
            if not retry:
                break
            await asyncio.sleep(0.5 * 2**attempt)
        log.warning("alert not delivered", extra={"case_id": case.id, "event": event})
        return False
