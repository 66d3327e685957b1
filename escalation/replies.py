"""Redis replies as Python values: redis-py types them `bytes | str`; our clients get bytes."""

from __future__ import annotations


def as_text(value: bytes | str) -> str:
    """A reply as text (UTF-8)."""
    return value.decode() if isinstance(value, bytes) else value


def as_bytes(value: bytes | str) -> bytes:
    """A reply as bytes."""
    return value if isinstance(value, bytes) else value.encode()
