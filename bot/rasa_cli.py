"""`triagebot rasa-actions`: serve the rasa-sdk actions an existing Rasa assistant calls."""

from __future__ import annotations

from typing import Any

from bot.escalation_ctx import sla_targets
from bot.settings import Settings
from bot.staff_cli import redis_url
from escalation.crypto import Cipher
from escalation.handover import Handover


def run_actions(settings: Settings, port: int) -> int:
    """Build the engine and the case store from the settings and serve until stopped."""
    try:
        from escalation.rasa_actions import create_action_server
    except ImportError:
        print("error: rasa-sdk is not installed: pip install 'triagebot[rasa]'")
        return 2
    from bot.redis_client import open_redis
    from escalation.cases import CaseStore
    from escalation.private import PrivateLinks
    from nlu.engine import TriageEngine

    keys = settings.encryption_key_spec()
    engine = TriageEngine(settings.engine_config())
    with redis_url(settings) as url:
        redis = open_redis(url)
        handover = Handover(
            CaseStore(
                redis,
                Cipher.from_spec(keys),
                lease_s=settings.claim_lease_s,
                sla=sla_targets(settings),
            ),
            PrivateLinks(
                redis,
                ttl_s=settings.private_link_ttl_s,
                guesses_per_min=settings.private_link_guesses_per_min,
            ),
            settings.public_base_url.rstrip("/"),
        )
        # Connections open lazily, on Sanic's own event loop.
        app: Any = create_action_server(engine, handover)
        app.run(host=settings.host, port=port, single_process=True, access_log=False)
    return 0
