"""Get deliveries sent: rows written with their event, messages sent after commit, again by the sweeper.

The rows are an outbox (`domain.outbox`, with its lease). If Redis is down when an event is emitted, its
deliveries simply stay due; `sweep()` (the `sweep_outbox` job) sends every due delivery with no message in flight.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

import dramatiq

from domain.outbox import SEND_LEASE, send_each, send_leased
from models.db import utc_naive
from models.delivery import Delivery, new_delivery_id
from models.event import Event
from models.user import User
from models.webhook import WebhookEndpoint

log = logging.getLogger(__name__)
# The actor a delivery row is sent to (`workers.webhooks.deliver_webhook`): the domain imports no actor, and a
# row, like an outbox row, names the actor its message goes to.
DELIVER_ACTOR = "deliver_webhook"


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


def send(broker: dramatiq.Broker, delivery_id: str, delay: timedelta | None = None) -> bool:
    """Send a message for a due, unleased delivery. Raises when the broker is unreachable."""
    return send_leased(Delivery, delivery_id, lambda: schedule(broker, delivery_id, delay),
                       SEND_LEASE + (delay or timedelta(0)))


def schedule(broker: dramatiq.Broker, delivery_id: str, delay: timedelta | None = None) -> None:
    """Send the message for a row whose lease the caller already holds."""
    millis = int(delay.total_seconds() * 1000) if delay else None
    broker.get_actor(DELIVER_ACTOR).send_with_options(args=(delivery_id,), delay=millis)


def publish(broker: dramatiq.Broker, delivery_ids: Iterable[str]) -> int:
    """After commit: send what was just written. A broker outage leaves the rows to the sweeper."""
    return send_each(delivery_ids, lambda delivery_id: send(broker, delivery_id), "deliveries")


def sweep(broker: dramatiq.Broker, limit: int = 500) -> dict[str, int]:
    """Send every due delivery with no message in flight (lost messages, crashed workers, outages)."""
    due = Delivery.due_ids(utc_naive(), limit)
    return {"deliveries_sent": publish(broker, due), "deliveries_due": len(due)}
