"""Domain events: one function emits them all (`build.completed`, `analysis.failed`, ...).

`emit()` records the event and a delivery row for each subscribed webhook endpoint in the caller's
transaction; the caller passes the result to `publish()` after commit. A crash in between, or Redis
being down, leaves the rows due for the sweeper: the event is delayed, never lost.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import dramatiq

from domain.webhooks import dispatch
from models.event import Event
from models.webhook import WebhookEndpoint

log = logging.getLogger(__name__)

EVENT_TYPES = (
    "build.started", "build.completed", "build.failed", "build.cancelled",
    "analysis.completed", "analysis.failed",
    "alert.created", "alert.resolved", "pipeline.started", "pipeline.completed", "pipeline.failed",
    "deployment.started", "deployment.completed", "webhook.test",
)
# Types clients may publish through the API besides the platform's: `kind.name`, lower case.
EVENT_TYPE_FORMAT = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")


@dataclass
class Emitted:
    event: Event
    delivery_ids: list[str] = field(default_factory=list)


def emit(event_type: str, data: dict[str, Any], *, owner_id: int | None = None, include_admins: bool = True,
         endpoints: Iterable[WebhookEndpoint] | None = None) -> Emitted:
    """Record an event and its deliveries; call inside the transaction that made it true.

    By default it goes to every subscribed active endpoint that may see it (see `dispatch.audience`);
    `endpoints` names them instead, whatever they subscribe to (a test event)."""
    if not EVENT_TYPE_FORMAT.fullmatch(event_type):
        raise ValueError(f"invalid event type {event_type!r}")
    event = Event.create(type=event_type, data=data, owner_id=owner_id)
    if endpoints is None:
        targets = [e for e in dispatch.audience(owner_id, include_admins) if e.subscribes_to(event_type)]
    else:
        targets = list(endpoints)
    emitted = Emitted(event, dispatch.fan_out(event, targets))
    log.info("event", extra={"event_type": event_type, "event_id": event.id,
                             "deliveries": len(emitted.delivery_ids)})
    return emitted


def publish(broker: dramatiq.Broker, emitted: Emitted | None) -> int:
    """After the emitting transaction commits: send its deliveries (the sweeper covers any failure)."""
    return dispatch.publish(broker, emitted.delivery_ids) if emitted else 0
