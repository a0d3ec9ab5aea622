"""Get deliveries sent: rows written with their event, messages sent after commit, again by the sweeper.

The rows are the outbox. If Redis is down when an event is emitted, its deliveries simply stay due;
`sweep()` (the `sweep_outbox` job) sends every due delivery that has no message in flight.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

import dramatiq
import redis

from models.db import utc_naive
from models.delivery import Delivery, new_delivery_id
from models.event import Event
from models.user import User
from models.webhook import WebhookEndpoint

log = logging.getLogger(__name__)
ACTOR = "deliver_webhook"
# How long a sent message is believed in flight before the sweeper sends another.
SEND_LEASE = timedelta(minutes=2)
BROKER_ERRORS = (redis.RedisError, dramatiq.errors.BrokerConnectionError)


def audience(owner_id: int | None, include_admins: bool) -> Iterable[WebhookEndpoint]:
    """Active endpoints that may see an event: everyone's for a platform-wide one, else the owner's
    (and admins', for events the platform itself raised about the owner's work)."""
    query = WebhookEndpoint.select().where(WebhookEndpoint.is_active == True)  # noqa: E712
    if owner_id is None:
        return query
    owners = WebhookEndpoint.created_by == owner_id
    if include_admins:
        admins = User.select(User.id).where(User.role == "admin")
        owners = owners | (WebhookEndpoint.created_by << admins)
    return query.where(owners)


def fan_out(event: Event, endpoints: Iterable[WebhookEndpoint]) -> list[str]:
    """One delivery row per endpoint; call in the event's transaction."""
    targets = [endpoint.id for endpoint in endpoints]
    ids = [new_delivery_id() for _ in targets]
    if ids:
        Delivery.insert_many([{"id": delivery_id, "endpoint": endpoint_id, "event": event.id,
                               "event_type": event.type} for delivery_id, endpoint_id in zip(ids, targets, strict=True)
                              ]).execute()
    return ids


def send(delivery_id: str, delay: timedelta | None = None) -> bool:
    """Send a message for a due, unleased delivery. Raises when the broker is unreachable."""
    if not Delivery.claim_send(delivery_id, SEND_LEASE + (delay or timedelta(0))):
        return False
    try:
        schedule(delivery_id, delay)
    except BROKER_ERRORS:
        Delivery.release(delivery_id)  # nothing is in flight: due again for the next sweep, not after the lease
        raise
    return True


def schedule(delivery_id: str, delay: timedelta | None = None) -> None:
    """Send the message for a row whose lease the caller already holds."""
    millis = int(delay.total_seconds() * 1000) if delay else None
    dramatiq.get_broker().get_actor(ACTOR).send_with_options(args=(delivery_id,), delay=millis)


def publish(delivery_ids: Iterable[str]) -> int:
    """After commit: send what was just written. A broker outage leaves the rows to the sweeper."""
    sent = 0
    for delivery_id in delivery_ids:
        try:
            sent += send(delivery_id)
        except BROKER_ERRORS:
            log.warning("broker unreachable; deliveries stay due for the sweeper", exc_info=True)
            break
    return sent


def sweep(limit: int = 500) -> dict[str, int]:
    """Send every due delivery with no message in flight (lost messages, crashed workers, outages)."""
    due = Delivery.due(utc_naive(), limit)
    sent = publish(due)
    return {"deliveries_sent": sent, "deliveries_due": len(due)}
