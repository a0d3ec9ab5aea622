"""The outbox: a message written in the same transaction as the work it starts.

A row is sent after commit and again by the sweeper whenever it is due and no message is believed
to be in flight (its lease has run out). So a crash between "row written" and "message sent", or a
lost message, delays the work but never drops it. Actors that use it must be idempotent.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import peewee

from models.db import BaseModel, JSONField, utc_naive

STATUSES = ("pending", "done", "failed")


class OutboxMessage(BaseModel):
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
    def _unleased(cls, now: datetime) -> peewee.Expression:
        return (cls.status == "pending") & (cls.available_at <= now) & (
            cls.lease_until.is_null() | (cls.lease_until <= now))

    @classmethod
    def due(cls, now: datetime, limit: int = 500) -> list[OutboxMessage]:
        return list(cls.select().where(cls._unleased(now)).order_by(cls.available_at).limit(limit))

    @classmethod
    def claim(cls, message_id: int, lease: timedelta, now: datetime | None = None) -> bool:
        """Take the lease for sending; only one sweeper or sender wins a due row."""
        now = now or utc_naive()
        query = cls.update(lease_until=now + lease).where((cls.id == message_id) & cls._unleased(now))
        return bool(query.execute())

    @classmethod
    def release(cls, message_id: int) -> None:
        cls.update(lease_until=None).where((cls.id == message_id) & (cls.status == "pending")).execute()

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
