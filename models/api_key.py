"""API keys: long-lived credentials for services and scripts, each with the scopes its owner gave it.

Only a SHA-256 digest of a key is stored (the key is 256 random bits, so a slow hash would add nothing),
with a short visible prefix to recognise it by and to find its row. The owner's current role bounds what
a key can do whatever its scopes say (`api.auth.api_keys`)."""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import peewee

from models.db import BaseModel, JSONField, db, is_postgres, utc_naive
from models.user import User


@functools.lru_cache(maxsize=8)
def _prefix_sql(database: int, postgres: bool) -> str:
    """`SELECT api_key.*, user.* ... WHERE prefix = ?` as this database spells it (the key names the database):
    every request with a key makes it, and peewee would build its SQL anew each time, most of what it costs."""
    sql, _ = ApiKey.select(ApiKey, User).join(User).where(ApiKey.prefix == "").sql()
    return str(sql)


def _read(model: type[Any], values: list[Any]) -> Any:
    row = model(__no_default__=1, **{f.name: f.python_value(v)
                                     for f, v in zip(model._meta.sorted_fields, values, strict=True)})
    row._dirty.clear()  # read, not changed: nothing to save
    return row


class ApiKey(BaseModel):
    id = peewee.AutoField()
    owner = peewee.ForeignKeyField(User, backref="api_keys", on_delete="CASCADE")
    owner_id: int
    name = peewee.CharField(max_length=100)
    scopes = JSONField()  # permission names (api.auth.permissions), sorted
    prefix = peewee.CharField(max_length=16, index=True)  # `cvk_` and the key's first characters
    key_hash = peewee.CharField(max_length=64, unique=True)  # hex SHA-256 of the whole key
    # Requests per hour; None: RATE_LIMIT_API_KEY. Only admins set it.
    rate_limit = peewee.IntegerField(null=True)
    created_at = peewee.DateTimeField(default=utc_naive)
    expires_at = peewee.DateTimeField(null=True)
    revoked_at = peewee.DateTimeField(null=True)
    # Written by the usage flush (domain.api_keys.flush_usage), not by requests: see `pending_use` there.
    last_used_at = peewee.DateTimeField(null=True)

    def status(self, now: datetime) -> str:
        """`revoked`, `expired` or `active` (the owner is checked apart)."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at is not None and self.expires_at <= now else "active"

    @classmethod
    def with_prefix(cls, prefix: str) -> list[ApiKey]:
        """The keys (with their owners, in the same query) whose visible prefix is `prefix`."""
        width, found = len(cls._meta.sorted_fields), []
        for row in db.execute_sql(_prefix_sql(id(db.obj), is_postgres()), (prefix,)).fetchall():
            key, owner = _read(cls, list(row[:width])), _read(User, list(row[width:]))
            key.owner = owner
            key._dirty.clear()
            found.append(key)
        return found
