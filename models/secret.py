"""A text column kept encrypted at rest (`core.crypto`): the process sets its key ring at start-up
(`use_key_ring`, from `workers.setup.configure`); rows read back as plain text in Python."""
from __future__ import annotations

from typing import Any

import peewee

from core.crypto import KeyRing

PREFIX = "fernet:"
_ring: list[KeyRing] = []  # the process's ring, set once at start-up


def use_key_ring(ring: KeyRing) -> None:
    _ring[:] = [ring]


def _key_ring() -> KeyRing:
    if not _ring:
        raise RuntimeError("no key ring: workers.setup.configure() sets it when a process starts")
    return _ring[0]


class EncryptedField(peewee.TextField):
    def db_value(self, value: Any) -> str | None:
        return None if value is None else PREFIX + _key_ring().encrypt(str(value))

    def python_value(self, value: Any) -> str | None:
        if value is None:
            return None
        if not str(value).startswith(PREFIX):
            raise ValueError("an encrypted column holds a value that was not encrypted")
        return _key_ring().decrypt(str(value)[len(PREFIX):])
