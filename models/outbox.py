"""The outbox: a message written in the same transaction as the work it starts.

A row is sent after commit and again by the sweeper whenever it is due and no message is believed
to be in flight (its lease has run out). So a crash between "row written" and "message sent", or a
lost message, delays the work but never drops it. Actors that use it must be idempotent.
"""
from __future__ import annotations

from datetime import timedelta

import peewee

from models.db import BaseModel, JSONField, utc_naive
from models.lease import Leased

STATUSES = ("pending", "done", "failed")


class OutboxMessage(Leased, BaseModel):
    DUE_FIELD, OPEN, RELEASABLE = "available_at", ("pending",), ("pending",)

    id = peewee.AutoField()
    actor_name = peewee.CharField(max_length=128)
    args = JSONField(default=list)
    status = peewee.CharField(max_length=16, default="pending", index=True)
    attempts = peewee.IntegerField(default=0)
    max_attempts = peewee.IntegerField(default=5)
    available_at = peewee.DateTimeField(default=utc_naive, index=True)
    lease_until = peewee.DateTimeField(null=True)
    last_error = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utc_naive)
    finished_at = peewee.DateTimeField(null=True)

    @classmethod
    def extend_lease(cls, message_id: int, lease: timedelta) -> None:
        cls.update(lease_until=utc_naive() + lease).where(
            (cls.id == message_id) & (cls.status == "pending")).execute()

    @classmethod
    def mark_done(cls, message_id: int) -> None:
        cls.update(status="done", finished_at=utc_naive(), lease_until=None).where(
            (cls.id == message_id) & (cls.status == "pending")).execute()

    @classmethod
    def mark_failed(cls, message_id: int) -> None:
        cls.update(status="failed", finished_at=utc_naive(), lease_until=None).where(
            (cls.id == message_id) & (cls.status == "pending")).execute()

    @classmethod
    def record_failure(cls, message_id: int, error: str, retry_in: timedelta) -> None:
        """Count a failed attempt: due again after `retry_in`, or failed for good at the limit."""
        now = utc_naive()
        failed = cls.attempts + 1 >= cls.max_attempts
        cls.update(
            attempts=cls.attempts + 1,
            last_error=error[:2000],
            lease_until=None,
            available_at=now + retry_in,
            status=peewee.Case(None, [(failed, "failed")], "pending"),
            finished_at=peewee.Case(None, [(failed, now)], None),
        ).where((cls.id == message_id) & (cls.status == "pending")).execute()
