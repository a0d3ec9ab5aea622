"""Domain events (`build.completed`, ...), recorded when emitted; webhooks deliver them."""
from __future__ import annotations

import peewee

from models.db import BaseModel, JSONField, utc_naive


class Event(BaseModel):
    id = peewee.AutoField()
    type = peewee.CharField(max_length=64, index=True)
    data = JSONField(default=dict)
    # Whose event it is (a build's owner; the publisher): it goes to their endpoints and admins'.
    # None for platform-wide events, which go to every subscribed endpoint.
    owner_id = peewee.IntegerField(null=True)
    created_at = peewee.DateTimeField(default=utc_naive, index=True)
