"""Durable intake: a platform message is recorded, encrypted, before its webhook is answered.

Dedupe and receipt are one atomic Lua step: a message is either seen-and-queued or
neither, so a crash between the two can neither lose it nor drop a redelivery.
"""

from __future__ import annotations

from redis.asyncio import Redis

from bot.connectors.base import InboundMessage
from escalation import keys
from escalation.crypto import Cipher

# KEYS: seen key of this version, inbox stream, seen key of the text's version.
# ARGV: ttl, platform, dedupe id, encrypted payload.
_RECORD = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  if KEYS[3] ~= KEYS[1] then redis.call('SET', KEYS[3], '1', 'EX', ARGV[1]) end
  return redis.call('XADD', KEYS[2], '*', 'platform', ARGV[2], 'id', ARGV[3], 'payload', ARGV[4])
end
return false
"""
_VERSION = b"triagebot message version"


def payload_context(platform: str, message_id: str) -> bytes:
    """What the ciphertext of a receipt is bound to: it cannot be replayed as another."""
    return f"inbox:{platform}:{message_id}".encode()


async def record(redis: Redis, cipher: Cipher, message: InboundMessage) -> bool:
    """Queue a message for triage once; False when this platform id (for an edit: this id
    with this text) was already recorded."""
    # Keyed, so that the key name says nothing about the text; an original marks its text's
    # version too, so an edit that leaves the text as it was is no news.
    version = cipher.mac(message.text.encode(), _VERSION)
    of_text = message.model_copy(update={"version": version})
    if message.edited:
        message = of_text
    payload = cipher.encrypt(
        message.model_dump_json().encode(), payload_context(message.platform, message.dedupe_id)
    )
    entry = await redis.eval(
        _RECORD,
        3,
        keys.seen(message.platform, message.dedupe_id),
        keys.INBOX,
        keys.seen(message.platform, of_text.dedupe_id),
        keys.DEDUPE_TTL_S,
        message.platform,
        message.dedupe_id,
        payload,
    )
    return entry is not None


def open_payload(cipher: Cipher, platform: str, message_id: str, blob: bytes) -> InboundMessage:
    """The message a receipt holds."""
    plain = cipher.decrypt(blob, payload_context(platform, message_id))
    return InboundMessage.model_validate_json(plain)
