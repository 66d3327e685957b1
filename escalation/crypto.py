"""Encryption at rest for message content: AES-256-GCM with a key id in every ciphertext.

Keys are given as `kid:base64key[,kid:base64key…]`; the first one encrypts, all of them
decrypt, so keys rotate by putting a new one first and dropping the old one once nothing
encrypted with it is left.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_MAGIC = b"tb1"
_NONCE = 12
_KEY_BYTES = 32


class CryptoError(ValueError):
    """A key specification or a ciphertext is invalid (the message never holds secrets)."""


class ForeignKeyError(CryptoError):
    """A ciphertext sealed with a key not held here, or one of the same id with other bytes:
    another process sharing the Redis may hold it (or it was altered)."""


class Cipher:
    """Encrypts with the active key; decrypts with whichever key id the ciphertext names."""

    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        if active not in keys:
            raise CryptoError("the active key id is not among the keys")
        for kid, key in keys.items():
            if not kid or len(kid) > 32 or not kid.isascii() or ":" in kid or "," in kid:
                raise CryptoError("key ids are 1-32 ASCII characters without ':' or ','")
            if len(key) != _KEY_BYTES:
                raise CryptoError(f"key {kid!r} must be {_KEY_BYTES} bytes")
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}
        self._keys = dict(keys)
        self.active = active

    def __repr__(self) -> str:
        return f"Cipher(active={self.active!r}, keys={sorted(self._aead)!r})"

    @classmethod
    def from_spec(cls, spec: str) -> Cipher:
        """Parse `kid:base64key,kid:base64key`; the first key is the active one."""
        keys: dict[str, bytes] = {}
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            kid, sep, encoded = part.partition(":")
            if not sep:
                raise CryptoError("each key must look like kid:base64key")
            try:
                keys[kid] = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except (binascii.Error, ValueError):
                raise CryptoError(f"key {kid!r} is not valid base64") from None
        if not keys:
            raise CryptoError("no encryption key given")
        return cls(keys, next(iter(keys)))

    def encrypt(self, plaintext: bytes, context: bytes = b"") -> bytes:
        """Ciphertext naming its key; `context` (e.g. a key name) is authenticated too."""
        nonce = os.urandom(_NONCE)
        kid = self.active.encode()
        sealed = self._aead[self.active].encrypt(nonce, plaintext, _MAGIC + kid + context)
        return _MAGIC + bytes([len(kid)]) + kid + nonce + sealed

    def fingerprint(self, value: bytes) -> str:
        """A keyed digest (HMAC-SHA256) to look a value up without storing it.

        Keyed by the active key, so it changes when the keys rotate: lookups made
        through it (a person's earlier case) start afresh after a rotation.
        """
        return hmac.new(self._derived(b"triagebot fingerprint"), value, "sha256").hexdigest()

    @property
    def key_ids(self) -> frozenset[str]:
        """The ids of every key held (the active one included)."""
        return frozenset(self._keys)

    def mac(self, value: bytes, purpose: bytes, kid: str | None = None) -> str:
        """HMAC-SHA256 of `value` under a key derived for `purpose` from key `kid` (default:
        the active one), 32 hex digits. KeyError for a key id not held."""
        return hmac.new(self._derived(purpose, kid), value, "sha256").hexdigest()[:32]

    def _derived(self, purpose: bytes, kid: str | None = None) -> bytes:
        """A key for one purpose only, from key `kid` (default: the active one)."""
        return hmac.new(self._keys[kid or self.active], purpose, "sha256").digest()

    def decrypt(self, blob: bytes, context: bytes = b"") -> bytes:
        """Plaintext of a ciphertext made by `encrypt` with the same context."""
        if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + 1:
            raise CryptoError("not a triagebot ciphertext")
        size = blob[len(_MAGIC)]
        start = len(_MAGIC) + 1
        kid = blob[start : start + size]
        nonce = blob[start + size : start + size + _NONCE]
        aead = self._aead.get(kid.decode("ascii", "replace"))
        if aead is None:
            raise ForeignKeyError("ciphertext was made with an unknown key")
        try:
            return aead.decrypt(nonce, blob[start + size + _NONCE :], _MAGIC + kid + context)
        except InvalidTag:
            raise ForeignKeyError("ciphertext failed authentication") from None


def new_key_spec(kid: str = "k1") -> str:
    """A fresh random key in the settings format."""
    return f"{kid}:{base64.urlsafe_b64encode(secrets.token_bytes(_KEY_BYTES)).decode()}"


def load_or_create_key_file(path: Path) -> str:
    """The key spec kept in `path`, created (mode 0600) on first use for a single-host install."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(new_key_spec() + "\n")
    return path.read_text().strip()
