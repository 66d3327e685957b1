"""Typed keys for the state shared through the aiohttp application."""

from __future__ import annotations

from aiohttp import ClientSession, web
from redis.asyncio import Redis

from bot.batcher import TriageBatcher
from bot.connectors.base import Connector
from bot.metrics import Metrics
from bot.nlp_pool import NlpPool
from bot.replication import Replication
from bot.settings import Settings
from escalation.audit import AuditLog
from escalation.cases import CaseStore
from escalation.crypto import Cipher
from escalation.faq.store import FaqStore
from escalation.handover import Handover
from escalation.private import PrivateLinks
from escalation.staff import StaffStore
from nlu.engine import TriageEngine

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", Redis)
ENGINE = web.AppKey("engine", TriageEngine)
NLP_POOL = web.AppKey("nlp_pool", NlpPool)
METRICS = web.AppKey("metrics", Metrics)
CIPHER = web.AppKey("cipher", Cipher)
CONNECTORS = web.AppKey("connectors", dict[str, Connector])
HTTP = web.AppKey("http", ClientSession)
BATCHER = web.AppKey("batcher", TriageBatcher)
CASES = web.AppKey("cases", CaseStore)
PRIVATE_LINKS = web.AppKey("private_links", PrivateLinks)
HANDOVER = web.AppKey("handover", Handover)
STAFF = web.AppKey("staff", StaffStore)
AUDIT = web.AppKey("audit", AuditLog)
FAQ = web.AppKey("faq", FaqStore)
REPLICATION = web.AppKey("replication", Replication)
