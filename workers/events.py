"""Domain events: one function emits them all (`build.completed`, `analysis.failed`, ...)."""
from __future__ import annotations

import logging
from typing import Any

from models.event import Event

log = logging.getLogger(__name__)

EVENT_TYPES = (
    "build.started", "build.completed", "build.failed", "build.cancelled",
    "analysis.completed", "analysis.failed",
    "alert.created", "alert.resolved", "pipeline.started", "pipeline.completed", "pipeline.failed",
    "deployment.started", "deployment.completed", "webhook.test",
)


def emit(event_type: str, data: dict[str, Any]) -> Event:
    """Record an event; call inside the transaction that made it true. Webhook delivery hooks in here."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    event = Event.create(type=event_type, data=data)
    log.info("event", extra={"event_type": event_type, "event_id": event.id})
    return event
