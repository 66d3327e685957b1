"""An agent that claims the next case and then hangs, holding it: a test SIGKILLs it mid-claim.

Configured as the service is, from the environment (TRIAGE_REDIS_URL,
TRIAGE_ENCRYPTION_KEYS, TRIAGE_CLAIM_LEASE_S):

    python -m tests.escalation.claim_and_hang AGENT
"""

from __future__ import annotations

import asyncio
import sys

from redis.asyncio import Redis

from bot.settings import Settings
from escalation.cases import CaseStore
from escalation.crypto import Cipher


async def claim_and_hang(settings: Settings, agent: str) -> None:
    if settings.redis_url is None or settings.encryption_keys is None:
        sys.exit("TRIAGE_REDIS_URL and TRIAGE_ENCRYPTION_KEYS are required")
    redis = Redis.from_url(settings.redis_url.get_secret_value())
    cipher = Cipher.from_spec(settings.encryption_keys.get_secret_value())
    store = CaseStore(redis, cipher, lease_s=settings.claim_lease_s)
    if await store.claim(agent) is None:
        sys.exit("the queue was empty")
    await asyncio.Event().wait()  # never set: keep the claim and the connection until killed


if __name__ == "__main__":
    asyncio.run(claim_and_hang(Settings(), sys.argv[1]))
