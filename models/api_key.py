"""API keys: long-lived credentials for services and scripts, each with the scopes its owner gave it.

Only a SHA-256 digest of a key is stored (the key is 256 random bits, so a slow hash would add nothing),
with a short visible prefix to recognise it by and to find its row. The owner's current role bounds what
a key can do whatever its scopes say (`api.auth.api_keys`)."""
from __future__ import annotations

from datetime import datetime

import peewee

from models.db import BaseModel, JSONField, utc_naive
from models.user import User


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

    def usable(self, now: datetime) -> bool:
        """Neither revoked nor expired (the owner is checked apart)."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @classmethod
    def with_prefix(cls, prefix: str) -> list[ApiKey]:
        """The keys (with their owners, in the same query) whose visible prefix is `prefix`."""
        return list(cls.select(cls, User).join(User).where(cls.prefix == prefix))
