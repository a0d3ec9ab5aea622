"""Secrets at rest (repository tokens, hook secrets): Fernet from `cryptography` (AES-128-CBC with an
HMAC-SHA256 tag, timestamped) under a key ring. The first key encrypts; every key decrypts, so a key is
rotated by putting the new one first in ENCRYPTION_KEYS and keeping the old one until rows are rewritten.
Without ENCRYPTION_KEYS the key is derived from SECRET_KEY (HKDF-SHA256)."""
from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"conveyor secrets at rest v1"


class SecretUnreadable(ValueError):
    """A stored secret that no key of the ring decrypts (the key it was written with is gone) or that was
    altered."""


def derived_key(secret_key: str) -> str:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode())
    return base64.urlsafe_b64encode(raw).decode()


def valid_key(key: str) -> bool:
    try:
        Fernet(key.encode())
    except ValueError:
        return False
    return True


class KeyRing:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable("a stored secret cannot be decrypted with the configured keys") from None


def key_ring(secret_key: str, keys: tuple[str, ...]) -> KeyRing:
    return KeyRing(list(keys) or [derived_key(secret_key)])
