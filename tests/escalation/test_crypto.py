"""AES-GCM at rest: round trips, key ids for rotation, tampering and bad specs refused."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from escalation.crypto import Cipher, CryptoError, load_or_create_key_file, new_key_spec


def test_round_trip_does_not_contain_the_plaintext() -> None:
    cipher = Cipher.from_spec(new_key_spec("a"))
    blob = cipher.encrypt(b"Harold Finch 123-45-6789", b"ctx")
    assert b"Harold" not in blob
    assert cipher.decrypt(blob, b"ctx") == b"Harold Finch 123-45-6789"


def test_rotation_reads_old_ciphertexts_and_writes_with_the_new_key() -> None:
    old, new = new_key_spec("old"), new_key_spec("new")
    before = Cipher.from_spec(old).encrypt(b"secret")
    rotated = Cipher.from_spec(f"{new},{old}")
    assert rotated.decrypt(before) == b"secret"
    assert rotated.active == "new"
    with pytest.raises(CryptoError, match="unknown key"):
        Cipher.from_spec(old).decrypt(rotated.encrypt(b"x"))


def test_tampering_or_another_context_is_refused() -> None:
    cipher = Cipher.from_spec(new_key_spec())
    blob = bytearray(cipher.encrypt(b"secret", b"key-1"))
    with pytest.raises(CryptoError, match="authentication"):
        cipher.decrypt(bytes(blob), b"key-2")
    blob[-1] ^= 1
    with pytest.raises(CryptoError, match="authentication"):
        cipher.decrypt(bytes(blob), b"key-1")


@pytest.mark.parametrize(
    "spec",
    ["", "nokey", "k1:!!!", f"k1:{base64.urlsafe_b64encode(b'short').decode()}"],
)
def test_bad_key_specs_are_refused_without_echoing_them(spec: str) -> None:
    with pytest.raises(CryptoError) as caught:
        Cipher.from_spec(spec)
    assert "!!!" not in str(caught.value)


def test_repr_names_key_ids_only() -> None:
    spec = new_key_spec("k9")
    assert spec.split(":", 1)[1] not in repr(Cipher.from_spec(spec))


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "triage.keys"
    first = load_or_create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key_file(path) == first
    assert Cipher.from_spec(first).active == "k1"
