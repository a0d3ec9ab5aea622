"""Webhook endpoints: where events are POSTed, how deliveries to them are retried and limited."""
from __future__ import annotations

from fnmatch import fnmatchcase

import peewee

from models.db import BaseModel, JSONField, utc_naive
from models.user import User


class WebhookEndpoint(BaseModel):
    id = peewee.AutoField()
    name = peewee.CharField(max_length=100)
    url = peewee.CharField(max_length=2048)
    description = peewee.TextField(null=True)
    is_active = peewee.BooleanField(default=True)
    events = JSONField(default=lambda: ["*"])
    # Kept so it can sign (not hashed), and never returned after creation.
    secret = peewee.CharField(max_length=128)
    max_retries = peewee.IntegerField(default=5)
    backoff_base = peewee.FloatField(default=2.0)
    max_backoff = peewee.IntegerField(default=3600)
    timeout_seconds = peewee.IntegerField(default=30)
    ssl_verify = peewee.BooleanField(default=True)
    rate_limit_per_hour = peewee.IntegerField(default=1000)
    last_used_at = peewee.DateTimeField(null=True)
    failure_count = peewee.IntegerField(default=0)  # deliveries that went dead
    # Set by the first failed attempt after a success; an endpoint failing for long enough is disabled.
    failing_since = peewee.DateTimeField(null=True)
    created_by = peewee.ForeignKeyField(User, backref="webhooks", on_delete="CASCADE")
    created_by_id: int
    created_at = peewee.DateTimeField(default=utc_naive)
    updated_at = peewee.DateTimeField(default=utc_naive)

    def subscribes_to(self, event_type: str) -> bool:
        """Patterns like `build.*` or `*`; an endpoint with no patterns gets everything."""
        return not self.events or any(fnmatchcase(event_type, pattern) for pattern in self.events)
