"""The human queue inside the service: case store, private links, alerts, housekeeping."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot.appkeys import (
    AUDIT,
    CASES,
    CIPHER,
    HANDOVER,
    HTTP,
    PRIVATE_LINKS,
    REDIS,
    SETTINGS,
    STAFF,
)
from bot.notify import Notifier
from bot.settings import Settings
from bot.shutdown import stop_tasks
from escalation.audit import AuditLog
from escalation.cases import CaseStore, SlaTargets
from escalation.handover import Handover
from escalation.private import PrivateLinks
from escalation.staff import StaffStore

log = logging.getLogger("triagebot.escalation")
HOUSEKEEPING_EVERY_S = 5.0


def sla_targets(settings: Settings) -> SlaTargets:
    """The SLA targets the settings give."""
    return SlaTargets(
        urgent=settings.sla_urgent_s,
        high=settings.sla_high_s,
        normal=settings.sla_normal_s,
        low=settings.sla_low_s,
    )


async def housekeeping(
    cases: CaseStore, audit: AuditLog, notifier: Notifier, settings: Settings
) -> None:
    """Forever: lapsed claims back to the queue, counted audit events recorded, SLA breach
    alerts, retention purges."""
    rounds = 0
    while True:
        try:
            await cases.requeue_expired()
            await audit.flush_repeats()
            if rounds % 6 == 0:
                for case in await cases.sla_breaches():
                    await notifier.case_event(case, "breach")
            if rounds % 720 == 0:  # hourly
                purged = await cases.purge_resolved(settings.case_retention_days * 86400)
                if purged:
                    await audit.record("triagebot", "purge", detail=f"{purged} resolved cases")
                await audit.trim(settings.audit_retention_days)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("housekeeping round failed")
        rounds += 1
        await asyncio.sleep(HOUSEKEEPING_EVERY_S)


async def escalation_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the case store and its helpers; run housekeeping while the app runs."""
    settings = app[SETTINGS]
    cases = CaseStore(
        app[REDIS], app[CIPHER], lease_s=settings.claim_lease_s, sla=sla_targets(settings)
    )
    links = PrivateLinks(
        app[REDIS],
        ttl_s=settings.private_link_ttl_s,
        guesses_per_min=settings.private_link_guesses_per_min,
    )
    base = settings.public_base_url.rstrip("/")
    notifier = Notifier(app[HTTP], settings.notify_webhook_url, f"{base}/console")
    app[CASES], app[PRIVATE_LINKS] = cases, links
    app[HANDOVER] = Handover(cases, links, base, notifier)
    app[STAFF] = StaffStore(
        app[REDIS],
        session_idle_s=settings.session_idle_s,
        session_max_s=settings.session_max_s,
        token_ttl_s=settings.api_token_ttl_s,
    )
    app[AUDIT] = AuditLog(app[REDIS], app[CIPHER])
    task = asyncio.create_task(
        housekeeping(cases, app[AUDIT], notifier, settings), name="housekeeping"
    )
    try:
        yield
    finally:
        await stop_tasks([task], "housekeeping")
