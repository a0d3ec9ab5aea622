"""The outbox lease, shared by every table whose rows are sent as messages (`OutboxMessage`, `Delivery`).

A row is due when its due time has passed, its status is still open, and no message for it is believed in
flight: `lease_until` is empty or has run out. Sending a message takes the lease (one sender wins a due row);
a send that fails gives it back, so the row is due again at the next sweep instead of after the lease.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

import peewee

from models.db import utc_naive


class Leased:
    """Mixed into a model with `lease_until`; the model names its due-time field and its statuses."""

    DUE_FIELD: ClassVar[str]
    OPEN: ClassVar[tuple[str, ...]]  # statuses that may still be sent
    RELEASABLE: ClassVar[tuple[str, ...]]  # statuses whose lease a failed send gives back

    @classmethod
    def sendable(cls, now: datetime) -> peewee.Expression:
        model: Any = cls
        return (model.status << cls.OPEN) & (getattr(model, cls.DUE_FIELD) <= now) & (
            model.lease_until.is_null() | (model.lease_until <= now))

    @classmethod
    def due_ids(cls, now: datetime, limit: int = 500) -> list[Any]:
        model: Any = cls
        query = model.select(model._meta.primary_key).where(cls.sendable(now)).order_by(
            getattr(model, cls.DUE_FIELD)).limit(limit)
        return [row.get_id() for row in query]

    @classmethod
    def claim_fields(cls) -> dict[str, Any]:
        """What else taking the lease sets (a model may reset a status left by a dead attempt)."""
        return {}

    @classmethod
    def claim(cls, row_id: Any, lease: timedelta, now: datetime | None = None) -> bool:
        """Take the lease for sending a message; only one sender wins a due row."""
        model: Any = cls
        now = now or utc_naive()
        query = model.update(lease_until=now + lease, **cls.claim_fields()).where(
            (model._meta.primary_key == row_id) & cls.sendable(now))
        return bool(query.execute())

    @classmethod
    def release(cls, row_id: Any) -> None:
        """Drop the lease of a message that could not be sent."""
        model: Any = cls
        model.update(lease_until=None).where(
            (model._meta.primary_key == row_id) & (model.status << cls.RELEASABLE)).execute()
