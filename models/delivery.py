"""Webhook deliveries: one row per (event, endpoint), which is also that delivery's outbox entry.

A delivery is due when `next_attempt_at` has passed and no message for it is in flight (`lease_until`
has run out). Sending a message takes the lease; an attempt takes the row (`delivering`) for the
endpoint's timeout plus a grace. So a lost message, or a worker killed mid-attempt, only delays the
delivery until the sweeper sends it again. The id is the `webhook-id` receivers deduplicate on.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import peewee

from models.db import BaseModel, db, utc_naive
from models.event import Event
from models.lease import Leased
from models.webhook import WebhookEndpoint

STATUSES = ("pending", "delivering", "succeeded", "failed", "dead")
OPEN = ("pending", "delivering", "failed")
REDELIVERABLE = ("succeeded", "dead", "failed")
# A delayed message may be handed over a moment before its due time (clocks of different hosts).
EARLY_SLACK = timedelta(seconds=2)


def new_delivery_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class Delivery(Leased, BaseModel):
    DUE_FIELD, OPEN, RELEASABLE = "next_attempt_at", OPEN, ("pending", "failed")

    id = peewee.CharField(primary_key=True, max_length=40, default=new_delivery_id)
    endpoint = peewee.ForeignKeyField(WebhookEndpoint, backref="deliveries", on_delete="CASCADE")
    event = peewee.ForeignKeyField(Event, backref="deliveries", on_delete="CASCADE")
    event_type = peewee.CharField(max_length=64)
    status = peewee.CharField(max_length=16, default="pending", index=True)
    attempt_count = peewee.IntegerField(default=0)
    # Attempts since creation or the last redelivery: what max_retries bounds.
    round_attempts = peewee.IntegerField(default=0)
    next_attempt_at = peewee.DateTimeField(default=utc_naive, index=True)
    lease_until = peewee.DateTimeField(null=True)
    last_error = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utc_naive)
    updated_at = peewee.DateTimeField(default=utc_naive)
    delivered_at = peewee.DateTimeField(null=True)

    @classmethod
    def with_endpoint_and_event(cls, delivery_id: str) -> Delivery | None:
        """The row with its endpoint and event, in one query whose SQL is built once per database: peewee
        takes longer to write this three-table SELECT than the database takes to run it."""
        sql, fields = _joined_select(id(db.obj))
        row = db.execute_sql(sql, (delivery_id,)).fetchone()
        if row is None:
            return None
        values: dict[type[BaseModel], dict[str, Any]] = {Delivery: {}, WebhookEndpoint: {}, Event: {}}
        for field, value in zip(fields, row, strict=True):
            values[field.model][field.name] = field.python_value(value)
        delivery = Delivery(**values[Delivery])
        delivery.endpoint, delivery.event = WebhookEndpoint(**values[WebhookEndpoint]), Event(**values[Event])
        return delivery

    @classmethod
    def claim_fields(cls) -> dict[str, Any]:
        # A row left `delivering` by a worker that died mid-attempt goes back to `pending` for the next one.
        return {"status": peewee.Case(None, [(cls.status == "delivering", "pending")], cls.status)}

    @classmethod
    def begin_attempt(cls, delivery_id: str, hold: timedelta) -> bool:
        """Take the row for one HTTP attempt. False for a duplicate message, a final row or one not yet due."""
        now = utc_naive()
        takeable = (cls.status << ("pending", "failed")) | ((cls.status == "delivering") & (cls.lease_until <= now))
        query = cls.update(status="delivering", lease_until=now + hold, updated_at=now).where(
            (cls.id == delivery_id) & takeable & (cls.next_attempt_at <= now + EARLY_SLACK))
        return bool(query.execute())

    @classmethod
    def defer(cls, delivery_id: str, until: datetime, lease: timedelta, error: str | None = None) -> None:
        """Give the row back without an attempt (rate limited): due again at `until`."""
        cls.update(status="pending", next_attempt_at=until, lease_until=until + lease, last_error=error,
                   updated_at=utc_naive()).where((cls.id == delivery_id) & (cls.status == "delivering")).execute()

    @classmethod
    def redeliver(cls, delivery_id: str) -> bool:
        """Start a new round for a finished delivery, or retry a failed one now; False while one is in progress."""
        now = utc_naive()
        query = cls.update(status="pending", round_attempts=0, next_attempt_at=now, lease_until=None,
                           updated_at=now).where((cls.id == delivery_id) & (cls.status << REDELIVERABLE))
        return bool(query.execute())


@lru_cache(maxsize=4)
def _joined_select(database_id: int) -> tuple[str, list[peewee.Field]]:
    fields = [*Delivery._meta.sorted_fields, *WebhookEndpoint._meta.sorted_fields, *Event._meta.sorted_fields]
    query = Delivery.select(*fields).join(WebhookEndpoint).switch(Delivery).join(Event).where(Delivery.id == "")
    return query.sql()[0], fields


class DeliveryAttempt(BaseModel):
    id = peewee.AutoField()
    delivery = peewee.ForeignKeyField(Delivery, backref="attempts", on_delete="CASCADE")
    n = peewee.IntegerField()
    at = peewee.DateTimeField(default=utc_naive)
    status_code = peewee.IntegerField(null=True)
    duration_ms = peewee.IntegerField()
    error = peewee.TextField(null=True)
    response_excerpt = peewee.TextField(null=True)

    class Meta:
        indexes = ((("delivery", "n"), True),)
