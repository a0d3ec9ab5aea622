"""The audit log: who did what, when and from where (seed 002). Rows are only ever added, and deleted once past
their retention (AUDIT_RETENTION_DAYS); what writes them is `domain.audit.record`."""
from __future__ import annotations

from datetime import datetime

import peewee

from models.db import BaseModel, JSONField, utc_naive


class AuditEntry(BaseModel):
    id = peewee.AutoField()
    at = peewee.DateTimeField(default=utc_naive, index=True)
    # No foreign key: an entry outlives its actor (`user.delete` names the user it deleted, and who did it).
    actor_id = peewee.IntegerField(null=True, index=True)
    actor_label = peewee.CharField(max_length=64, null=True)  # the username, or the one a failed login tried
    action = peewee.CharField(max_length=64, index=True)
    target_type = peewee.CharField(max_length=32, null=True)
    target_id = peewee.CharField(max_length=64, null=True)
    remote_addr = peewee.CharField(max_length=64, null=True)
    user_agent = peewee.CharField(max_length=256, null=True)
    details = JSONField(default=dict)

    @classmethod
    def prune(cls, before: datetime) -> int:
        """Delete the entries older than `before`; how many went."""
        return int(cls.delete().where(cls.at < before).execute())
